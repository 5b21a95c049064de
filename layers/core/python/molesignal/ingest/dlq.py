"""The ingest dead-letter queue: how deep it is, and moving messages back for another try."""

from __future__ import annotations

from molesignal import dlq


def depth() -> dict[str, int]:
    return dlq.depth("ingest-dlq")


def redrive(limit: int) -> int:
    """Move up to ``limit`` messages back to the ingest queue (landing tolerates a repeat)."""
    return dlq.redrive("ingest", limit)
