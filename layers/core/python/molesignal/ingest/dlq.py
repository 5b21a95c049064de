"""The ingest dead-letter queue: how deep it is, and moving messages back for another try."""

from __future__ import annotations

from typing import Any

from molesignal import aws
from molesignal.ingest.service import ingest_queue_url
from molesignal.settings import get_settings


def _dlq_url() -> str:
    name = get_settings().queue_name("ingest-dlq")
    return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def depth() -> dict[str, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=_dlq_url(), AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return {
        "messages": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def redrive(limit: int) -> int:
    """Move up to ``limit`` messages back to the ingest queue (send first, then delete:
    a crash in between delivers twice, which landing tolerates, never zero times)."""
    sqs = aws.client("sqs")
    source, target = _dlq_url(), ingest_queue_url()
    moved = 0
    while moved < limit:
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=min(10, limit - moved), WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved
