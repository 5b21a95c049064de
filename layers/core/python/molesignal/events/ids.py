"""Time-sortable event ids: UUIDv7 (RFC 9562) carrying the receive time to the microsecond.

The 48-bit field holds the Unix time in ms and the 12-bit ``rand_a`` field the µs within
that ms (RFC 9562 §6.2, method 3: extra clock precision), so an id sorts by receive time
and names it exactly: the lake row of an event is found from its id alone. Ids issued by
one process never repeat a µs, so a batch's ids are strictly increasing in request order.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid

from molesignal.clock import now_us

_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_lock = threading.Lock()
_last_us = 0


def _next_us(count: int) -> int:
    """The first of ``count`` consecutive µs values, never reused by this process."""
    global _last_us
    with _lock:
        start = max(now_us(), _last_us + 1)
        _last_us = start + count - 1
    return start


def uuid7_at(epoch_us: int) -> str:
    ms, within = divmod(epoch_us, 1000)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= within << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def new_ids(count: int) -> list[tuple[str, int]]:
    """``count`` fresh (id, receive µs) pairs in increasing order."""
    start = _next_us(count)
    return [(uuid7_at(start + i), start + i) for i in range(count)]


def is_event_id(text: str) -> bool:
    return bool(_SHAPE.match(text)) and id_time_us(text) is not None


def id_time_us(event_id: str) -> int | None:
    """The receive time an event id carries (µs), or None if it is not one of ours."""
    try:
        value = uuid.UUID(event_id).int
    except ValueError:
        return None
    within = (value >> 64) & 0xFFF
    if (value >> 76) & 0xF != 7 or within >= 1000:
        return None
    return (value >> 80) * 1000 + within
