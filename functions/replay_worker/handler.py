"""SQS-triggered replay worker: sends each queued Layer 2 replay to its org's runner.

A runner that cannot be reached (or answers 5xx) fails the record, so the queue delivers it
again; on the last delivery the replay is marked failed instead (molesignal.traces.replays).
A message with ``deadline_us`` checks that a running replay's bundle arrived in time.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from molesignal.observability import logger
from molesignal.resources import RESOURCES
from molesignal.traces.replays import Replays

processor = BatchProcessor(event_type=EventType.SQS)
MAX_RECEIVES = next(q.max_receive_count for q in RESOURCES.queues if q.logical == "replays")


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    replay_id = str(message["replay_id"])
    if "deadline_us" in message:
        status = Replays().expire(replay_id, deadline_us=int(message["deadline_us"]))
        logger.info("replay deadline checked", extra={"replay_id": replay_id, "status": status})
        return
    final = int(record.attributes.approximate_receive_count) >= MAX_RECEIVES
    status = Replays().dispatch(replay_id, final_attempt=final)
    logger.info("replay dispatched", extra={"replay_id": replay_id, "status": status})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
