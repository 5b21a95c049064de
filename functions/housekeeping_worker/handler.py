"""Scheduled housekeeping: deletes expired sessions, throttle counters, rate windows and
quota markers. DynamoDB TTL does the same eventually (up to days late, and never in the
emulator), so correctness never depends on TTL alone."""

from __future__ import annotations

from typing import Any

from molesignal.housekeeping import purge_expired
from molesignal.observability import logger
from molesignal.storage.table import Table


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deleted = purge_expired(Table())
    logger.info("housekeeping done", extra={"deleted": deleted})
    return {"deleted": deleted}
