"""Driving alerting from tests: the delivery worker through the real SQS poller, the
evaluator through its real handler with a scheduled event (at a chosen moment), and a webhook
destination pointing at a local receiver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

import registry
from molesignal.local.lambda_context import LocalLambdaContext
from molesignal.local.loader import load_handler
from molesignal.local.scheduler import scheduled_event
from molesignal.settings import get_settings, reset_settings
from tests.support.api import Session, unique
from tests.support.lake import drain, drain_ingest

DELIVERY_WORKER = next(w for w in registry.REGISTRY.workers if w.name == "alert_delivery_worker")
EVALUATOR = next(s for s in registry.REGISTRY.schedules if s.name == "alert_evaluation_worker")


def drain_alerts(timeout_s: float = 120) -> int:
    """Run the delivery worker until nothing is left to receive now. Messages backing off are
    not waited for: they belong to a receiver that failed (an earlier test's, maybe long gone);
    tests of retries use ``quick_retries``, which makes every retry visible at once."""
    return drain(DELIVERY_WORKER, timeout_s, visible_only=True)


@contextmanager
def quick_retries() -> Iterator[None]:
    """Failed deliveries come back at once (no backoff), so a queue drains in seconds."""
    os.environ["MOLESIGNAL_ALERT_RETRY_BASE_S"] = "0"
    reset_settings()
    try:
        yield
    finally:
        os.environ.pop("MOLESIGNAL_ALERT_RETRY_BASE_S", None)
        reset_settings()


def land_and_deliver() -> None:
    drain_ingest()
    drain_alerts()


def evaluate(at: float | None = None) -> dict[str, int]:
    """One evaluator run as EventBridge would invoke it, for the moment ``at`` (unix seconds)."""
    region = get_settings().aws_region
    event = scheduled_event(EVALUATOR, region)
    if at is not None:
        event["time"] = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    context = LocalLambdaContext(function_name="molesignal-alert_evaluation_worker", timeout_s=EVALUATOR.timeout_s)
    summary = load_handler(EVALUATOR.handler)(event, context)
    return dict(summary)


def webhook(client: httpx.Client, by: Session, url: str, *, secret: str | None = None, **extra: Any) -> str:
    body: dict[str, Any] = {"name": unique("hook"), "type": "webhook", "url": url, **extra}
    if secret:
        body["secret"] = secret
    response = client.post("/api/v1/alerts/destinations", json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def history(client: httpx.Client, by: Session, rule_id: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/alerts/history", params={"rule_id": rule_id, "limit": 500}, headers=by.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def ses_sent_to(address: str) -> list[dict[str, Any]]:
    """What the emulator's SES sent to ``address``, from its ``GET /_aws/ses`` (the emulator is
    a process of its own; LocalStack answers the same path in the same shape)."""
    from molesignal.settings import get_settings

    answer = httpx.get(f"{(get_settings().aws_endpoint_url or '').rstrip('/')}/_aws/ses", timeout=30)
    answer.raise_for_status()
    sent = answer.json()["messages"]
    return [m for m in sent if address in (m.get("Destination") or {}).get("ToAddresses", [])]
