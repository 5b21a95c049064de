"""Platform events other parts of MoleSignal raise for alerting to act on.

The quota limiter raises one when it refuses a request (once per org, quota and window, with
its audit entry). The event is a message on the alert delivery queue, where the delivery
worker turns it into an alert for the org's platform destinations; this module only enqueues,
so the limiter needs nothing from the alerting package. Raising never fails the caller: a
lost event is logged, and the refusal itself stands.
"""

from __future__ import annotations

from typing import Any

import orjson

from molesignal import aws
from molesignal.clock import now_us
from molesignal.observability import logger
from molesignal.queues import queue_url

ALERT_QUEUE = "alert-delivery"
PLATFORM_EVENT = "platform_event"
QUOTA_EXCEEDED = "quota_exceeded"


def quota_exceeded(org_id: str, quota: str, window: int, details: dict[str, Any]) -> None:
    raise_event(org_id, QUOTA_EXCEEDED, {"quota": quota, "window": window, "details": details})


def raise_event(org_id: str, event: str, data: dict[str, Any]) -> None:
    body = {"kind": PLATFORM_EVENT, "event": event, "org_id": org_id, "at_us": now_us(), **data}
    try:
        aws.client("sqs").send_message(
            QueueUrl=queue_url(ALERT_QUEUE),
            MessageBody=orjson.dumps(body).decode(),
            MessageAttributes={"org_id": {"DataType": "String", "StringValue": org_id}},
        )
    except Exception:
        logger.exception("platform event not raised", extra={"org_id": org_id, "event": event})
