"""EventBridge-scheduled alert evaluator (every minute): due scheduled rules, quiet realtime
alerts, and the deployment's checks (``molesignal.alerts.evaluator``).

"Now" is the later of the clock and the scheduled event's time: a replayed or simulated event
can name a moment ahead (the tests do), never one behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from molesignal.alerts.evaluator import run
from molesignal.clock import now_us
from molesignal.observability import logger
from molesignal.storage.table import Table

SAFETY_MARGIN_S = 20.0


def _moment_us(event: dict[str, Any]) -> int:
    text = str(event.get("time") or "")
    try:
        named = int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1_000_000)
    except ValueError:
        named = 0
    return max(now_us(), named)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    remaining_s = context.get_remaining_time_in_millis() / 1000 if context is not None else 60.0
    summary = run(Table(), _moment_us(event), budget_s=max(1.0, remaining_s - SAFETY_MARGIN_S))
    logger.info("alert evaluation", extra=summary)
    return summary
