"""Deliveries that gave up: where an org's admin sees them, and moving them back for another try.

The messages themselves are in the ``fanout`` queue's DLQ (SQS moves a message there after
its last failed attempt). The DLQ is shared by every org, so each failure the worker saw is
also recorded per org and log stream (``ORG#<org>#LSDEAD`` / ``<log stream>#<first seq>``):
that is what an admin lists, with the receiver's last answer. A redrive moves the log
stream's messages from the DLQ back to the queue (picked by their ``org_id`` and
``log_stream_id`` attributes, others left in place) with a fresh set of attempts; a delivery
that then succeeds removes its record.
"""

from __future__ import annotations

from typing import Any

from molesignal import dlq
from molesignal.clock import iso, now_s, now_us
from molesignal.logstreams.message import QUEUE, FanoutMessage
from molesignal.resources import RESOURCES
from molesignal.storage.table import ConditionFailed, Item, Table

DEAD = "dead"
REDRIVEN = "redriven"


def partition(org_id: str) -> str:
    return f"ORG#{org_id}#LSDEAD"


def sort_key(log_stream_id: str, first_seq: int) -> str:
    return f"{log_stream_id}#{first_seq:020d}"


def _dlq_retention_s() -> int:
    return next(q.dlq_retention_s for q in RESOURCES.queues if q.logical == QUEUE)


def record(table: Table, message: FanoutMessage, *, attempts: int, error: str, status: int | None) -> None:
    table.put(
        {
            "pk": partition(message.org_id),
            "sk": sort_key(message.log_stream_id, message.first_seq),
            "kind": "log_stream_dead_letter",
            "delivery_id": message.delivery_id,
            "log_stream_id": message.log_stream_id,
            "first_seq": message.first_seq,
            "last_seq": message.last_seq,
            "count": message.count,
            "attempts": attempts,
            "error": error[:1024],
            "status_code": status,
            "state": DEAD,
            "failed_at_us": now_us(),
            "expires_at": now_s() + _dlq_retention_s(),  # the DLQ keeps the message as long
        }
    )


def forget(table: Table, message: FanoutMessage) -> None:
    table.delete(partition(message.org_id), sort_key(message.log_stream_id, message.first_seq))


def public(item: Item) -> dict[str, Any]:
    out = {
        "delivery_id": item["delivery_id"],
        "log_stream_id": item["log_stream_id"],
        "first_seq": int(item["first_seq"]),
        "last_seq": int(item["last_seq"]),
        "count": int(item["count"]),
        "attempts": int(item["attempts"]),
        "error": item.get("error"),
        "status_code": int(item["status_code"]) if item.get("status_code") is not None else None,
        "state": item["state"],
        "failed_at": iso(int(item["failed_at_us"])),
    }
    if item.get("redriven_at_us"):
        out["redriven_at"] = iso(int(item["redriven_at_us"]))
    return out


def page(table: Table, org_id: str, log_stream_id: str, *, limit: int, after: str | None) -> tuple[list[Item], bool]:
    """Oldest first; ``after`` is the sort key of the last one already shown."""
    condition = "pk = :pk AND begins_with(sk, :prefix)"
    values: dict[str, Any] = {":pk": {"S": partition(org_id)}, ":prefix": {"S": f"{log_stream_id}#"}}
    kwargs: dict[str, Any] = {}
    if after:
        kwargs["ExclusiveStartKey"] = {"pk": {"S": partition(org_id)}, "sk": {"S": after}}
    response = table.client.query(
        TableName=table.name,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        ConsistentRead=True,
        Limit=limit + 1,
        **kwargs,
    )
    items = [table.unmarshal(raw) for raw in response.get("Items", [])]
    return items[:limit], len(items) > limit


def count(table: Table, org_id: str, log_stream_id: str) -> int:
    response = table.client.query(
        TableName=table.name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": partition(org_id)}, ":prefix": {"S": f"{log_stream_id}#"}},
        Select="COUNT",
        ConsistentRead=True,
    )
    return int(response.get("Count", 0))


def redrive(table: Table, org_id: str, log_stream_id: str, *, limit: int) -> int:
    """Move the log stream's messages from the DLQ back to the fan-out queue."""

    def theirs(message: dict[str, Any]) -> bool:
        attributes = message.get("MessageAttributes") or {}
        return (attributes.get("org_id") or {}).get("StringValue") == org_id and (
            attributes.get("log_stream_id") or {}
        ).get("StringValue") == log_stream_id

    moved = dlq.redrive(QUEUE, limit, theirs)
    if moved:
        moment = now_us()
        for item in table.query_all(partition(org_id), sk_prefix=f"{log_stream_id}#", consistent=True):
            if item.get("state") != DEAD:
                continue
            try:
                table.update(
                    str(item["pk"]),
                    str(item["sk"]),
                    "SET #state = :redriven, redriven_at_us = :now",
                    names={"#state": "state"},
                    values={":redriven": REDRIVEN, ":now": moment, ":dead": DEAD},
                    condition="#state = :dead",
                )
            except ConditionFailed:
                continue
    return moved
