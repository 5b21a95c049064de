"""The message the events worker puts on the ``fanout`` queue: one chunk of chained events for
one log stream.

The events (as the API shows them, with ``seq`` and hashes) travel zstd-compressed and inline,
or, for a chunk too large for SQS, claim-checked in the lake bucket. ``delivery_id`` is
``<log stream>-s<first seq>``: the same chunk fanned out twice has the same id, so a receiver
(and the worker's sent-marker) can recognise a repeat. ``org_id`` and ``log_stream_id`` also
ride as message attributes, so a DLQ redrive picks an org's messages without opening them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal import aws
from molesignal.ingest import claimcheck, envelope
from molesignal.settings import get_settings

QUEUE = "fanout"


@dataclass(frozen=True)
class FanoutMessage:
    org_id: str
    log_stream_id: str
    first_seq: int
    last_seq: int
    count: int
    payload_b64: str | None = None
    s3_key: str | None = None
    label: str = ""  # a test delivery's own name instead of its first sequence number

    @property
    def delivery_id(self) -> str:
        return f"{self.log_stream_id}-{self.label or f's{self.first_seq}'}"

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "v": 1,
            "kind": "fanout",
            "org_id": self.org_id,
            "log_stream_id": self.log_stream_id,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "count": self.count,
        }
        if self.label:
            body["label"] = self.label
        body.update(envelope.carried(self.payload_b64, self.s3_key))
        return orjson.dumps(body).decode()

    @classmethod
    def from_json(cls, text: str) -> FanoutMessage:
        body = orjson.loads(text)
        if not isinstance(body, dict) or body.get("v") != 1 or body.get("kind") != "fanout":
            raise ValueError("not a fan-out message (version 1)")
        return cls(
            org_id=str(body["org_id"]),
            log_stream_id=str(body["log_stream_id"]),
            first_seq=int(body["first_seq"]),
            last_seq=int(body["last_seq"]),
            count=int(body["count"]),
            payload_b64=body.get("payload"),
            s3_key=body.get("s3_key"),
            label=str(body.get("label") or ""),
        )

    def events(self) -> list[dict[str, Any]]:
        return claimcheck.records(self.payload_b64, self.s3_key, what=f"fan-out message {self.delivery_id}")

    def forget_claim(self) -> None:
        claimcheck.release(self.s3_key)

    def attributes(self) -> dict[str, Any]:
        return {
            "org_id": {"DataType": "String", "StringValue": self.org_id},
            "log_stream_id": {"DataType": "String", "StringValue": self.log_stream_id},
        }


def build(org_id: str, log_stream_id: str, events: Sequence[dict[str, Any]]) -> FanoutMessage:
    first, last = int(events[0]["seq"]), int(events[-1]["seq"])
    compressed = envelope.encode_records(list(events))
    inline = envelope.inline(compressed)
    if inline is not None:
        return FanoutMessage(org_id, log_stream_id, first, last, len(events), payload_b64=inline)
    key = envelope.incoming_key(org_id, f"fanout-{log_stream_id}-s{first}")
    aws.client("s3").put_object(Bucket=get_settings().resource_name("lake"), Key=key, Body=compressed)
    return FanoutMessage(org_id, log_stream_id, first, last, len(events), s3_key=key)


_queue_url: dict[str, str] = {}


def queue_url(logical: str = QUEUE) -> str:
    name = get_settings().queue_name(logical)
    if name not in _queue_url:
        _queue_url[name] = aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_url[name]


def send(messages: Sequence[FanoutMessage]) -> None:
    sqs = aws.client("sqs")
    url = queue_url()
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries = [
            {"Id": str(i), "MessageBody": m.to_json(), "MessageAttributes": m.attributes()} for i, m in enumerate(chunk)
        ]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed") or []
        if failed:
            # The events worker's record then fails and is retried; a repeat has the same ids.
            raise RuntimeError(f"{len(failed)} fan-out messages were not queued: {failed[0].get('Message')}")
