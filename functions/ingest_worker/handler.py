"""SQS-triggered ingest worker: each message is one request's records for one stream.

The messages of one stream in a batch land together first (one file per hour, one
commit: ``molesignal.ingest.landing``). Then Powertools batch processing goes through
every message: those already landed only drop their claim check; the rest land one by
one, and a message that fails is reported in ``batchItemFailures`` so the rest of the
batch lands, reaching the DLQ after the queue's ``maxReceiveCount``. Landing is
idempotent (per-request markers), so redelivery never duplicates rows. Last, the hours
just written are compacted if a tier of small files is full there (ADR 0011). The rows each
commit landed go through the stream's realtime alert rules right after it
(``molesignal.alerts.realtime``), which never fails the landing.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal import aws, counters
from molesignal.alerts.realtime import evaluate_landed
from molesignal.ingest.envelope import IngestMessage
from molesignal.ingest.landing import Touched, compact_touched, delivery_of, land_together
from molesignal.lake.recent_files import RECENT_FILES
from molesignal.lake.writer import Lake
from molesignal.live.fanout import install as deliver_live_changes
from molesignal.observability import logger, metrics
from molesignal.settings import get_settings
from molesignal.topics.publisher import attach as attach_topics

processor = BatchProcessor(event_type=EventType.SQS)
deliver_live_changes()  # every landed batch reaches /v1/ws subscribers (live tail)
RECENT_FILES.enabled = True  # what this worker lands, it merges by tiers soon after (ADR 0031)


def record_handler(record: SQSRecord, landed: frozenset[str] = frozenset(), touched: Touched | None = None) -> None:
    lake = Lake()
    try:
        land(lake, IngestMessage.from_json(record.body), landed, touched)
    except Exception:
        counters.increment(lake.table, "worker_failures_total")  # root's worker-failure alert counts these
        raise


def land(lake: Lake, message: IngestMessage, landed: frozenset[str], touched: Touched | None) -> None:
    if message.request_id in landed or lake.already_landed(message.org_id, message.request_id):
        _forget_claim(lake, message)
        return
    delivery = delivery_of(lake, message)
    result = lake.append_delivery(message.org_id, message.stream, delivery, marker_checked=True)
    if touched is not None:
        touched.add(message.org_id, message.stream, result)
    _forget_claim(lake, message)
    evaluate_landed(lake.table, message.org_id, message.stream, result.landed)
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


def _land_groups(event: dict[str, Any], touched: Touched) -> frozenset[str]:
    lake = Lake()
    groups = land_together(lake, (str(r.get("body", "")) for r in event.get("Records") or []))
    for group in groups:
        touched.add(group.org_id, group.stream, group.result)
        evaluate_landed(lake.table, group.org_id, group.stream, group.result.landed)
        metrics.add_metric(name="RowsLanded", unit="Count", value=group.result.rows)
        logger.info(
            "landed together",
            extra={
                "org_id": group.org_id,
                "stream": group.stream,
                "requests": len(group.request_ids),
                "rows": group.result.rows,
                "files": len(group.result.files),
                "duplicate": group.result.duplicate,
            },
        )
    return frozenset(r for group in groups for r in group.request_ids)


attach_topics()  # committed row changes are published to the topics that source them


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    get_settings()
    touched = Touched()
    landed = _land_groups(event, touched)
    response = process_partial_response(
        event=event,
        record_handler=partial(record_handler, landed=landed, touched=touched),
        processor=processor,
        context=context,
    )
    compact_touched(Lake(), touched)
    return response
