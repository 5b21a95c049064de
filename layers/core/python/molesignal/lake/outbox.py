"""Committed changes still to be published: the transactional outbox (ADR 0020).

A commit whose change a topic sources (``changes.wants_durable``) puts an outbox item in its
own DynamoDB transaction: the SQL table scope's commit (``table_commit``) and the ingest
landing's (``writer``). The committing process publishes the change right after the commit and
deletes the item; a process that dies in between leaves it for the sweeper
(``topics.sweeper``, the ``outbox_worker`` every minute), which publishes items older than
``outbox_sweep_after_s``. Publishing is idempotent by the change id, so the sweeper racing a
slow publisher writes each message once.

Item: ``OUTBOX#<shard>`` / ``<created µs, 20 digits>#<change id>``. The shard (one of 16, so
no partition key is hot) is chosen by the org and relation, so a relation's items are in one
shard in commit order — an item is created after its statement read the scope's version it
commits on, so of two commits to one scope the later one's item sorts later — and the
sweeper, reading each shard oldest first, publishes them in that order. It holds what the
change announced and its rows as Arrow IPC (zstd): inline up to ``INLINE_BYTES``, otherwise
an object of the lake bucket (``outbox/…``) written before the commit and deleted with the
item. An object whose commit never happened is deleted by the sweeper after an hour.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pyarrow as pa

from molesignal import aws
from molesignal.clock import now_us
from molesignal.lake.changes import OutboxRef, RowChange
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

SHARDS = 16
# Rows up to this size travel in the item (a DynamoDB item holds 400 KB, and a transactional
# write costs 2 write units per KB); larger ones in an S3 object (one PUT, one GET).
INLINE_BYTES = 32 * 1024
PAYLOAD_PREFIX = "outbox/"
ORPHAN_AFTER_US = 3600 * 1_000_000  # an object without its item this old: its commit failed
_PK = "OUTBOX#"


def new_change_id() -> str:
    return secrets.token_hex(12)


def shard_key(shard: int) -> str:
    return f"{_PK}{shard:02d}"


def _payload_key(pk: str, sk: str) -> str:
    return f"{PAYLOAD_PREFIX}{pk.removeprefix(_PK)}/{sk}.arrow"


def _item_of_payload(key: str) -> tuple[str, str]:
    shard, _, name = key.removeprefix(PAYLOAD_PREFIX).partition("/")
    return f"{_PK}{shard}", name.removesuffix(".arrow")


def encode_rows(rows: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(rows)
    return bytes(sink.getvalue().to_pybytes())


def decode_rows(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.BufferReader(data)).read_all()


class Outbox:
    def __init__(self, table: Table | None = None, bucket: str | None = None) -> None:
        self.table = table or Table()
        self.bucket = bucket or get_settings().resource_name("lake")

    def entry(self, change: RowChange) -> tuple[RowChange, dict[str, Any]]:
        """The change with its outbox reference, and the transaction operation that puts the
        item. Large rows are written to S3 here, before the commit. A retried commit takes a
        new entry (its item then sorts after the commit it lost to)."""
        change_id = new_change_id()
        pk = shard_key(zlib.crc32(f"{change.org_id}#{change.relation}".encode()) % SHARDS)
        sk = f"{now_us():020d}#{change_id}"
        data = encode_rows(change.rows)
        item: Item = {
            "pk": pk,
            "sk": sk,
            "kind": "outbox",
            "change_id": change_id,
            "org_id": change.org_id,
            "relation": change.relation,
            "operation": change.operation,
            "row_count": change.row_count,
            "actor": change.actor,
            "created_at_us": int(sk.partition("#")[0]),
        }
        for name in ("table_id", "scope", "version"):
            value = getattr(change, name)
            if value is not None:
                item[name] = value
        rows_key: str | None = None
        if len(data) <= INLINE_BYTES:
            item["rows"] = data
        else:
            rows_key = _payload_key(pk, sk)
            aws.client("s3").put_object(Bucket=self.bucket, Key=rows_key, Body=data)
            item["rows_key"] = rows_key
        ref = OutboxRef(pk, sk, rows_key)
        return replace(change, change_id=change_id, outbox=ref), self.table.put_op(item)

    def done(self, ref: OutboxRef) -> None:
        """The change is published: forget its item and its object."""
        self.table.delete(ref.pk, ref.sk)
        if ref.rows_key:
            aws.client("s3").delete_object(Bucket=self.bucket, Key=ref.rows_key)

    def pending(self, older_than_us: int, limit: int = 100) -> Iterator[Item]:
        """Items of changes committed before ``older_than_us`` and not yet published, oldest
        first per shard (``load`` makes each the change it stands for)."""
        for shard in range(SHARDS):
            cursor: str | None = None
            while True:
                items, cursor = self.table.query(
                    shard_key(shard), sk_at_most=f"{older_than_us:020d}", limit=limit, consistent=True, cursor=cursor
                )
                yield from items
                if not cursor:
                    break

    def load(self, item: Item) -> RowChange:
        rows_key = item.get("rows_key")
        if rows_key:
            body = aws.client("s3").get_object(Bucket=self.bucket, Key=str(rows_key))["Body"].read()
        else:
            body = item["rows"]
        version = item.get("version")
        return RowChange(
            org_id=str(item["org_id"]),
            relation=str(item["relation"]),
            operation=str(item["operation"]),
            row_count=int(item["row_count"]),
            actor=str(item["actor"]),
            table_id=item.get("table_id"),
            scope=item.get("scope"),
            version=None if version is None else int(version),
            rows=decode_rows(bytes(body)),
            change_id=str(item["change_id"]),
            outbox=OutboxRef(str(item["pk"]), str(item["sk"]), None if rows_key is None else str(rows_key)),
        )

    def delete_orphan_payloads(self, now: int | None = None) -> int:
        """Objects written for a commit that never happened (no item names them), over an hour old."""
        s3 = aws.client("s3")
        cutoff = (now if now is not None else now_us()) - ORPHAN_AFTER_US
        deleted = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PAYLOAD_PREFIX):
            for obj in page.get("Contents") or ():
                key = str(obj["Key"])
                pk, sk = _item_of_payload(key)
                created = int(sk.partition("#")[0]) if sk.partition("#")[0].isdigit() else 0
                if created < cutoff and self.table.get(pk, sk) is None:
                    s3.delete_object(Bucket=self.bucket, Key=key)
                    deleted += 1
        return deleted
