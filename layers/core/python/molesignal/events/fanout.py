"""Fanning a chained batch out to the org's enabled log streams, once it has landed.

The events worker calls ``fan_out`` after the batch's commit (the events are final then: their
``seq`` and hashes never change). It splits the batch into chunks small enough for any
receiver and queues one message per chunk and log stream; a delivery failure is then that
message's alone. Once queued, the request's processed marker says so: a redelivered batch
whose fan-out was not confirmed reads its rows back from the lake and queues them again (the
same delivery ids, so nothing is delivered twice once it was delivered once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from molesignal.clock import now_us
from molesignal.events import lakerows
from molesignal.events.chain import block_partition, processed_key
from molesignal.events.lakerows import Unreadable
from molesignal.events.rows import from_row
from molesignal.logstreams import message
from molesignal.logstreams.store import LogStreams
from molesignal.storage.table import Table

CHUNK_BYTES = 512 * 1024  # JSON bytes of the events in one delivery (Datadog takes 5 MB, HEC often 1 MB)
CHUNK_EVENTS = 500  # Datadog takes at most 1,000 entries per request


def chunks(events: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive runs of ``events`` within both limits (an event larger than the byte limit
    travels alone)."""
    found: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for event in events:
        length = len(orjson.dumps(event))
        if current and (size + length > CHUNK_BYTES or len(current) >= CHUNK_EVENTS):
            found.append(current)
            current, size = [], 0
        current.append(event)
        size += length
    if current:
        found.append(current)
    return found


def fan_out(table: Table, org_id: str, events: Sequence[dict[str, Any]]) -> int:
    """Queue ``events`` (public, chained, in ``seq`` order) for every enabled log stream;
    returns how many messages were queued."""
    streams = LogStreams(table).enabled(org_id)
    if not streams or not events:
        return 0
    queued = [message.build(org_id, s.id, chunk) for chunk in chunks(events) for s in streams]
    message.send(queued)
    return len(queued)


def fan_out_landed(table: Table, org_id: str, request_id: str, events: Sequence[dict[str, Any]]) -> int:
    """Fan out a batch that just landed and mark its request as fanned out."""
    queued = fan_out(table, org_id, events)
    if queued:
        pk, sk = processed_key(org_id, request_id)
        table.update(pk, sk, "SET fanned_out_us = :now", values={":now": now_us()})
    return queued


def fan_out_again_if_unconfirmed(table: Table, org_id: str, request_id: str) -> int:
    """For a redelivered batch: queue its events again unless its fan-out was confirmed."""
    marker = table.get(*processed_key(org_id, request_id))
    if marker is None or marker.get("fanned_out_us") or not LogStreams(table).enabled(org_id):
        return 0
    first, last = int(marker["first_seq"]), int(marker["last_seq"])
    block = table.get(block_partition(org_id), f"{first:020d}")
    if block is None:
        return 0
    found: list[dict[str, Any]] = []
    span = (int(block["min_ts_us"]), int(block["max_ts_us"]) + 1)
    for row in lakerows.read_rows(table, org_id, span[0], span[1], (first, last)):
        if isinstance(row, Unreadable):
            raise RuntimeError(f"cannot read back the landed events of {request_id}: {row.key} {row.reason}")
        found.append(from_row(row))
    found.sort(key=lambda e: int(e["seq"]))
    return fan_out_landed(table, org_id, request_id, found)
