"""The message the ingest function puts on the ingest queue, and its claim check.

The payload — canonical NDJSON, or a native NDJSON body as the client sent it (version 2,
ADR 0022) — is zstd-compressed and carried inline (base64) while the message stays under
SQS's 1 MiB limit; larger payloads go to the lake bucket under ``_incoming/`` and the
message carries only the key. Version 3 (ADR 0028) carries, instead of a native body, the
columns the ingest function read from it (Arrow IPC, zstd: ``columnar.encode_columns``), so
the worker neither parses nor checks the body again. This module imports no pyarrow: every
function that queues or reads ingest messages loads it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

INLINE_LIMIT = 900_000  # base64 payload bytes; SQS refuses messages over 1 MiB
INCOMING_PREFIX = "_incoming/"
# What the payload holds. Version 1 messages carry canonical NDJSON (what ``normalize`` makes
# of each record) and still do from every route but native JSON's column-wise path; version 2
# adds ``format`` for a native NDJSON body as the client sent it, which the worker reads
# column-wise again (``molesignal.ingest.columnar``, ADR 0022); version 3 (ADR 0028) the
# canonical columns of such a body as Arrow IPC, sent whenever they say all its text would.
# All three stay readable.
CANONICAL_NDJSON = "canonical-ndjson"
RAW_NDJSON = "raw-ndjson"
ARROW_COLUMNS = "arrow-columns"
_VERSIONS = {1: CANONICAL_NDJSON, 2: RAW_NDJSON, 3: ARROW_COLUMNS}
_VERSION_OF = {kind: version for version, kind in _VERSIONS.items()}


@dataclass(frozen=True)
class IngestMessage:
    request_id: str  # unique per (request, stream): names the files, makes redelivery idempotent
    org_id: str
    stream: str
    received_us: int
    records: int
    raw_bytes: int
    payload_b64: str | None = None
    s3_key: str | None = None
    payload_format: str = CANONICAL_NDJSON

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "v": _VERSION_OF[self.payload_format],
            "request_id": self.request_id,
            "org_id": self.org_id,
            "stream": self.stream,
            "received_us": self.received_us,
            "records": self.records,
            "raw_bytes": self.raw_bytes,
        }
        if self.payload_format != CANONICAL_NDJSON:
            body["format"] = self.payload_format
        body.update(carried(self.payload_b64, self.s3_key))
        return orjson.dumps(body).decode()

    @classmethod
    def from_json(cls, text: str) -> IngestMessage:
        body = orjson.loads(text)
        if not isinstance(body, dict) or body.get("v") not in _VERSIONS:
            raise ValueError("not an ingest message (version 1, 2 or 3)")
        payload_format = body.get("format", _VERSIONS[body["v"]])
        if payload_format not in _VERSION_OF:
            raise ValueError(f"ingest message payload format {payload_format!r} is not known")
        return cls(
            request_id=str(body["request_id"]),
            org_id=str(body["org_id"]),
            stream=str(body["stream"]),
            received_us=int(body["received_us"]),
            records=int(body["records"]),
            raw_bytes=int(body["raw_bytes"]),
            payload_b64=body.get("payload"),
            s3_key=body.get("s3_key"),
            payload_format=payload_format,
        )


def carried(payload_b64: str | None, s3_key: str | None) -> dict[str, str]:
    """A message's payload fields: the payload inline, or the claim check's key."""
    fields: dict[str, str] = {}
    if payload_b64 is not None:
        fields["payload"] = payload_b64
    if s3_key is not None:
        fields["s3_key"] = s3_key
    return fields


def encode_records(records: list[dict[str, Any]]) -> bytes:
    """Canonical NDJSON, zstd-compressed."""
    return compress(canonical_ndjson(records))


def canonical_ndjson(records: list[dict[str, Any]]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def compress(ndjson: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.zstd.compress(ndjson, level=3))


def decode_payload(compressed: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.zstd.decompress(compressed))


def inline(compressed: bytes) -> str | None:
    encoded = base64.b64encode(compressed).decode()
    return encoded if len(encoded) <= INLINE_LIMIT else None


def incoming_key(org_id: str, request_id: str) -> str:
    return f"{INCOMING_PREFIX}org={org_id}/{request_id}.ndjson.zst"
