"""Where a completed export is also sent, besides the exports bucket: one of the org's log streams.

* ``s3``: the file is copied (server side) into the customer's bucket at
  ``<prefix>exports/<schedule or export id>/<export id>.<ext>``;
* ``webhook``: a signed ``POST`` (the log stream's secret, the same signature scheme as its
  event deliveries) of ``{"type": "export.completed", "export": {...}, "download": <path>}``;
  the receiver downloads with its own API credentials through the usual 302.

Datadog and Splunk log streams take log entries, not files, and are refused as destinations.
A failed delivery raises, so the export worker's message is retried (then dead-lettered);
the export's ``delivery`` block shows the last outcome.
"""

from __future__ import annotations

from typing import Any

import orjson

from molesignal import aws
from molesignal.errors import Unprocessable
from molesignal.exports.formats import extension
from molesignal.logstreams.delivery import USER_AGENT
from molesignal.logstreams.model import LogStreamType, target_of
from molesignal.logstreams.store import LogStreams
from molesignal.outbound import signing
from molesignal.outbound.targets import post
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

FILE_DESTINATIONS = (LogStreamType.S3, LogStreamType.WEBHOOK)


class DeliveryFailed(Exception):
    """The destination did not take the export; the worker's message is retried."""


def check_delivery(table: Table, org_id: str, delivery: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored form of a requested delivery (None: the exports bucket only)."""
    if delivery is None or delivery.get("type") == "bucket":
        return None
    stream = LogStreams(table).get(org_id, str(delivery.get("log_stream_id") or ""))
    if stream.type not in FILE_DESTINATIONS:
        raise Unprocessable(
            f"invalid argument: delivery.log_stream_id: a {stream.type.value} log stream takes log entries, "
            "not files; use an s3 or webhook log stream"
        )
    return {"type": "log_stream", "log_stream_id": stream.id}


def deliver(table: Table, item: Item, shown: dict[str, Any]) -> str:
    """Send the completed export ``item`` (``shown``: its public form); a short description."""
    org_id, export_id = str(item["org_id"]), str(item["export_id"])
    stream = LogStreams(table).get(org_id, str(item["delivery"]["log_stream_id"]))
    if stream.type is LogStreamType.S3:
        settings = stream.settings
        folder = item.get("schedule_id") or export_id
        name = f"{export_id}.{extension(str(item['spec']['format']), bool(item['spec'].get('gzip')))}"
        key = f"{settings.get('prefix') or ''}exports/{folder}/{name}"
        extra: dict[str, Any] = {"ACL": "bucket-owner-full-control"}
        if settings.get("expected_bucket_owner"):
            extra["ExpectedBucketOwner"] = settings["expected_bucket_owner"]
        source = {"Bucket": get_settings().resource_name("exports"), "Key": item["object_key"]}
        try:
            aws.client("s3", region=settings.get("region")).copy(source, settings["bucket"], key, ExtraArgs=extra)
        except Exception as exc:  # botocore's errors: reported and retried
            raise DeliveryFailed(f"copy to s3://{settings['bucket']}/{key} failed: {exc}") from exc
        return f"s3://{settings['bucket']}/{key}"
    body = orjson.dumps(
        {"type": "export.completed", "export": shown, "download": f"/api/v1/exports/{export_id}/download"}
    )
    parts = stream.secret_parts()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers.update(signing.signed_headers(str(parts["secret"]), body))
    try:
        answer = post(target_of(stream.type, str(parts["url"])), body, headers)
    except (OSError, Unprocessable) as exc:
        raise DeliveryFailed(f"the receiver could not be reached: {exc}") from exc
    if not answer.ok:
        raise DeliveryFailed(f"HTTP {answer.status}: {answer.excerpt}")
    return f"HTTP {answer.status}"
