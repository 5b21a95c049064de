"""Scheduled: sign a checkpoint of every org's audit chain whose head moved since its last one."""

from __future__ import annotations

from typing import Any

from molesignal.events.checkpoints import Checkpoints
from molesignal.observability import logger, metrics
from molesignal.storage.table import Table


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    signed = Checkpoints(Table()).sign_all()
    metrics.add_metric(name="CheckpointsSigned", unit="Count", value=signed)
    logger.info("checkpoints signed", extra={"signed": signed})
    return {"signed": signed}
