"""The delivery worker's work: one queue message is one notification for one destination
(or a platform event to turn into alerts).

Each attempt is recorded in the history. A failed attempt is retried with exponential
backoff — the worker makes the message invisible for ``alert_retry_base_s * 2^(attempt-1)``
seconds (capped at ``alert_retry_max_s``) and reports it failed — until the queue's
``max_receive_count``; the last failure (or one retrying cannot fix) goes to the DLQ
(``dead_letters``). A success leaves a marker, so a redelivered or redriven copy is not sent
again.
"""

from __future__ import annotations

from typing import Any

import orjson

from molesignal.alerts import dead_letters, history, platform
from molesignal.alerts.destinations import Destinations
from molesignal.alerts.notification import Notification
from molesignal.alerts.outbox import NOTIFICATION
from molesignal.alerts.senders import send
from molesignal.errors import NotFound
from molesignal.platform_events import ALERT_QUEUE, PLATFORM_EVENT
from molesignal.resources import RESOURCES
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table

DELIVERED_MARKER_TTL_S = 15 * 24 * 3600  # longer than any message can live in the queue and DLQ


class RetryLater(Exception):
    """The attempt failed; try again after ``delay_s`` seconds."""

    def __init__(self, message: str, delay_s: int) -> None:
        super().__init__(message)
        self.delay_s = delay_s


def max_attempts() -> int:
    return next(q.max_receive_count for q in RESOURCES.queues if q.logical == ALERT_QUEUE)


def backoff_s(attempt: int) -> int:
    settings = get_settings()
    return int(min(settings.alert_retry_max_s, settings.alert_retry_base_s * 2 ** max(0, attempt - 1)))


def handle(table: Table, body: str, *, attempt: int) -> None:
    message: dict[str, Any] = orjson.loads(body)
    kind = message.get("kind")
    if kind == PLATFORM_EVENT:
        platform.on_event(table, message)
    elif kind == NOTIFICATION:
        deliver(table, message, attempt=attempt)
    else:
        raise ValueError(f"unknown alert queue message kind {kind!r}")


def deliver(table: Table, message: dict[str, Any], *, attempt: int) -> None:
    notification = Notification.from_dict(message["notification"])
    destination_id = str(message["destination_id"])
    org_id = notification.org_id
    marker = keys.alert_delivered(org_id, notification.id, destination_id)
    if table.get(*marker, consistent=True) is not None:
        return  # delivered already (a redelivery, or a redrive of a copy that got through)
    entry: dict[str, Any] = {
        "source_id": notification.source_id,
        "source_name": notification.source_name,
        "fingerprint": notification.fingerprint,
        "notification_id": notification.id,
        "notification_status": notification.status.value,
        "destination_id": destination_id,
        "attempt": attempt,
    }
    try:
        destination = Destinations(table).get(org_id, destination_id)
    except NotFound:
        history.record(
            table, org_id, history.EntryType.DELIVERY, outcome="dropped", detail="the destination was deleted", **entry
        )
        return
    report = send(destination, notification)
    history.record(
        table,
        org_id,
        history.EntryType.DELIVERY,
        destination_type=destination.type.value,
        outcome="delivered" if report.ok else "failed",
        status_code=report.status,
        detail=report.detail[:512],
        **entry,
    )
    if report.ok:
        table.put({"pk": marker[0], "sk": marker[1], "kind": "alert_delivered", "expires_at": _marker_expiry()})
        return
    if not report.retryable or attempt >= max_attempts():
        dead_letters.bury(table, message, org_id=org_id, attempts=attempt, reason=report.detail)
        return
    raise RetryLater(f"delivery to {destination_id} failed: {report.detail[:200]}", backoff_s(attempt))


def _marker_expiry() -> int:
    from molesignal.clock import now_s

    return now_s() + DELIVERED_MARKER_TTL_S
