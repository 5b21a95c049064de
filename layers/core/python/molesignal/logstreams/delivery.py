"""Sending one chunk of events to one log stream, and what the receiver answered."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from molesignal import __version__, aws
from molesignal.logstreams import formats
from molesignal.logstreams.message import FanoutMessage
from molesignal.logstreams.model import LogStream, LogStreamType, target_of
from molesignal.outbound import signing
from molesignal.outbound.targets import TargetRefused, post

DELIVERY_HEADER = "X-MoleSignal-Delivery"
ATTEMPT_HEADER = "X-MoleSignal-Attempt"
USER_AGENT = f"MoleSignal-LogStreams/{__version__}"


@dataclass(frozen=True)
class Report:
    ok: bool
    detail: str  # the receiver's answer (an excerpt), or why nothing was sent
    status: int | None = None
    took_ms: float = 0.0
    retryable: bool = True  # False: the same request can never succeed (a refused address)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "detail": self.detail, "took_ms": round(self.took_ms, 1)}


def deliver(stream: LogStream, message: FanoutMessage, events: Sequence[dict[str, Any]], attempt: int) -> Report:
    started = time.perf_counter()
    try:
        if stream.type is LogStreamType.S3:
            return _s3(stream, message, events, started)
        return _http(stream, message, events, attempt)
    except TargetRefused as exc:
        return Report(False, exc.message, took_ms=_since(started), retryable=False)
    except OSError as exc:
        return Report(False, f"the receiver could not be reached: {exc}", took_ms=_since(started))
    except Exception as exc:  # an AWS error (S3, KMS): reported, then retried
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return Report(False, f"{error.get('Code', 'Error')}: {error.get('Message', '')}", took_ms=_since(started))
        if isinstance(exc, BotoCoreError):
            return Report(False, str(exc), took_ms=_since(started))
        raise


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def request_for(
    stream: LogStream, message: FanoutMessage, events: Sequence[dict[str, Any]], attempt: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers an HTTP log stream is sent."""
    parts = stream.secret_parts()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: message.delivery_id,
        ATTEMPT_HEADER: str(attempt),
    }
    if stream.type is LogStreamType.WEBHOOK:
        body = formats.webhook_body(message, events)
        headers.update(signing.signed_headers(str(parts["secret"]), body))
    elif stream.type is LogStreamType.DATADOG:
        body = formats.datadog_body(stream.org_id, stream.settings, events)
        headers["DD-API-KEY"] = str(parts["api_key"])
    else:
        body = formats.splunk_body(stream.org_id, stream.settings, events)
        headers["Authorization"] = f"Splunk {parts['token']}"
    return body, headers


def _http(stream: LogStream, message: FanoutMessage, events: Sequence[dict[str, Any]], attempt: int) -> Report:
    target = target_of(stream.type, str(stream.secret_parts()["url"]))
    body, headers = request_for(stream, message, events, attempt)
    answer = post(target, body, headers)
    detail = f"HTTP {answer.status}" + (f": {answer.excerpt}" if answer.excerpt else "")
    return Report(answer.ok, detail, status=answer.status, took_ms=answer.took_ms)


def _s3(stream: LogStream, message: FanoutMessage, events: Sequence[dict[str, Any]], started: float) -> Report:
    settings = stream.settings
    key = formats.s3_key(str(settings.get("prefix") or ""), message, events)
    extra: dict[str, Any] = {}
    if settings.get("expected_bucket_owner"):
        extra["ExpectedBucketOwner"] = settings["expected_bucket_owner"]
    aws.client("s3", region=settings.get("region")).put_object(
        Bucket=settings["bucket"],
        Key=key,
        Body=formats.s3_body(events),
        ContentType="application/x-ndjson",
        ContentEncoding="gzip",
        # The bucket's owner owns what we write (a no-op where ACLs are disabled, as AWS advises).
        ACL="bucket-owner-full-control",
        **extra,
    )
    return Report(True, f"s3://{settings['bucket']}/{key}", took_ms=_since(started))
