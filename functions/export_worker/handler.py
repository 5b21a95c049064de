"""SQS-triggered export worker: runs one export job per message, then delivers the file where
the job asks (a scheduled export's log stream).

A job that fails on its input (SQL the engine refuses, a result too large) is marked failed
with the reason; anything else raises, so the message is retried and then dead-lettered. A
delivery that fails also raises: the retried message finds the job completed and only
delivers again.
"""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal.exports.delivery import DeliveryFailed, deliver
from molesignal.exports.jobs import Exports, public
from molesignal.observability import logger, metrics
from molesignal.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    body = orjson.loads(record.body)
    if not isinstance(body, dict) or body.get("v") != 1 or body.get("kind") != "export":
        raise ValueError("not an export message (version 1)")
    org_id, export_id = str(body["org_id"]), str(body["export_id"])
    exports = Exports()
    item = exports.run(org_id, export_id)
    metrics.add_metric(name="ExportRows", unit="Count", value=int(item.get("rows") or 0))
    logger.info("export finished", extra={"org_id": org_id, "export_id": export_id, "status": item["status"]})
    if item["status"] != "completed" or not item.get("delivery") or item.get("delivery_status") == "delivered":
        return
    try:
        detail = deliver(exports.table, item, public(item))
    except DeliveryFailed as exc:
        exports.mark_delivery(org_id, export_id, "failed", str(exc))
        raise
    exports.mark_delivery(org_id, export_id, "delivered", detail)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
