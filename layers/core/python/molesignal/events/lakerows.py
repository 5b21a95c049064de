"""Reading an org's ``audit_events`` rows straight from the lake files the manifest lists.

Verification reads what storage holds, file by file, not what a query engine makes of it:
a file that cannot be read is itself a finding.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from molesignal import aws
from molesignal.events import rows
from molesignal.lake.streams import Streams
from molesignal.settings import get_settings
from molesignal.storage.table import Table


@dataclass(frozen=True)
class Unreadable:
    key: str
    reason: str


def read_rows(
    table: Table, org_id: str, start_us: int | None, end_us: int | None, seq_range: tuple[int, int]
) -> Iterator[dict[str, Any] | Unreadable]:
    """Rows whose ``seq`` lies in ``seq_range`` (inclusive) from files that may hold rows
    received in [start, end)."""
    s3 = aws.client("s3")
    bucket = get_settings().resource_name("lake")
    low, high = seq_range
    for entry in Streams(table).manifest(org_id, rows.STREAM, start_us=start_us, end_us=end_us):
        try:
            body = s3.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
            found = pq.read_table(io.BytesIO(body)).to_pylist()
        except Exception as exc:  # a missing or corrupt object is a finding, not a crash
            yield Unreadable(str(entry["key"]), type(exc).__name__)
            continue
        for row in found:
            if low <= int(row["seq"]) <= high:
                yield row
