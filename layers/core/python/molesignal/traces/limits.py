"""Spec 003's per-org rate limits, counted per minute: reads (GET) 600, writes (POST) 120,
bundle ingest 30 (settings). One atomic counter per org, class and minute in the single
table, so every function instance sees the same count; over the limit the answer is 429
with ``Retry-After`` set to the seconds left in the minute."""

from __future__ import annotations

import time
from enum import StrEnum

from molesignal.errors import RateLimited
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table


class TraceRate(StrEnum):
    READ = "read"
    WRITE = "write"
    INGEST = "ingest"


def per_minute(kind: TraceRate) -> int:
    settings = get_settings()
    return {
        TraceRate.READ: settings.trace_rate_get_per_min,
        TraceRate.WRITE: settings.trace_rate_post_per_min,
        TraceRate.INGEST: settings.trace_rate_ingest_per_min,
    }[kind]


def check_trace_rate(table: Table, org_id: str, kind: TraceRate, *, now: float | None = None) -> None:
    moment = time.time() if now is None else now
    minute = int(moment // 60)
    pk, sk = keys.rate_window(org_id, f"trace_{kind.value}", minute)
    item = table.update(
        pk, sk, "ADD #n :one SET expires_at = :exp", names={"#n": "n"}, values={":one": 1, ":exp": minute * 60 + 180}
    )
    limit = per_minute(kind)
    if int(item["n"]) > limit:
        raise RateLimited(
            f"rate limited: {limit} trace {kind.value} requests per minute for this org",
            retry_after_s=60 - int(moment) % 60,
            code="trace_rate_limited",
        )
