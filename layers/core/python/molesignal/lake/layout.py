"""Where lake files live: ``lake/org=<org>/stream=<stream>/date=<YYYY-MM-DD>/hour=<HH>/<id>.parquet``."""

from __future__ import annotations

from datetime import UTC, datetime

HOUR_US = 3_600_000_000
LAKE_PREFIX = "lake/"


def hour_of(timestamp_us: int) -> int:
    return timestamp_us // HOUR_US * HOUR_US


def partition_prefix(org_id: str, stream: str, hour_us: int) -> str:
    moment = datetime.fromtimestamp(hour_us / 1_000_000, tz=UTC)
    return f"{LAKE_PREFIX}org={org_id}/stream={stream}/date={moment:%Y-%m-%d}/hour={moment:%H}/"


def file_key(org_id: str, stream: str, hour_us: int, file_id: str) -> str:
    return f"{partition_prefix(org_id, stream, hour_us)}{file_id}.parquet"


def stream_prefix(org_id: str, stream: str) -> str:
    return f"{LAKE_PREFIX}org={org_id}/stream={stream}/"
