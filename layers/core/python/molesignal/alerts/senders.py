"""Sending one notification to one destination, and what the receiver answered.

Webhooks get the notification's JSON (docs/alerts.md) signed with the destination's secret:
``X-MoleSignal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, so a
receiver can check both who sent it and that it is recent (reject old ``t`` to stop replays).
Slack gets an incoming-webhook message, e-mail goes through SES, SNS through ``Publish``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal import __version__, aws
from molesignal.alerts.destinations import Destination, DestinationType
from molesignal.alerts.notification import Notification, Status
from molesignal.alerts.targets import TargetRefused, parse_target, post
from molesignal.settings import get_settings

SIGNATURE_HEADER = "X-MoleSignal-Signature"
DELIVERY_HEADER = "X-MoleSignal-Delivery"
EVENT_HEADER = "X-MoleSignal-Event"


@dataclass(frozen=True)
class DeliveryReport:
    ok: bool
    detail: str  # the receiver's answer (an excerpt) or why nothing was sent
    status: int | None = None  # the HTTP status, when there was one
    took_ms: float = 0.0
    retryable: bool = True  # False: the same request can never succeed (a refused address)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "detail": self.detail, "took_ms": round(self.took_ms, 1)}


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def send(destination: Destination, notification: Notification) -> DeliveryReport:
    started = time.perf_counter()
    try:
        if destination.type is DestinationType.WEBHOOK:
            return _webhook(destination, notification)
        if destination.type is DestinationType.SLACK:
            return _slack(destination, notification)
        if destination.type is DestinationType.EMAIL:
            return _email(destination, notification)
        return _sns(destination, notification)
    except TargetRefused as exc:
        return DeliveryReport(False, exc.message, took_ms=_since(started), retryable=False)
    except OSError as exc:
        return DeliveryReport(False, f"the receiver could not be reached: {exc}", took_ms=_since(started))
    except Exception as exc:  # an AWS error (SES, SNS, KMS): reported, then retried
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            detail = f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
            return DeliveryReport(False, detail, took_ms=_since(started))
        if isinstance(exc, BotoCoreError):
            return DeliveryReport(False, str(exc), took_ms=_since(started))
        raise


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _http(destination: Destination, notification: Notification, body: bytes, extra: dict[str, str]) -> DeliveryReport:
    parts = destination.secret_parts()
    target = parse_target(str(parts.get("url", "")))
    headers = {
        **dict(parts.get("headers") or {}),
        **extra,
        "Content-Type": "application/json",
        "User-Agent": f"MoleSignal-Alerts/{__version__}",
        DELIVERY_HEADER: notification.id,
        EVENT_HEADER: notification.status.value,
    }
    secret = parts.get("secret")
    if secret:
        headers[SIGNATURE_HEADER] = signature(str(secret), int(time.time()), body)
    answer = post(target, body, headers)
    detail = f"HTTP {answer.status}" + (f": {answer.excerpt}" if answer.excerpt else "")
    return DeliveryReport(answer.ok, detail, status=answer.status, took_ms=answer.took_ms)


def _webhook(destination: Destination, notification: Notification) -> DeliveryReport:
    return _http(destination, notification, orjson.dumps(notification.payload()), {})


def slack_message(notification: Notification) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the fallback Slack requires) and blocks."""
    emojis = {Status.FIRING: ":rotating_light:", Status.RESOLVED: ":white_check_mark:"}
    emoji = emojis.get(notification.status, ":bell:")
    headline = f"{emoji} {notification.message or notification.title}"
    fields = [f"*{k}*: {v}" for k, v in sorted(notification.labels.items())]
    if notification.value is not None:
        fields.append(f"*value*: {notification.value}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notification.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
    ]
    if fields:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(fields)[:3000]}})
    return {"text": f"{notification.title}: {notification.message}"[:3000], "blocks": blocks}


def _slack(destination: Destination, notification: Notification) -> DeliveryReport:
    return _http(destination, notification, orjson.dumps(slack_message(notification)), {})


def _email(destination: Destination, notification: Notification) -> DeliveryReport:
    started = time.perf_counter()
    response = aws.client("ses").send_email(
        Source=get_settings().alert_email_from,
        Destination={"ToAddresses": [destination.address]},
        Message={
            "Subject": {"Data": notification.title[:200], "Charset": "UTF-8"},
            "Body": {"Text": {"Data": notification.text(), "Charset": "UTF-8"}},
        },
    )
    return DeliveryReport(True, f"SES message {response.get('MessageId', '')}", took_ms=_since(started))


def _sns(destination: Destination, notification: Notification) -> DeliveryReport:
    started = time.perf_counter()
    subject = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in notification.title)[:100]
    response = aws.client("sns").publish(
        TopicArn=destination.topic_arn,
        Subject=subject,
        Message=orjson.dumps(notification.payload()).decode(),
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": notification.status.value},
            "severity": {"DataType": "String", "StringValue": notification.severity},
        },
    )
    return DeliveryReport(True, f"SNS message {response.get('MessageId', '')}", took_ms=_since(started))
