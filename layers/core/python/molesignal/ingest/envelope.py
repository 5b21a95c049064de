"""The message the ingest function puts on the ingest queue, and its claim check.

The payload — canonical NDJSON, or a native NDJSON body as the client sent it (version 2,
ADR 0022) — is zstd-compressed and carried inline (base64) while the message stays under
SQS's 1 MiB limit; larger payloads go to the lake bucket under ``_incoming/`` and the
message carries only the key. Beside an inline native body, a version 2 message may carry
the columns the ingest function read from it (``columns``: Arrow IPC, zstd, base64; ADR
0028), so the worker need not parse and check the body again; a worker that does not know
the field reads the body, and one that gets no columns reads it as before.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

INLINE_LIMIT = 900_000  # base64 payload bytes; SQS refuses messages over 1 MiB
INCOMING_PREFIX = "_incoming/"
# What the payload holds. Version 1 messages carry canonical NDJSON (what ``normalize`` makes
# of each record) and still do from every route but native JSON's column-wise path; version 2
# adds ``format`` for a native NDJSON body as the client sent it, which the worker reads
# column-wise again (``molesignal.ingest.columnar``, ADR 0022). Both stay readable.
CANONICAL_NDJSON = "canonical-ndjson"
RAW_NDJSON = "raw-ndjson"
_VERSIONS = {1: CANONICAL_NDJSON, 2: RAW_NDJSON}


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
    columns_b64: str | None = None  # a raw body's columns as the ingest function read them (ADR 0028)

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "v": 1 if self.payload_format == CANONICAL_NDJSON else 2,
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
        if self.columns_b64 is not None:
            body["columns"] = self.columns_b64
        return orjson.dumps(body).decode()

    @classmethod
    def from_json(cls, text: str) -> IngestMessage:
        body = orjson.loads(text)
        if not isinstance(body, dict) or body.get("v") not in _VERSIONS:
            raise ValueError("not an ingest message (version 1 or 2)")
        payload_format = body.get("format", _VERSIONS[body["v"]])
        if payload_format not in (CANONICAL_NDJSON, RAW_NDJSON):
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
            columns_b64=body.get("columns") if payload_format == RAW_NDJSON else None,
        )

    def with_columns(self, table: pa.Table) -> IngestMessage:
        """This message (an inline native body) with the columns read from it as well, while
        the two together stay under the inline limit; else as it is (the worker reads the body)."""
        if self.payload_format != RAW_NDJSON or self.payload_b64 is None:
            return self
        encoded = base64.b64encode(encode_columns(table)).decode()
        if len(self.payload_b64) + len(encoded) > INLINE_LIMIT:
            return self
        return replace(self, columns_b64=encoded)


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


def encode_columns(table: pa.Table) -> bytes:
    """An Arrow table as one IPC stream, zstd-compressed (level 1: the columns are handed over
    once, and cost the ingest function ~2 ms per MiB of body at this level)."""
    import cramjam
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(cramjam.zstd.compress(sink.getvalue(), level=1))


def decode_columns(compressed: bytes) -> pa.Table:
    import cramjam
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(cramjam.zstd.decompress(compressed))).read_all()


def inline(compressed: bytes) -> str | None:
    encoded = base64.b64encode(compressed).decode()
    return encoded if len(encoded) <= INLINE_LIMIT else None


def incoming_key(org_id: str, request_id: str) -> str:
    return f"{INCOMING_PREFIX}org={org_id}/{request_id}.ndjson.zst"
