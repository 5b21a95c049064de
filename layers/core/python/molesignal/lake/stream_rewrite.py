"""Rewriting an ingest stream's files (DELETE on a stream: erasure), copy-on-write.

Each affected file is read, its deleted rows are left out, and what remains is written as a
new file of the same hour partition. One DynamoDB transaction per batch of files then swaps
them in the manifest, exactly as a compaction does (``molesignal.lake.compaction``):

* the new entries come first, and each ``replaces`` the entry it was written from and sorts
  after it (``zc<generation+1>-…``), so a reader that sees the commit half-applied still
  counts every row once (``molesignal.lake.visibility``);
* every replaced entry must still be listed: if a compaction, retention or another DELETE
  changed a file first, the batch is lost and the statement re-reads the manifest and
  tries again, so no row is ever resurrected, lost or doubled;
* the stream's ``version`` moves (cached answers that counted the rows become unreachable)
  and its row, byte and file counts with it, and the old objects are scheduled for deletion
  after the garbage grace; the new ones were reserved before they were written.

A concurrent ingest only adds files, and its own commit is conditional on the version, so it
simply lands after (or before) the DELETE: its rows are never touched by it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from molesignal import aws
from molesignal.clock import now_us
from molesignal.ingest.normalize import TIMESTAMP
from molesignal.lake import garbage
from molesignal.lake.compaction import COMPACTED_PREFIX, generation_of
from molesignal.lake.layout import file_key
from molesignal.lake.streams import manifest_sort_key, note_local_change, stream_key
from molesignal.lake.writer import encode_parquet
from molesignal.quotas import storage_usage_change
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

FILES_PER_COMMIT = 32  # each file: a put, a delete and a release; plus garbage, stream, usage: ≤ 100


class RewriteLost(Exception):
    """A file the batch rewrote changed before its commit: read the manifest again."""


@dataclass
class Rewritten:
    old: Item
    new: Item | None  # None when no row of the file remains
    removed_rows: int


def rewrite_id(entry: Mapping[str, Any], nonce: str) -> str:
    """A name for the rewrite of ``entry`` that sorts after it, as a compaction output's does."""
    digest = hashlib.sha256(f"{entry['key']}\n{nonce}".encode()).hexdigest()
    return f"{COMPACTED_PREFIX}{1 + generation_of(entry):06d}-{digest[:24]}"


class StreamRewriter:
    def __init__(self, table: Table | None = None, bucket: str | None = None) -> None:
        self.table = table or Table()
        self.bucket = bucket or get_settings().resource_name("lake")

    def read(self, entry: Mapping[str, Any]) -> pa.Table:
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=str(entry["key"]))["Body"].read()
        return pq.read_table(io.BytesIO(body))

    def without_rows(self, org_id: str, stream: str, entry: Item, rows: Sequence[int], nonce: str) -> Rewritten:
        """Write ``entry``'s file without the rows at positions ``rows`` (reserved, not listed)."""
        data = self.read(entry)
        drop = pa.array(sorted(set(rows)), pa.int64())
        keep = pc.invert(pc.is_in(pa.array(range(data.num_rows), pa.int64()), value_set=drop))
        remaining = data.filter(keep)
        removed = data.num_rows - remaining.num_rows
        if not remaining.num_rows:
            return Rewritten(entry, None, removed)
        hour = int(entry["hour_us"])
        file_id = rewrite_id(entry, nonce)
        key = file_key(org_id, stream, hour, file_id)
        sort_key = manifest_sort_key(hour, file_id)
        garbage.reserve_output(self.table, org_id, key, manifest_pk=str(entry["pk"]), manifest_sk=sort_key)
        body = encode_parquet(remaining)
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet"
        )
        timestamps = pc.min_max(remaining.column(TIMESTAMP))
        new: Item = {
            "pk": entry["pk"],
            "sk": sort_key,
            "kind": "lake_file",
            "key": key,
            "rows": remaining.num_rows,
            "bytes": len(body),
            "min_ts_us": int(timestamps["min"].as_py()),
            "max_ts_us": int(timestamps["max"].as_py()),
            "hour_us": hour,
            "request_id": file_id,
            "created_at_us": now_us(),
            "generation": 1 + generation_of(entry),
            "replaces": [str(entry["sk"])],
        }
        if entry.get("no_compact"):
            new["no_compact"] = True
        return Rewritten(entry, new, removed)

    def commit(self, org_id: str, stream: str, batch: Sequence[Rewritten]) -> None:
        """Swap the batch's files in one transaction (RewriteLost if one changed meanwhile)."""
        table = self.table
        added = [r.new for r in batch if r.new is not None]
        removed = [r.old for r in batch]
        delta_bytes = sum(int(e["bytes"]) for e in added) - sum(int(e["bytes"]) for e in removed)
        operations: list[dict[str, Any]] = [table.put_op(e, condition="attribute_not_exists(pk)") for e in added]
        operations += [table.delete_op(str(e["pk"]), str(e["sk"]), condition="attribute_exists(pk)") for e in removed]
        operations += [garbage.release_output(table, org_id, str(e["key"])) for e in added]
        operations.append(
            garbage.grace_put(
                table,
                org_id,
                removed,
                delete_after_us=garbage.new_delete_after(garbage.DEFAULT_GRACE_S),
                reason="rows deleted",
            )
        )
        pk, sk = stream_key(org_id, stream)
        operations.append(
            table.update_op(
                pk,
                sk,
                "ADD version :one, row_count :rows, #bytes :bytes, file_count :files",
                condition="attribute_exists(pk)",
                names={"#bytes": "bytes"},
                values={
                    ":one": 1,
                    ":rows": -sum(r.removed_rows for r in batch),
                    ":bytes": delta_bytes,
                    ":files": len(added) - len(removed),
                },
            )
        )
        operations.append(storage_usage_change(table, org_id, delta_bytes))
        client = table.client
        try:
            client.transact_write_items(TransactItems=operations)
        except client.exceptions.TransactionCanceledException as exc:
            codes = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
                raise RewriteLost(stream) from exc
            raise
        note_local_change(org_id)

    def abandon(self, org_id: str, batch: Sequence[Rewritten]) -> None:
        """The objects of a lost batch, and their reservations."""
        keys = [str(r.new["key"]) for r in batch if r.new is not None]
        garbage.abandon_outputs(self.table, org_id, self.bucket, keys)
