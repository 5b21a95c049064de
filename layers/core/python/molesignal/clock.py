"""Time helpers. MoleSignal's own timestamps are µs since the epoch (spec 000)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_us() -> int:
    return time.time_ns() // 1000


def now_s() -> int:
    return int(time.time())


def iso(epoch_us: int) -> str:
    return datetime.fromtimestamp(epoch_us / 1_000_000, tz=UTC).isoformat().replace("+00:00", "Z")
