"""Deliveries that failed every attempt: in the delivery DLQ, listed per org, redriven by admins.

On its last failed attempt (or at once, when retrying cannot help: a refused address) the
delivery worker moves the message to the DLQ itself, tagged with its org and a dead-letter
id, and records it in the org's dead-letter list; a message that crashes the worker every
time reaches the DLQ through the queue's redrive policy instead. A redrive moves the caller's
org's messages (or the chosen ones) back to the delivery queue for a new round of attempts;
other orgs' messages are left where they are. A delivery that did get through is never sent
twice: the worker keeps a marker per notification and destination.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from molesignal import aws
from molesignal.alerts import history
from molesignal.clock import iso, now_s, now_us
from molesignal.platform_events import ALERT_QUEUE
from molesignal.queues import queue_url
from molesignal.resources import RESOURCES
from molesignal.storage import keys
from molesignal.storage.table import Item, Table

DLQ = f"{ALERT_QUEUE}-dlq"
MAX_SCANNED = 10_000
SCAN_VISIBILITY_S = 60


def _dlq_retention_s() -> int:
    return next(q.dlq_retention_s for q in RESOURCES.queues if q.logical == ALERT_QUEUE)


def bury(table: Table, message: dict[str, Any], *, org_id: str, attempts: int, reason: str) -> str:
    """Move one delivery message to the DLQ and list it for its org."""
    dead_id = f"{now_us():016d}-{secrets.token_hex(4)}"
    notification = message.get("notification") or {}
    aws.client("sqs").send_message(
        QueueUrl=queue_url(DLQ),
        MessageBody=orjson.dumps(message).decode(),
        MessageAttributes={
            "org_id": {"DataType": "String", "StringValue": org_id},
            "dead_letter_id": {"DataType": "String", "StringValue": dead_id},
        },
    )
    table.put(
        {
            "pk": keys.alert_dead_letters(org_id),
            "sk": dead_id,
            "kind": "alert_dead_letter",
            "id": dead_id,
            "org_id": org_id,
            "ts_us": now_us(),
            "notification_id": notification.get("id", ""),
            "status": notification.get("status", ""),
            "rule_id": notification.get("source_id", ""),
            "rule_name": notification.get("source_name", ""),
            "destination_id": message.get("destination_id", ""),
            "attempts": attempts,
            "reason": reason[:1000],
            "expires_at": now_s() + _dlq_retention_s(),
        }
    )
    history.record(
        table,
        org_id,
        history.EntryType.DEAD_LETTER,
        source_id=str(notification.get("source_id", "")),
        source_name=str(notification.get("source_name", "")),
        notification_id=str(notification.get("id", "")),
        destination_id=str(message.get("destination_id", "")),
        attempt=attempts,
        outcome="dead_letter",
        detail=reason[:512],
    )
    return dead_id


def public(item: Item) -> dict[str, Any]:
    return {
        "id": item["id"],
        "time": iso(int(item["ts_us"])),
        "ts_us": int(item["ts_us"]),
        "notification_id": item.get("notification_id", ""),
        "status": item.get("status", ""),
        "rule_id": item.get("rule_id", ""),
        "rule_name": item.get("rule_name", ""),
        "destination_id": item.get("destination_id", ""),
        "attempts": int(item.get("attempts", 0)),
        "reason": item.get("reason", ""),
    }


def list_dead(table: Table, org_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, next_cursor = table.query(keys.alert_dead_letters(org_id), limit=limit, cursor=cursor, forward=False)
    return [public(i) for i in items], next_cursor


def depth() -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(DLQ), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def _owner(message: dict[str, Any]) -> tuple[str, str]:
    """(org, dead-letter id) of a DLQ message; a redrive-policy arrival has no id."""
    attributes = message.get("MessageAttributes") or {}
    org = (attributes.get("org_id") or {}).get("StringValue")
    dead_id = (attributes.get("dead_letter_id") or {}).get("StringValue", "")
    if not org:
        try:
            body = orjson.loads(message["Body"])
            org = body.get("org_id") or (body.get("notification") or {}).get("org_id")
        except ValueError:
            org = None
    return str(org or ""), str(dead_id)


def redrive(table: Table, *, org_id: str | None, ids: set[str] | None, actor: str) -> int:
    """Move dead deliveries back to the delivery queue: ``org_id``'s (None: every org's, root),
    and of those only ``ids`` when given. Returns how many moved."""
    sqs = aws.client("sqs")
    source, target = queue_url(DLQ), queue_url(ALERT_QUEUE)
    moved, scanned = 0, 0
    left: list[str] = []
    try:
        while scanned < MAX_SCANNED:
            batch = sqs.receive_message(
                QueueUrl=source,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=SCAN_VISIBILITY_S,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            scanned += len(batch)
            for message in batch:
                owner, dead_id = _owner(message)
                if (org_id is not None and owner != org_id) or (ids is not None and dead_id not in ids):
                    left.append(message["ReceiptHandle"])
                    continue
                # Send first, then delete: a crash in between delivers twice, which the
                # delivered marker absorbs, never zero times.
                sqs.send_message(
                    QueueUrl=target,
                    MessageBody=message["Body"],
                    MessageAttributes={"org_id": {"DataType": "String", "StringValue": owner or "unknown"}},
                )
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                if owner and dead_id:
                    table.delete(keys.alert_dead_letters(owner), dead_id)
                if owner:
                    history.record(
                        table, owner, history.EntryType.REDRIVE, source_id="dlq", reason=f"redriven by {actor}"
                    )
                moved += 1
    finally:
        # What is not ours goes back at once rather than after the scan's visibility timeout.
        for start in range(0, len(left), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(left[start : start + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=source, Entries=entries)
    return moved
