"""SQS-triggered export worker: runs one export job per message (and, later, scheduled runs).

A job that fails on its input (SQL the engine refuses, a result too large) is marked failed
with the reason; anything else raises, so the message is retried and then dead-lettered.
"""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal.exports.jobs import Exports
from molesignal.observability import logger, metrics
from molesignal.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    body = orjson.loads(record.body)
    if not isinstance(body, dict) or body.get("v") != 1 or body.get("kind") != "export":
        raise ValueError("not an export message (version 1)")
    item = Exports().run(str(body["org_id"]), str(body["export_id"]))
    metrics.add_metric(name="ExportRows", unit="Count", value=int(item.get("rows") or 0))
    logger.info(
        "export finished",
        extra={"org_id": body["org_id"], "export_id": body["export_id"], "status": item["status"]},
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
