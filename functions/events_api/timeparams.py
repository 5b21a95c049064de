"""ISO 8601 query and body times → µs since the epoch (this family speaks ISO 8601)."""

from __future__ import annotations

from datetime import UTC, datetime


def epoch_us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
