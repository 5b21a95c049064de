"""A trace's events as Server-Sent Events: ``data: {json}\\n\\n`` per event (the NDJSON line's
shape), a ``: heartbeat`` comment when nothing was sent for the heartbeat interval, and
``event: end`` with the trace's final status once it is no longer running.

Without ``live`` the stream starts with every stored event; with ``live`` only events
appended after it opened are sent. New events are found by polling the trace's chunk
index (one strongly consistent query per poll)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from molesignal.settings import get_settings
from molesignal.storage.table import Item
from molesignal.traces.events import EventLog
from molesignal.traces.repository import TraceRepository

HEARTBEAT = b": heartbeat\n\n"


def sse_data(event: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"


def _chunk_number(chunk: Item) -> int:
    return int(str(chunk["sk"]).split("#", 1)[1])


def event_stream(
    repo: TraceRepository,
    log: EventLog,
    trace: Item,
    *,
    live: bool,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[bytes]:
    settings = get_settings()
    pk = f"TRACE#{trace['trace_id']}"
    started = last_sent = clock()
    seen = -1
    yield b"retry: 2000\n\n"
    if live:
        existing = log.chunks(pk)
        seen = _chunk_number(existing[-1]) if existing else -1
    status = str(trace.get("status"))
    while True:
        for chunk in log.chunks(pk, after=seen):
            for event in log.read_chunk(chunk):
                yield sse_data(event)
            seen = _chunk_number(chunk)
            last_sent = clock()
        if status != "running" or clock() - started > settings.trace_sse_max_s:
            break
        if clock() - last_sent >= settings.trace_sse_heartbeat_s:
            yield HEARTBEAT
            last_sent = clock()
        sleep(settings.trace_sse_poll_s)
        current = repo.get(trace["trace_id"])
        status = str(current.get("status")) if current else "aborted"
    yield b"event: end\ndata: " + orjson.dumps({"status": status}) + b"\n\n"
