"""SQS-triggered fan-out worker: delivers chunks of chained audit events to log streams.

A failed delivery is reported in ``batchItemFailures`` after its message's visibility is set to
the backoff, so SQS hands it back that much later; after the queue's receive limit SQS moves it
to the DLQ. A delivery that can never succeed (a refused address) goes to the DLQ at once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal import aws, dlq
from molesignal.logstreams.message import QUEUE, FanoutMessage
from molesignal.logstreams.processing import process
from molesignal.observability import logger, metrics
from molesignal.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)


class DeliveryFailed(Exception):
    """This delivery failed; SQS retries it after the visibility the worker set."""


def record_handler(record: SQSRecord) -> None:
    message = FanoutMessage.from_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    outcome = process(message, attempt)
    metrics.add_metric(name=f"LogStream_{outcome.state}", unit="Count", value=1)
    if outcome.state == "dead_now":
        sqs = aws.client("sqs")
        sqs.send_message(
            QueueUrl=dlq.queue_url(f"{QUEUE}-dlq"), MessageBody=record.body, MessageAttributes=message.attributes()
        )
        return
    if outcome.retry_in_s is not None:
        queue_url = dlq.queue_url(QUEUE)
        aws.client("sqs").change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=outcome.retry_in_s
        )
        detail = outcome.report.detail if outcome.report else ""
        raise DeliveryFailed(f"{message.delivery_id} attempt {attempt}: {detail}")
    logger.info("log stream delivery", extra={"delivery_id": message.delivery_id, "state": outcome.state})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
