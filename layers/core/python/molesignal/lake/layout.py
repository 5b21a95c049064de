"""Where lake files live: ``lake/org=<org>/stream=<stream>/date=<YYYY-MM-DD>/hour=<HH>/<id>.parquet``.

The partition names are calendar dates, so the layout can place only instants that have
one: from the epoch up to the end of year 9999 (UTC). Ingest checks that range at the door
(``is_placeable``); a record that reaches the worker outside it anyway is set aside under
``quarantine_key`` instead of failing its whole batch.
"""

from __future__ import annotations

from datetime import UTC, datetime

HOUR_US = 3_600_000_000
LAKE_PREFIX = "lake/"
QUARANTINE_PREFIX = "_quarantine/"
MIN_TIMESTAMP_US = 0  # 1970-01-01T00:00:00Z
MAX_TIMESTAMP_US = 253_402_300_800_000_000  # 10000-01-01T00:00:00Z, exclusive: the first µs with no date


def is_placeable(timestamp_us: int) -> bool:
    return MIN_TIMESTAMP_US <= timestamp_us < MAX_TIMESTAMP_US


def hour_of(timestamp_us: int) -> int:
    return timestamp_us // HOUR_US * HOUR_US


def partition_prefix(org_id: str, stream: str, hour_us: int) -> str:
    moment = datetime.fromtimestamp(hour_us // 1_000_000, tz=UTC)
    return f"{LAKE_PREFIX}org={org_id}/stream={stream}/date={moment:%Y-%m-%d}/hour={moment:%H}/"


def file_key(org_id: str, stream: str, hour_us: int, file_id: str) -> str:
    return f"{partition_prefix(org_id, stream, hour_us)}{file_id}.parquet"


def stream_prefix(org_id: str, stream: str) -> str:
    return f"{LAKE_PREFIX}org={org_id}/stream={stream}/"


def table_scope_prefix(org_id: str, table_id: str, scope: str) -> str:
    """Where one scope of a SQL table keeps its files (molesignal.lake.tables)."""
    return f"{LAKE_PREFIX}org={org_id}/table={table_id}/scope={scope}/"


def table_file_key(org_id: str, table_id: str, scope: str, file_id: str) -> str:
    return f"{table_scope_prefix(org_id, table_id, scope)}{file_id}.parquet"


FILES_PREFIX = "files/"  # in the blob bucket: the files FILE columns refer to


def table_blob_prefix(org_id: str, table_id: str) -> str:
    return f"{FILES_PREFIX}org={org_id}/table={table_id}/"


def table_blob_key(org_id: str, table_id: str, scope: str, subfolder: str, file_id: str) -> str:
    """Where a stored file of a FILE column lives: per org, table and scope (user), like the rows."""
    return f"{table_blob_prefix(org_id, table_id)}scope={scope}/{subfolder}/{file_id}"


def quarantine_key(org_id: str, stream: str, request_id: str) -> str:
    """Where the worker keeps a batch's records it cannot place (canonical NDJSON, one object
    per request id, so a redelivery overwrites it with the same bytes)."""
    return f"{QUARANTINE_PREFIX}org={org_id}/stream={stream}/{request_id}.ndjson"
