"""Stream maintenance: settings and deletion."""

from __future__ import annotations

from typing import Any

from molesignal import aws
from molesignal.errors import NotFound
from molesignal.lake.streams import Stream, Streams, manifest_partition, note_local_change, stream_key
from molesignal.quotas import Limiter
from molesignal.settings import get_settings
from molesignal.storage.table import ConditionFailed, Table


def update_stream_settings(
    table: Table, org_id: str, name: str, *, retention_days: int | None, field_cap: int | None
) -> Stream:
    sets: list[str] = []
    values: dict[str, Any] = {}
    if retention_days is not None:
        sets.append("retention_days = :r")
        values[":r"] = retention_days
    if field_cap is not None:
        sets.append("field_cap = :c")
        values[":c"] = field_cap
    if not sets:
        return Streams(table).get(org_id, name)
    pk, sk = stream_key(org_id, name)
    try:
        item = table.update(pk, sk, "SET " + ", ".join(sets), values=values, condition="attribute_exists(pk)")
    except ConditionFailed as exc:
        raise NotFound(f"not found: stream {name!r}") from exc
    return Stream.from_item(item)


def delete_stream(table: Table, org_id: str, name: str) -> int:
    """Remove a stream: first its metadata (queries stop seeing it), then manifest and files."""
    streams = Streams(table)
    stream = streams.get(org_id, name)
    table.delete(*stream_key(org_id, name))
    note_local_change(org_id)
    files = streams.manifest(org_id, name)
    s3 = aws.client("s3")
    bucket = get_settings().resource_name("lake")
    for start in range(0, len(files), 1000):
        chunk = files[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f["key"]} for f in chunk], "Quiet": True})
    partition = manifest_partition(org_id, name)
    for entry in files:
        table.delete(partition, entry["sk"])
    Limiter(table).add_storage(org_id, -sum(int(f["bytes"]) for f in files))
    from molesignal.query.glue import drop_table

    drop_table(org_id, name)
    del stream
    return len(files)
