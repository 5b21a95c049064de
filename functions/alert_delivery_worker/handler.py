"""SQS-triggered alert delivery: each message is one notification for one destination, or a
platform event (a quota rejection) to turn into alerts. See ``molesignal.alerts.delivery``.

A failed attempt makes its message invisible for the backoff delay and reports it in
``batchItemFailures``; the last failed attempt is moved to the DLQ by the worker itself.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal import aws, counters
from molesignal.alerts.delivery import RetryLater, handle
from molesignal.observability import logger, metrics
from molesignal.platform_events import ALERT_QUEUE
from molesignal.queues import queue_url
from molesignal.settings import get_settings
from molesignal.storage.table import Table

# A batch whose every delivery failed is still a partial-failure answer, not a crashed invocation:
# each message already carries its own backoff.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    table = Table()
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        handle(table, record.body, attempt=attempt)
    except RetryLater as retry:
        # The backoff: the message comes back after the delay instead of the queue's timeout.
        aws.client("sqs").change_message_visibility(
            QueueUrl=queue_url(ALERT_QUEUE), ReceiptHandle=record.receipt_handle, VisibilityTimeout=retry.delay_s
        )
        metrics.add_metric(name="AlertDeliveryRetries", unit="Count", value=1)
        raise
    except Exception:
        counters.increment(table, "worker_failures_total")
        logger.exception("alert delivery failed", extra={"message_id": record.message_id, "attempt": attempt})
        raise


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
