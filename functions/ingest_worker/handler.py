"""SQS-triggered ingest worker: each message is one request's records for one stream.

Powertools batch processing reports failed records in ``batchItemFailures`` so the rest
of the batch lands; a record that keeps failing reaches the DLQ after the queue's
``maxReceiveCount``. Landing is idempotent (``Lake.append_batch``), so redelivery never
duplicates rows.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal import aws
from molesignal.ingest.envelope import IngestMessage, decode_payload
from molesignal.lake.writer import Lake
from molesignal.observability import logger, metrics
from molesignal.settings import get_settings

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = IngestMessage.from_json(record.body)
    lake = Lake()
    if lake.already_landed(message.org_id, message.request_id):
        _forget_claim(lake, message)
        return
    if message.payload_b64 is not None:
        compressed = base64.b64decode(message.payload_b64)
    elif message.s3_key is not None:
        compressed = aws.client("s3").get_object(Bucket=lake.bucket, Key=message.s3_key)["Body"].read()
    else:
        raise ValueError(f"ingest message {message.request_id} carries neither payload nor claim check")
    result = lake.append_batch(message.org_id, message.stream, message.request_id, decode_payload(compressed))
    _forget_claim(lake, message)
    metrics.add_metric(name="RowsLanded", unit="Count", value=result.rows)
    if result.quarantined:
        metrics.add_metric(name="RowsQuarantined", unit="Count", value=result.quarantined)
    logger.info(
        "landed",
        extra={
            "org_id": message.org_id,
            "stream": message.stream,
            "request_id": message.request_id,
            "rows": result.rows,
            "files": len(result.files),
            "duplicate": result.duplicate,
            "quarantined": result.quarantined,
        },
    )


def _forget_claim(lake: Lake, message: IngestMessage) -> None:
    if message.s3_key:
        aws.client("s3").delete_object(Bucket=lake.bucket, Key=message.s3_key)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
