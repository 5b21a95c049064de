"""Stream metadata in DynamoDB: schema, settings, and stats kept by the ingest worker."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from molesignal.clock import iso, now_us
from molesignal.errors import NotFound
from molesignal.lake.layout import hour_of
from molesignal.lake.visibility import drop_superseded
from molesignal.observers import Observers
from molesignal.recent import RecentReads
from molesignal.storage.table import ConditionFailed, Item, Table

DEFAULT_FIELD_CAP = 1000
DEFAULT_RETENTION_DAYS = 30
# Sealed OTLP session content; its retention is the org's content window (spec 002).
CONTENT_STREAM = "otel_content"
# Streams only MoleSignal itself writes: no tenant ingest route may name them.
RESERVED_STREAMS = frozenset({CONTENT_STREAM})
# Columns stored in a stream but never served by tenant SQL: the sealed content is opened
# only by the audited content read (otlp/reader.py).
SEALED_COLUMNS = {CONTENT_STREAM: frozenset({"sealed"})}


def stream_key(org_id: str, stream: str) -> tuple[str, str]:
    return f"ORG#{org_id}", f"STREAM#{stream}"


def manifest_partition(org_id: str, stream: str) -> str:
    return f"MANIFEST#{org_id}#{stream}"


def manifest_sort_key(hour_us: int, file_id: str) -> str:
    return f"{hour_us:020d}#{file_id}"


def landed_key(org_id: str, request_id: str) -> tuple[str, str]:
    return f"LANDED#{org_id}#{request_id}", "LANDED"


@dataclass
class Stream:
    org_id: str
    name: str
    schema: dict[str, str] = field(default_factory=dict)
    version: int = 0  # 0: not stored yet
    row_count: int = 0
    bytes: int = 0
    file_count: int = 0
    first_ts_us: int | None = None
    last_ts_us: int | None = None
    field_cap: int = DEFAULT_FIELD_CAP
    retention_days: int = DEFAULT_RETENTION_DAYS
    created_at_us: int = 0

    @classmethod
    def from_item(cls, item: Item) -> Stream:
        return cls(
            org_id=item["org_id"],
            name=item["name"],
            schema=dict(item.get("schema") or {}),
            version=int(item.get("version", 0)),
            row_count=int(item.get("row_count", 0)),
            bytes=int(item.get("bytes", 0)),
            file_count=int(item.get("file_count", 0)),
            first_ts_us=item.get("first_ts_us"),
            last_ts_us=item.get("last_ts_us"),
            field_cap=int(item.get("field_cap", DEFAULT_FIELD_CAP)),
            retention_days=int(item.get("retention_days", DEFAULT_RETENTION_DAYS)),
            created_at_us=int(item.get("created_at_us", 0)),
        )

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "schema": [{"name": k, "type": v} for k, v in sorted(self.schema.items())],
            "stats": {
                "rows": self.row_count,
                "bytes": self.bytes,
                "files": self.file_count,
                "first_timestamp": self.first_ts_us,
                "last_timestamp": self.last_ts_us,
            },
            "settings": {"retention_days": self.retention_days, "field_cap": self.field_cap},
            "created_at": iso(self.created_at_us) if self.created_at_us else None,
        }


_recent_streams: RecentReads[tuple[str, str], Stream | None] = RecentReads()


def forget_stream(org_id: str, name: str) -> None:
    """After this process changed a stream's settings or removed it: its next read is fresh."""
    _recent_streams.forget((org_id, name))


# An erasure holds the stream's compaction while it runs (refreshed per round; a crashed one
# releases it by expiry). Compaction's commit is conditional on the attribute.
COMPACTION_HELD_UNTIL = "compaction_held_until_us"
COMPACTION_HOLD_S = 120


