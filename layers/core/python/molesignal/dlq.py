"""Dead-letter queues: how deep one is, and moving its messages back to their queue.

A redrive sends first and deletes after: a crash in between delivers a message twice (every
worker tolerates a repeat), never zero times. ``wanted`` picks which messages move (an org's
own, for a tenant's redrive); the others are released at once for the next look.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from molesignal import aws
from molesignal.settings import get_settings

SCAN_VISIBILITY_S = 60  # long enough to finish one redrive; released at the end
MAX_SCANNED = 5_000


def queue_url(logical: str) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=get_settings().queue_name(logical))["QueueUrl"])


def depth(logical: str) -> dict[str, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(logical),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "messages": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def redrive(queue: str, limit: int, wanted: Callable[[dict[str, Any]], bool] | None = None) -> int:
    """Move up to ``limit`` messages of ``<queue>-dlq`` (those ``wanted`` picks) back to ``queue``."""
    sqs = aws.client("sqs")
    source, target = queue_url(f"{queue}-dlq"), queue_url(queue)
    moved, scanned = 0, 0
    passed: list[str] = []
    try:
        while moved < limit and scanned < MAX_SCANNED:
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=source,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=SCAN_VISIBILITY_S,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                scanned += 1
                if moved >= limit or (wanted is not None and not wanted(message)):
                    passed.append(message["ReceiptHandle"])
                    continue
                extra = {"MessageAttributes": message["MessageAttributes"]} if message.get("MessageAttributes") else {}
                sqs.send_message(QueueUrl=target, MessageBody=message["Body"], **extra)
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
    finally:
        for start in range(0, len(passed), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(passed[start : start + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=source, Entries=entries)
    return moved
