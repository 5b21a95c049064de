"""Scheduled compaction: merges each partition's small Parquet files toward ~128 MB, then
deletes the objects compaction and retention replaced once their grace period is over.

Bounded per run (rounds and the function's remaining time); whatever is left is picked up
by the next run, and every step is safe to repeat after a crash."""

from __future__ import annotations

import time
from typing import Any

from molesignal.lake.compaction import run_compaction
from molesignal.observability import logger

SAFETY_MARGIN_S = 90  # one round (read, merge, write ≤128 MB, commit) must fit after the deadline


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining_s = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + max(remaining_s - SAFETY_MARGIN_S, remaining_s / 2)
    report = run_compaction(deadline=deadline).as_dict()
    logger.info("compaction done", extra=report)
    return report
