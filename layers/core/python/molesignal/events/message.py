"""The message the events intake puts on the FIFO ``events`` queue (grouped by org).

One request's accepted events travel together, zstd-compressed and inline while the
message stays under SQS's 1 MiB; larger batches are claim-checked in the lake bucket, as
ingest does. ``request_id`` is the deduplication id: a retried request (same
Idempotency-Key) is recognised by SQS within five minutes and by the worker after that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from molesignal import aws
from molesignal.ingest import claimcheck, envelope
from molesignal.settings import get_settings


@dataclass(frozen=True)
class EventsMessage:
    request_id: str
    org_id: str
    count: int
    payload_b64: str | None = None
    s3_key: str | None = None

    def to_json(self) -> str:
        body: dict[str, Any] = {"v": 1, "kind": "events", "request_id": self.request_id, "org_id": self.org_id}
        body["count"] = self.count
        body.update(envelope.carried(self.payload_b64, self.s3_key))
        return orjson.dumps(body).decode()

    @classmethod
    def from_json(cls, text: str) -> EventsMessage:
        body = orjson.loads(text)
        if not isinstance(body, dict) or body.get("v") != 1 or body.get("kind") != "events":
            raise ValueError("not an events message (version 1)")
        return cls(
            request_id=str(body["request_id"]),
            org_id=str(body["org_id"]),
            count=int(body["count"]),
            payload_b64=body.get("payload"),
            s3_key=body.get("s3_key"),
        )

    def events(self) -> list[dict[str, Any]]:
        return claimcheck.records(self.payload_b64, self.s3_key, what=f"events message {self.request_id}")

    def forget_claim(self) -> None:
        claimcheck.release(self.s3_key)


def build(request_id: str, org_id: str, events: list[dict[str, Any]]) -> EventsMessage:
    compressed = envelope.encode_records(events)
    inline = envelope.inline(compressed)
    if inline is not None:
        return EventsMessage(request_id, org_id, len(events), payload_b64=inline)
    key = envelope.incoming_key(org_id, f"events-{request_id}")
    aws.client("s3").put_object(Bucket=get_settings().resource_name("lake"), Key=key, Body=compressed)
    return EventsMessage(request_id, org_id, len(events), s3_key=key)


_queue_url: dict[str, str] = {}


def events_queue_url() -> str:
    name = get_settings().queue_name("events")
    if name not in _queue_url:
        _queue_url[name] = aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_url[name]


def send(message: EventsMessage) -> None:
    aws.client("sqs").send_message(
        QueueUrl=events_queue_url(),
        MessageBody=message.to_json(),
        MessageGroupId=message.org_id,  # one org's events are delivered, and chained, in order
        MessageDeduplicationId=message.request_id,
    )