@dataclass
class Streams:
    table: Table

    def find(self, org_id: str, name: str, *, consistent: bool = True) -> Stream | None:
        item = self.table.get(*stream_key(org_id, name), consistent=consistent)
        return Stream.from_item(item) if item else None

    def recent(self, org_id: str, name: str) -> Stream | None:
        """The stream as this process read it at most ``MOLESIGNAL_WARM_MEMO_S`` ago, for the
        ingest path's field cap. Its schema only grows, so an older view is the more lenient
        one, as a concurrent request's already was; settings changed here apply at once."""
        return _recent_streams.get((org_id, name), lambda: self.find(org_id, name, consistent=False))

    def get(self, org_id: str, name: str) -> Stream:
        found = self.find(org_id, name)
        if found is None:
            raise NotFound(f"not found: stream {name!r}")
        return found

    def all(self, org_id: str) -> list[Stream]:
        return [Stream.from_item(i) for i in self.table.query_all(f"ORG#{org_id}", sk_prefix="STREAM#")]

    def hold_compaction(self, org_id: str, name: str, seconds: int = COMPACTION_HOLD_S) -> None:
        """Compaction of the stream commits nothing for ``seconds``: an erasure is rewriting
        its files, and both replace files, so one of them loses each race. Compaction can run
        any time later; an erasure that kept losing to it answered CONFLICT."""
        self.table.update(
            *stream_key(org_id, name),
            f"SET {COMPACTION_HELD_UNTIL} = :until",
            condition="attribute_exists(pk)",
            values={":until": now_us() + seconds * 1_000_000},
        )

    def release_compaction(self, org_id: str, name: str) -> None:
        with contextlib.suppress(ConditionFailed):  # the stream was deleted meanwhile
            self.table.update(
                *stream_key(org_id, name), f"REMOVE {COMPACTION_HELD_UNTIL}", condition="attribute_exists(pk)"
            )

    def manifest(self, org_id: str, name: str, *, start_us: int | None = None, end_us: int | None = None) -> list[Item]:
        """Files of a stream that can hold rows in [start, end) — no S3 listing."""
        return overlapping(self.manifest_hours(org_id, name, hour_range(start_us, end_us)), start_us, end_us)

    def manifest_hours(self, org_id: str, name: str, hours: tuple[int, int] | None) -> list[Item]:
        """Every file of the stream in the hour partitions ``hours`` (first, last; None: all)."""
        ddb = self.table.client
        condition = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": manifest_partition(org_id, name)}}
        if hours is not None:
            condition += " AND sk BETWEEN :low AND :high"
            values[":low"] = {"S": manifest_sort_key(hours[0], "")}
            values[":high"] = {"S": manifest_sort_key(hours[1], "~")}
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            page = ddb.query(**kwargs)
            items.extend(self.table.unmarshal(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        # A Query is read-committed: it may see a compaction half-applied. Entries that a
        # visible merged entry replaces are dropped, so every row counts once (visibility.py).
        return drop_superseded(items)


def hour_range(start_us: int | None, end_us: int | None) -> tuple[int, int] | None:
    """The first and last hour partitions that can hold rows in [start, end)."""
    if start_us is None and end_us is None:
        return None
    return hour_of(start_us or 0), hour_of(end_us - 1) if end_us else 10**19


def overlapping(entries: list[Item], start_us: int | None, end_us: int | None) -> list[Item]:
    """The manifest entries whose rows' time span meets [start, end)."""
    return [
        i
        for i in entries
        if (start_us is None or int(i["max_ts_us"]) >= start_us) and (end_us is None or int(i["min_ts_us"]) < end_us)
    ]


def inside(entry: Item, start_us: int | None, end_us: int | None) -> bool:
    """Whether every row of a manifest entry lies in [start, end) (no row filter needed)."""
    return (start_us is None or int(entry["min_ts_us"]) >= start_us) and (
        end_us is None or int(entry["max_ts_us"]) < end_us
    )


# Lake changes committed by this process, per org. Readers that memoise what they read of
# the lake (molesignal.query.snapshot) compare against it, so a change made in-process (the
# local system, a warm worker that also serves queries) is seen at once; changes made by
# other processes are seen when the memo expires.
_local_changes: dict[str, int] = {}


_local_change_observers: Observers[[str]] = Observers()


def note_local_change(org_id: str) -> None:
    _local_changes[org_id] = _local_changes.get(org_id, 0) + 1
    _local_change_observers.notify(org_id)


def on_local_change(callback: Callable[[str], None]) -> Callable[[], None]:
    """Call ``callback`` with the org of every lake change noted in this process (the local
    system's worker process forwards them to its parent); returns the removal."""
    return _local_change_observers.add(callback)


def local_change_count(org_id: str) -> int:
    return _local_changes.get(org_id, 0)
