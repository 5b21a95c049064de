"""Scheduled outbox sweep: publishes to topics the committed changes a dead (or failing)
process left unpublished (molesignal.topics.sweeper, ADR 0020)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from molesignal.observability import logger
from molesignal.topics.sweeper import sweep


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = sweep()
    if result.changes or result.failed:
        logger.info("outbox sweep done", extra=asdict(result))
    return asdict(result)
