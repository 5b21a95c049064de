"""Per-org quotas and the shared limiter every route family calls.

Rates use one-second fixed windows counted atomically in DynamoDB (``ADD``), so every
concurrent Lambda instance sees the same count. Storage is checked against a usage
counter that the ingest path maintains. Each rejection writes one audit entry per org,
kind and window (not one per refused request), bumps a platform counter and raises a platform
event that alerting turns into an alert for the org's platform destinations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from molesignal import audit, counters, platform_events
from molesignal.errors import RateLimited, StorageQuotaExceeded
from molesignal.observability import logger
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table


class RateKind(StrEnum):
    INGEST = "ingest"
    QUERY = "query"


@dataclass(frozen=True)
class Quota:
    ingest_qps: int
    query_qps: int
    storage_bytes: int

    def limit(self, kind: RateKind) -> int:
        return self.ingest_qps if kind is RateKind.INGEST else self.query_qps

    def to_dict(self) -> dict[str, int]:
        return {"ingest_qps": self.ingest_qps, "query_qps": self.query_qps, "storage_bytes": self.storage_bytes}


def default_quota() -> Quota:
    s = get_settings()
    return Quota(s.default_ingest_qps, s.default_query_qps, s.default_storage_bytes)


# Quotas as this process last read them, for the per-request rate check: a change made
# by another process (root's PUT on the admin function) applies within this many seconds.
QUOTA_MEMO_S = 5.0
_quota_memo: dict[str, tuple[Quota, float]] = {}


def storage_usage_change(table: Table, org_id: str, delta_bytes: int) -> dict[str, Any]:
    """A transaction operation moving the org's stored bytes in the commit that lands or removes them."""
    pk, sk = keys.usage(org_id)
    return {
        "Update": {
            "TableName": table.name,
            "Key": table.marshal({"pk": pk, "sk": sk}),
            "UpdateExpression": "ADD storage_bytes :b",
            "ExpressionAttributeValues": table.marshal({":b": delta_bytes}),
        }
    }


@dataclass
class Limiter:
    table: Table

    def recent_quota(self, org_id: str) -> Quota:
        """The org's quota, read at most ``QUOTA_MEMO_S`` ago by this process."""
        held = _quota_memo.get(org_id)
        now = time.monotonic()
        if held is not None and now - held[1] < QUOTA_MEMO_S:
            return held[0]
        quota = self.quota(org_id)
        if len(_quota_memo) > 4096:
            _quota_memo.clear()
        _quota_memo[org_id] = (quota, now)
        return quota

    def quota(self, org_id: str) -> Quota:
        item = self.table.get(*keys.quota(org_id), consistent=False)
        base = default_quota()
        if not item:
            return base
        return Quota(
            ingest_qps=int(item.get("ingest_qps", base.ingest_qps)),
            query_qps=int(item.get("query_qps", base.query_qps)),
            storage_bytes=int(item.get("storage_bytes", base.storage_bytes)),
        )

    def set_quota(self, org_id: str, quota: Quota) -> Quota:
        pk, sk = keys.quota(org_id)
        self.table.put({"pk": pk, "sk": sk, "kind": "quota", **quota.to_dict()})
        _quota_memo.pop(org_id, None)
        return quota

    def usage(self, org_id: str) -> dict[str, int]:
        item = self.table.get(*keys.usage(org_id), consistent=False) or {}
        return {"storage_bytes": int(item.get("storage_bytes", 0))}

    def add_storage(self, org_id: str, delta_bytes: int) -> None:
        pk, sk = keys.usage(org_id)
        self.table.update(pk, sk, "ADD storage_bytes :d", values={":d": delta_bytes})

    def check_rate(self, org_id: str, kind: RateKind, *, actor: str = "", now: float | None = None) -> None:
        """Count one request in this second's window; refuse past the org's QPS."""
        moment = time.time() if now is None else now
        window = int(moment)
        pk, sk = keys.rate_window(org_id, kind.value, window)
        item = self.table.update(
            pk, sk, "ADD #n :one SET expires_at = :exp", names={"#n": "n"}, values={":one": 1, ":exp": window + 120}
        )
        limit = self.recent_quota(org_id).limit(kind)
        if int(item["n"]) > limit:
            self._reject(org_id, f"{kind.value}_qps", window, actor, {"limit": limit})
            raise RateLimited(
                f"rate limited: {kind.value} quota of {limit} requests per second exceeded",
                retry_after_s=1,
                code=f"{kind.value}_rate_limited",
            )

    def check_storage(self, org_id: str, incoming_bytes: int, *, actor: str = "") -> None:
        limit = self.quota(org_id).storage_bytes
        used = self.usage(org_id)["storage_bytes"]
        if used + incoming_bytes > limit:
            self._reject(org_id, "storage", int(time.time()) // 60, actor, {"limit": limit, "used": used})
            raise StorageQuotaExceeded(
                f"quota exhausted: storage cap of {limit} bytes reached ({used} used)", code="storage_quota_exceeded"
            )

    def _reject(self, org_id: str, kind: str, window: int, actor: str, details: dict[str, Any]) -> None:
        marker: Item = {"pk": f"QUOTAHIT#{org_id}#{kind}", "sk": f"W#{window}", "expires_at": window + 3600}
        try:
            self.table.put(marker, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            return  # already audited for this window
        counters.increment(self.table, f"quota_rejections_{kind}_total")
        audit.record(
            self.table,
            org_id=org_id,
            action="quota.exceeded",
            actor=actor,
            target=kind,
            outcome="rejected",
            details=details,
        )
        logger.warning("quota exceeded", extra={"org_id": org_id, "quota": kind, **details})
        # One alert per org, quota and window, like the audit entry (molesignal.alerts.platform).
        platform_events.quota_exceeded(org_id, kind, window, details)
