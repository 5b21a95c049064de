"""What the fan-out worker does with one message: deliver it, or say when to try again.

A delivery that succeeds leaves a *sent* marker (``LSSENT#<org>#<delivery id>``), so a copy
of the message (SQS delivers at least once; a chunk may be fanned out twice) is not sent
again. A failed one is retried after ``base * 2^(attempt-1)`` seconds (capped), by setting the
message's visibility; the last allowed attempt records a dead letter and lets SQS move the
message to the DLQ. A refused address can never succeed: it is dead-lettered at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from molesignal.clock import now_s
from molesignal.errors import NotFound
from molesignal.logstreams import deadletters
from molesignal.logstreams.delivery import Report, deliver
from molesignal.logstreams.message import QUEUE, FanoutMessage
from molesignal.logstreams.store import LogStreams
from molesignal.observability import logger
from molesignal.resources import RESOURCES
from molesignal.settings import get_settings
from molesignal.storage.table import Table

SENT_MARKER_TTL_S = 15 * 24 * 3600  # longer than a message can live in the queue and its DLQ


def max_attempts() -> int:
    return next(q.max_receive_count for q in RESOURCES.queues if q.logical == QUEUE)


def backoff_s(attempt: int) -> int:
    settings = get_settings()
    return int(min(settings.fanout_retry_max_s, settings.fanout_retry_base_s * 2 ** max(0, attempt - 1)))


def sent_key(org_id: str, delivery_id: str) -> tuple[str, str]:
    return f"LSSENT#{org_id}#{delivery_id}", "SENT"


@dataclass(frozen=True)
class Outcome:
    state: str  # delivered, duplicate, dropped, retry, dead, dead_now
    report: Report | None = None
    retry_in_s: int | None = None  # for "retry" and "dead": the visibility to set before failing


def process(message: FanoutMessage, attempt: int, table: Table | None = None) -> Outcome:
    table = table or Table()
    streams = LogStreams(table)
    try:
        stream = streams.get(message.org_id, message.log_stream_id)
    except NotFound:
        message.forget_claim()
        return Outcome("dropped")  # the log stream was deleted: nothing to deliver to
    if not stream.enabled:
        message.forget_claim()
        return Outcome("dropped")
    if table.get(*sent_key(message.org_id, message.delivery_id)) is not None:
        message.forget_claim()
        return Outcome("duplicate")
    events = message.events()
    report = deliver(stream, message, events, attempt)
    if report.ok:
        pk, sk = sent_key(message.org_id, message.delivery_id)
        table.put({"pk": pk, "sk": sk, "expires_at": now_s() + SENT_MARKER_TTL_S})
        streams.record_outcome(stream, delivered=len(events), error=None)
        deadletters.forget(table, message)
        message.forget_claim()
        return Outcome("delivered", report)
    streams.record_outcome(stream, delivered=0, error=report.detail)
    extra = {"org_id": message.org_id, "delivery_id": message.delivery_id, "attempt": attempt}
    if not report.retryable:
        deadletters.record(table, message, attempts=attempt, error=report.detail, status=report.status)
        logger.warning("log stream delivery refused; dead-lettered", extra={**extra, "detail": report.detail})
        return Outcome("dead_now", report)
    if attempt >= max_attempts():
        deadletters.record(table, message, attempts=attempt, error=report.detail, status=report.status)
        logger.warning("log stream delivery failed for the last time", extra={**extra, "detail": report.detail})
        return Outcome("dead", report, retry_in_s=0)  # SQS moves it to the DLQ at its next receive
    logger.info("log stream delivery failed; will retry", extra={**extra, "detail": report.detail})
    return Outcome("retry", report, retry_in_s=backoff_s(attempt))
