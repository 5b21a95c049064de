"""What each kind of log stream receives for one chunk of events.

* webhook: one JSON document ``{version, delivery_id, org_id, log_stream_id, first_seq,
  last_seq, count, events: [...]}``, signed (``molesignal.outbound.signing``);
* Datadog: the logs intake's JSON array, one entry per event (``ddsource``, ``service``,
  ``hostname``, ``ddtags``, ``message``, and the event under ``audit``), ``DD-API-KEY`` header;
  Datadog stamps each log with its intake time (it refuses times older than 18 hours, and an
  audit event's ``occurred_at`` can be older), the event's own times stay in ``audit``;
* Splunk HEC: one JSON object per event, concatenated (HEC's batch form), ``time`` the event's
  ``occurred_at`` in epoch seconds, ``Authorization: Splunk <token>``;
* S3: gzip NDJSON, one event per line, at ``<prefix>YYYY/MM/DD/HH/<delivery_id>.ndjson.gz``
  (the hour the first event was received, UTC).
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from molesignal.logstreams.message import FanoutMessage

HOSTNAME = "molesignal"


def webhook_body(message: FanoutMessage, events: Sequence[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "version": "1",
            "delivery_id": message.delivery_id,
            "org_id": message.org_id,
            "log_stream_id": message.log_stream_id,
            "first_seq": message.first_seq,
            "last_seq": message.last_seq,
            "count": len(events),
            "events": list(events),
        }
    )


def summary(event: dict[str, Any]) -> str:
    actor = event.get("actor") or {}
    return f"{event.get('action')} by {actor.get('type')} {actor.get('id')}"


def datadog_body(org_id: str, settings: dict[str, Any], events: Sequence[dict[str, Any]]) -> bytes:
    base_tags = [f"org_id:{org_id}", *settings.get("tags", [])]
    entries = [
        {
            "ddsource": settings.get("source") or "molesignal",
            "service": settings.get("service") or "molesignal-audit",
            "hostname": HOSTNAME,
            "ddtags": ",".join([*base_tags, f"action:{event['action']}"]),
            "message": summary(event),
            "status": "info",
            "audit": event,
        }
        for event in events
    ]
    return orjson.dumps(entries)


def epoch_seconds(iso_time: str) -> float:
    moment = datetime.fromisoformat(iso_time.replace("Z", "+00:00"))
    return round(moment.timestamp(), 6)


def splunk_body(org_id: str, settings: dict[str, Any], events: Sequence[dict[str, Any]]) -> bytes:
    lines = []
    for event in events:
        entry: dict[str, Any] = {
            "time": epoch_seconds(str(event["occurred_at"])),
            "host": HOSTNAME,
            "source": settings.get("source") or "molesignal",
            "sourcetype": settings.get("sourcetype") or "molesignal:audit",
            "event": event,
            "fields": {"org_id": org_id, "action": event["action"]},
        }
        if settings.get("index"):
            entry["index"] = settings["index"]
        lines.append(orjson.dumps(entry))
    return b"\n".join(lines)


def s3_key(prefix: str, message: FanoutMessage, events: Sequence[dict[str, Any]]) -> str:
    received = datetime.fromisoformat(str(events[0]["received_at"]).replace("Z", "+00:00"))
    return f"{prefix}{received:%Y/%m/%d/%H}/{message.delivery_id}.ndjson.gz"


def s3_body(events: Sequence[dict[str, Any]]) -> bytes:
    ndjson = b"".join(orjson.dumps(event) + b"\n" for event in events)
    return gzip.compress(ndjson, compresslevel=6, mtime=0)
