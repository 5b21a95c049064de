"""Purging items whose ``expires_at`` (epoch seconds, the table's TTL attribute) has passed."""

from __future__ import annotations

from typing import Any

from molesignal.clock import now_s
from molesignal.storage.table import Table

# Only these kinds of items carry expires_at; nothing tenant-owned is ever purged here.
_PREFIXES = ("REFRESH#", "LOGINFAIL#", "RATE#", "QUOTAHIT#", "LANDED#", "QCACHE#")


def purge_expired(table: Table, *, now: int | None = None) -> int:
    cutoff = now_s() if now is None else now
    deleted = 0
    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "FilterExpression": "expires_at < :now",
        "ExpressionAttributeValues": {":now": {"N": str(cutoff)}},
        "ProjectionExpression": "pk, sk",
    }
    while True:
        page = table.client.scan(**kwargs)
        for raw in page.get("Items", []):
            pk, sk = raw["pk"]["S"], raw["sk"]["S"]
            if pk.startswith(_PREFIXES):
                table.delete(pk, sk)
                deleted += 1
        if "LastEvaluatedKey" not in page:
            return deleted
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
