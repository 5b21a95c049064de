"""Scheduled every minute: create the export jobs of the export schedules that are due (the
export worker then runs them like any other export)."""

from __future__ import annotations

from typing import Any

from molesignal.exports.schedules import ExportSchedules
from molesignal.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    created = ExportSchedules().run_due()
    metrics.add_metric(name="ScheduledExports", unit="Count", value=len(created))
    logger.info("scheduled exports created", extra={"exports": created})
    return {"exports": created}
