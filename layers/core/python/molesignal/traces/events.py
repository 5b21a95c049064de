"""Trace events: validation of what producers send, and the event log each trace keeps.

A trace's events are stored as NDJSON chunks of at most ``CHUNK_EVENTS`` events under the
trace's prefix in the blob bucket, and each chunk has an index item beside the trace
(``TRACE#<id>`` / ``CHUNK#<n>``) that counts its events by kind and by step. A slice
(``step``, ``kind``, ``limit``, ``offset``) reads the index and only the chunks that can
hold the events it returns, so a slice of a 100,000-event trace reads one or two chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal.errors import Invalid
from molesignal.storage.table import Item, Table
from molesignal.traces.blobs import BlobStore

CHUNK_EVENTS = 1000
MAX_STEPS_INDEXED = 200  # a chunk touching more steps is read to answer a step filter
MAX_EVENT_BYTES = 256 * 1024
_MAX_TS = 2**53


def _bad(source: str, index: int, message: str) -> Invalid:
    return Invalid(
        f"invalid events: {source} event {index}: {message}",
        code="invalid_events",
        details={"source": source, "index": index},
    )


def normalize_event(raw: Any, index: int, *, source: str, default_seq: int) -> dict[str, Any]:
    """One event in the stored shape: ``seq``, ``ts`` (ms), ``kind``, ``step_id``, ``ok``,
    ``message`` and whatever further fields the producer sent."""
    if not isinstance(raw, dict):
        raise _bad(source, index, "must be a JSON object")
    kind = raw.get("kind")
    if not isinstance(kind, str) or not 0 < len(kind) <= 64:
        raise _bad(source, index, "kind must be text of 1-64 characters")
    ts = raw.get("ts")
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not 0 <= ts < _MAX_TS:
        raise _bad(source, index, "ts must be milliseconds since the epoch")
    seq = raw.get("seq", default_seq)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise _bad(source, index, "seq must be a non-negative integer")
    step_id = raw.get("step_id")
    if step_id is not None and (not isinstance(step_id, str | int) or isinstance(step_id, bool)):
        raise _bad(source, index, "step_id must be text")
    ok = raw.get("ok")
    if ok is not None and not isinstance(ok, bool):
        raise _bad(source, index, "ok must be true, false or absent")
    message = raw.get("message")
    if message is not None and not isinstance(message, str):
        raise _bad(source, index, "message must be text")
    event = dict(raw)
    event.update(seq=seq, ts=int(ts), kind=kind, step_id=None if step_id is None else str(step_id))
    if len(orjson.dumps(event)) > MAX_EVENT_BYTES:
        raise _bad(source, index, f"larger than {MAX_EVENT_BYTES} bytes")
    return event


def normalize_events(raw: Iterable[Any], *, source: str, first_seq: int = 0) -> list[dict[str, Any]]:
    return [normalize_event(item, i, source=source, default_seq=first_seq + i) for i, item in enumerate(raw)]


def chunked(events: list[dict[str, Any]], size: int = CHUNK_EVENTS) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


@dataclass(frozen=True)
class EventFilter:
    step: str | None = None
    kind: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        return (self.kind is None or event.get("kind") == self.kind) and (
            self.step is None or event.get("step_id") == self.step
        )

    def count_in(self, chunk: Item) -> int | None:
        """How many of the chunk's events match, from its index alone; None when unknown."""
        by_kind = chunk.get("kinds") or {}
        by_step = chunk.get("steps")
        kind_count = int(chunk["count"]) if self.kind is None else int(by_kind.get(self.kind, 0))
        if self.step is None:
            return kind_count
        if by_step is None:
            return 0 if kind_count == 0 else None
        step_count = int(by_step.get(self.step, 0))
        if self.kind is None or step_count == 0 or kind_count == 0:
            return min(step_count, kind_count)
        return None  # both filters and both present: only the chunk can say


def chunk_key(pk: str, number: int) -> tuple[str, str]:
    return pk, f"CHUNK#{number:08d}"


@dataclass
class EventLog:
    table: Table
    blobs: BlobStore

    def write_chunks(
        self, trace_pk: str, prefix: str, events: list[dict[str, Any]], first_chunk: int
    ) -> list[dict[str, Any]]:
        """Store events as chunks numbered from ``first_chunk``; returns their index items."""
        items = []
        for offset, part in enumerate(chunked(events)):
            number = first_chunk + offset
            key = f"{prefix}events/{number:08d}.ndjson"
            body = b"".join(orjson.dumps(e) + b"\n" for e in part)
            self.blobs.put_object(key, body, "application/x-ndjson")
            steps = Counter(str(e["step_id"]) for e in part if e.get("step_id") is not None)
            pk, sk = chunk_key(trace_pk, number)
            item: dict[str, Any] = {
                "pk": pk,
                "sk": sk,
                "kind": "trace_chunk",
                "key": key,
                "count": len(part),
                "bytes": len(body),
                "first_seq": part[0]["seq"],
                "kinds": dict(Counter(e["kind"] for e in part)),
            }
            if len(steps) <= MAX_STEPS_INDEXED:
                item["steps"] = dict(steps)
            self.table.put(item)
            items.append(item)
        return items

    def chunks(self, trace_pk: str, *, after: int = -1) -> list[Item]:
        """The trace's chunk index, in order; ``after`` skips the chunks up to that number."""
        low = chunk_key(trace_pk, after + 1)[1]
        return self.table.query_all(trace_pk, sk_between=(low, "CHUNK#99999999"), consistent=True)

    def read_chunk(self, chunk: Item) -> list[dict[str, Any]]:
        body = self.blobs.get_bytes(chunk["key"])
        return [orjson.loads(line) for line in body.splitlines() if line]

    def slice(self, trace_pk: str, selection: EventFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        skip = offset
        for chunk in self.chunks(trace_pk):
            known = selection.count_in(chunk)
            if known == 0:
                continue
            if known is not None and known <= skip:
                skip -= known
                continue
            for event in self.read_chunk(chunk):
                if not selection.matches(event):
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append(event)
                if len(out) >= limit:
                    return out
        return out

    def all_events(self, trace_pk: str) -> Iterator[dict[str, Any]]:
        for chunk in self.chunks(trace_pk):
            yield from self.read_chunk(chunk)
