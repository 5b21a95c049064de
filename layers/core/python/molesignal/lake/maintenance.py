"""Stream maintenance: settings and deletion."""

from __future__ import annotations

from typing import Any

from molesignal.errors import NotFound
from molesignal.lake import garbage, glue
from molesignal.lake.retention import REMOVALS_PER_TRANSACTION
from molesignal.lake.streams import Stream, Streams, forget_stream, note_local_change, stream_key
from molesignal.quotas import storage_usage_change
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
    forget_stream(org_id, name)
    return Stream.from_item(item)


def delete_stream(table: Table, org_id: str, name: str) -> int:
    """Remove a stream: first its metadata (queries stop seeing it), then its manifest.

    Its objects are not deleted here but scheduled, in the transactions that remove their
    manifest entries, for deletion after the garbage grace (``molesignal.lake.garbage``), as
    compaction and retention do: a query planned a moment earlier may still be reading them.
    """
    streams = Streams(table)
    streams.get(org_id, name)  # NotFound for a stream that does not exist
    table.delete(*stream_key(org_id, name))
    forget_stream(org_id, name)
    note_local_change(org_id)
    files = streams.manifest(org_id, name)
    delete_after = garbage.new_delete_after(garbage.DEFAULT_GRACE_S)
    for start in range(0, len(files), REMOVALS_PER_TRANSACTION):
        batch = files[start : start + REMOVALS_PER_TRANSACTION]
        operations: list[dict[str, Any]] = [
            {"Delete": {"TableName": table.name, "Key": table.marshal({"pk": e["pk"], "sk": e["sk"]})}} for e in batch
        ]
        operations.append(storage_usage_change(table, org_id, -sum(int(e["bytes"]) for e in batch)))
        operations.append(
            garbage.grace_put(table, org_id, batch, delete_after_us=delete_after, reason="stream deleted")
        )
        table.client.transact_write_items(TransactItems=operations)
    glue.drop_table(org_id, name)
    return len(files)
