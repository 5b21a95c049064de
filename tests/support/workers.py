"""A worker used to exercise the local SQS pollers: the Powertools batch idiom, with a
record that always fails so partial failures and DLQ redrive can be observed."""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

processor = BatchProcessor(event_type=EventType.SQS)
seen: list[dict[str, Any]] = []
events: list[dict[str, Any]] = []
_lock = threading.Lock()


def record_handler(record: SQSRecord) -> None:
    with _lock:
        seen.append({"body": record.body, "receive_count": record.attributes.approximate_receive_count})
    if record.body == "poison":
        raise ValueError("this record can never be processed")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with _lock:
        events.append(event)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
