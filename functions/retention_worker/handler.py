"""Scheduled retention: removes every stream's files whose rows are all older than the
stream's ``retention_days`` (bumping the stream's data version) and the files of STREAM
tables past their TTL, then deletes objects whose grace period is over. Idempotent: a
re-run finds nothing more to remove."""

from __future__ import annotations

import time
from typing import Any

from molesignal.lake.retention import run_retention
from molesignal.lake.table_retention import expire_stream_tables
from molesignal.observability import logger

SAFETY_MARGIN_S = 30


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining_s = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + max(remaining_s - SAFETY_MARGIN_S, remaining_s / 2)
    expired = expire_stream_tables(deadline=deadline)
    report = {**run_retention(deadline=deadline).as_dict(), "table_files_expired": expired}
    logger.info("retention done", extra=report)
    return report
