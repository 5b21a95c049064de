"""SQS FIFO-triggered events worker: chains each org's events in the order they were accepted.

Messages are grouped by org, so one org's batches arrive one at a time and in order. A
batch that fails stops its org's group for this invocation (``skip_group_on_error``): the
later batches of that org come back after it, never before. Landing is idempotent per
request, so a redelivered batch is never chained twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.sqs_fifo_partial_processor import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal.events.processing import process_message
from molesignal.live.fanout import install as deliver_live_changes
from molesignal.observability import logger, metrics
from molesignal.settings import get_settings
from molesignal.topics.publisher import attach as attach_topics

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord) -> None:
    outcome = process_message(record.body)
    metrics.add_metric(name="EventsChained", unit="Count", value=outcome.chained)
    logger.info("events chained", extra=outcome.log_fields())


attach_topics()  # committed row changes are published to the topics that source them
deliver_live_changes()  # chained events reach /v1/ws subscribers of audit_events (live tail)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
