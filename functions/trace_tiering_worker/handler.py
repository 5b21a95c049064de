"""Scheduled trace tiering: moves unpinned traces hot → warm → cold by age and finishes cold
restores (molesignal.traces.tiers). The schedule's ``time`` is the job's "now"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from molesignal.observability import logger
from molesignal.traces.tiers import Tiers


def _event_time_us(event: dict[str, Any]) -> int | None:
    value = event.get("time")
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        return None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = Tiers().run(_event_time_us(event)).to_dict()
    logger.info("trace tiering done", extra=report)
    return report
