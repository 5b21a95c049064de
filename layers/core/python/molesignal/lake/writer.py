"""Appending batches of canonical NDJSON to the lake, exactly once.

1. A *landed marker* per request id says the batch is already in: a redelivered message
   is recognised before any work.
2. Rows are sorted by ``_timestamp`` and split by hour; each hour becomes one zstd Parquet
   file whose name is the request id, so rewriting it after a crash overwrites the same
   object with the same bytes.
3. One DynamoDB transaction records the marker, the manifest entries, the stream's new
   schema and stats, and the org's storage usage — all or nothing. Queries read the
   manifest, never S3 listings, so a file whose transaction never committed is invisible.
   Concurrent writers to one stream are serialised by the stream item's version.

Several requests for one stream (the messages of one worker batch) can land *together*
(``append_together``): one file per hour holds all their rows and one transaction carries
every request's marker, so the batch costs one set of objects and one commit instead of
one per request. Such a file's name depends on the group, which a redelivery may form
differently, so each object is reserved first (``garbage.reserve_output``, as compaction
does) and the commit releases the reservation: an object whose commit never came is found
and deleted by the garbage sweep. A group that cannot commit as one transaction raises
``LandSeparately`` before anything is written, when some of its records cannot be placed
in a partition (each request sets its own aside), or when another delivery landed one of
its requests first; its requests then land one by one.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from molesignal import aws
from molesignal.clock import now_s, now_us
from molesignal.ingest.columnar import RawBody
from molesignal.ingest.normalize import ORG_ID, STREAM, TIMESTAMP
from molesignal.lake import garbage
from molesignal.lake import schema as S
from molesignal.lake.arrow_batch import from_columns, schema_of, to_table
from molesignal.lake.changes import RowChange, publish, wants_durable
from molesignal.lake.layout import HOUR_US, MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, file_key, is_placeable, quarantine_key
from molesignal.lake.namespaces import DEFAULT_NAMESPACE
from molesignal.lake.outbox import Outbox
from molesignal.lake.recent_files import RECENT_FILES
from molesignal.lake.streams import (
    CONTENT_STREAM,
    DEFAULT_FIELD_CAP,
    DEFAULT_RETENTION_DAYS,
    Stream,
    Streams,
    landed_key,
    manifest_partition,
    manifest_sort_key,
    note_local_change,
    stream_key,
)
from molesignal.observability import logger
from molesignal.quotas import storage_usage_change
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table

MANIFEST_ITEMS_PER_TRANSACTION = 90  # DynamoDB allows 100 actions per transaction
TRANSACTION_ACTIONS = 100
LANDED_MARKER_TTL_S = 15 * 24 * 3600  # longer than any SQS retention
# The stream item's update in every lake commit (bench/emulator replays it to measure the emulator).
STREAM_COMMIT_UPDATE = (
    "SET #schema = :schema, version = :next, first_ts_us = :first, last_ts_us = :last, "
    "#name = :name, org_id = :org, kind = if_not_exists(kind, :kind), "
    "created_at_us = if_not_exists(created_at_us, :now), field_cap = if_not_exists(field_cap, :cap), "
    "retention_days = if_not_exists(retention_days, :retention) "
    "ADD row_count :rows, #bytes :bytes, file_count :files"
)
STREAM_COMMIT_NAMES = {"#schema": "schema", "#name": "name", "#bytes": "bytes"}

# zstd level 1 with mostly distinct text written plain (``mostly_distinct``) stores the ingest
# dataset in 3 % fewer bytes than level 6 with dictionaries everywhere, at ~25 % less encoding
# CPU (ADR 0031).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "use_dictionary": True}


@dataclass(frozen=True)
class LandedFile:
    key: str
    file_id: str
    hour_us: int
    rows: int
    bytes: int
    min_ts_us: int
    max_ts_us: int


@dataclass(frozen=True)
class AppendResult:
    request_id: str
    duplicate: bool
    rows: int
    files: tuple[LandedFile, ...]
    quarantined: int = 0  # records set aside because the layout cannot place their timestamp
    landed: pa.Table | None = None  # the rows this call committed (realtime alert rules read them)


@dataclass(frozen=True)
class Delivery:
    """One request's records for one stream, as the ingest function enqueued them: canonical
    NDJSON, or a native body it read column-wise (``raw``, ADR 0022)."""

    request_id: str
    ndjson: bytes = b""
    raw: RawBody | None = None

    def canonical(self) -> bytes:
        return self.raw.canonical() if self.raw is not None else self.ndjson


class GuardFailed(Exception):
    """A caller's extra condition on the commit (``guards``) did not hold; nothing was committed."""


class LandSeparately(Exception):
    """These requests cannot land together (too many actions for one transaction, or one of
    them was landed by another delivery meanwhile); land each on its own."""


class VersionConflict(Exception):
    """Another writer changed the stream between our read and our commit."""


class CommitRefused(VersionConflict):
    """A condition other than a marker's or the stream's version failed (a manifest entry
    exists, or a reservation is no longer pending)."""


class AlreadyCommitted(Exception):
    """Part of this batch's commit was applied by an earlier delivery."""


DISTINCT_SAMPLE_ROWS = 512


def mostly_distinct(table: pa.Table) -> set[str]:
    """Text columns whose values hardly repeat (trace ids, user ids, messages), from a sample.

    A dictionary of such a column holds nearly every value once more, plus an index per row:
    written plain, the ingest dataset's 1 MiB files were ~5 % smaller, which is what lets zstd
    run at level 1 (ADR 0031). Text only: numbers and booleans are narrow either way."""
    sample = table.slice(0, DISTINCT_SAMPLE_ROWS)
    found = set()
    for fld, column in zip(sample.schema, sample.columns, strict=True):
        present = len(column) - column.null_count
        if pa.types.is_string(fld.type) and present >= 16 and pc.count_distinct(column).as_py() * 2 > present:
            found.add(fld.name)
    return found


def encode_parquet(table: pa.Table) -> bytes:
    options = dict(PARQUET_OPTIONS)
    plain = mostly_distinct(table)
    options["use_dictionary"] = [name for name in table.column_names if name not in plain]
    if TIMESTAMP in table.column_names and pa.types.is_int64(table.schema.field(TIMESTAMP).type):
        # Timestamps rise within each cluster (and across a compacted file), so their deltas
        # are small: delta encoding stores them in fewer bytes than a dictionary of unique
        # values, and engines decode it faster. zstd on top saved 0.5 % of those bytes and
        # cost decoding time, so the column is left uncompressed. DuckDB's 5-minute histogram
        # over 10M rows went from 176 to about 90 ms with both (docs/performance.md).
        others = [name for name in table.column_names if name != TIMESTAMP]
        options["use_dictionary"] = [name for name in others if name not in plain]
        options["column_encoding"] = {TIMESTAMP: "DELTA_BINARY_PACKED"}
        options["compression"] = {**dict.fromkeys(others, "zstd"), TIMESTAMP: "none"}
        options["compression_level"] = dict.fromkeys(others, PARQUET_OPTIONS["compression_level"])
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def split_by_hour(table: pa.Table) -> list[tuple[int, pa.Table]]:
    """(hour start µs, rows of that hour) for a table sorted by ``_timestamp``."""
    hours = pc.multiply(pc.divide(table.column(TIMESTAMP), HOUR_US), HOUR_US)
    counts = pc.value_counts(hours)  # in order of first appearance: ascending, as rows are sorted
    parts, offset = [], 0
    for entry in counts:
        hour, count = int(entry["values"].as_py()), int(entry["counts"].as_py())
        parts.append((hour, table.slice(offset, count)))
        offset += count
    return parts


CLUSTER_KEYS = 2
CLUSTER_SAMPLE_ROWS = 2048


def cluster_keys(table: pa.Table) -> list[str]:
    """Columns to sort a file by before ``_timestamp``, so its pages compress well.

    Low-cardinality text columns that take the most bytes (a host, an image, a service)
    are the ones whose neighbours repeat them — and the columns that follow them (pod
    names, labels) repeat too. Chosen from a sample, so the choice costs next to nothing.
    """
    sample = table.slice(0, CLUSTER_SAMPLE_ROWS)
    limit = max(2, sample.num_rows // 20)
    ranked: list[tuple[int, str]] = []
    for name in sample.column_names:
        if name in (TIMESTAMP, ORG_ID, STREAM):
            continue
        column = sample.column(name)
        if not pa.types.is_string(column.type) or column.null_count * 2 > len(column):
            continue
        distinct = pc.count_distinct(column).as_py()
        if 1 < distinct <= limit:
            ranked.append((pc.sum(pc.binary_length(column)).as_py() or 0, name))
    return [name for _, name in sorted(ranked, reverse=True)[:CLUSTER_KEYS]]


def cluster(part: pa.Table) -> pa.Table:
    """One hour's rows ordered for compression: cluster keys first, then time."""
    keys = cluster_keys(part)
    if not keys:
        return part  # already in time order
    return part.take(pc.sort_indices(part, [(k, "ascending") for k in keys] + [(TIMESTAMP, "ascending")]))


def prepare(ndjson: bytes, org_id: str, stream: Stream) -> pa.Table:
    """Decode, type against the stream, stamp org and stream, sort by time."""
    return stamp(to_table(ndjson, stream.schema), org_id, stream)


def deliveries_table(deliveries: Sequence[Delivery], stream_schema: dict[str, str]) -> pa.Table:
    """The deliveries' rows typed against the stream: from the columns of native bodies when
    that gives what their canonical NDJSON would (``from_columns``), else from the text."""
    if all(d.raw is not None for d in deliveries):
        tables = [d.raw.table() for d in deliveries if d.raw is not None]
        if all(t is not None for t in tables):
            table = from_columns([t for t in tables if t is not None], stream_schema)
            if table is not None:
                return table
    return to_table(joined(deliveries), stream_schema)


def stamp(table: pa.Table, org_id: str, stream: Stream) -> pa.Table:
    """Stamp org and stream on a typed batch, and sort it by time."""
    rows = table.num_rows
    for name, value in ((ORG_ID, org_id), (STREAM, stream.name)):
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, pa.repeat(pa.scalar(value, pa.string()), rows))
    return table.take(pc.sort_indices(table, [(TIMESTAMP, "ascending")]))


def placeable_rows(table: pa.Table) -> pa.Table:
    """The rows whose ``_timestamp`` the layout can place (all of them, unless a message was
    queued before ingest checked the range at the door)."""
    timestamps = table.column(TIMESTAMP)
    low, high = pc.min(timestamps).as_py(), pc.max(timestamps).as_py()
    if timestamps.null_count == 0 and low is not None and is_placeable(low) and is_placeable(high):
        return table
    inside = pc.and_(pc.greater_equal(timestamps, MIN_TIMESTAMP_US), pc.less(timestamps, MAX_TIMESTAMP_US))
    return table.filter(pc.fill_null(inside, False))


def unplaceable_lines(ndjson: bytes) -> list[bytes]:
    """The canonical NDJSON lines ``placeable_rows`` leaves out, exactly as they were sent."""
    out = []
    for line in ndjson.splitlines():
        if not line.strip():
            continue
        timestamp = orjson.loads(line).get(TIMESTAMP)
        if not isinstance(timestamp, int) or isinstance(timestamp, bool) or not is_placeable(timestamp):
            out.append(line)
    return out


def default_retention_days(org_id: str, stream: str, table: Table) -> int:
    """A new stream's retention: sealed session content follows the org's content window."""
    if stream != CONTENT_STREAM:
        return DEFAULT_RETENTION_DAYS
    org = table.get(*keys.org(org_id), consistent=False) or {}
    return int(org.get("content_retention_days") or get_settings().content_retention_days)


class Lake:
    def __init__(self, table: Table | None = None, bucket: str | None = None) -> None:
        self.table = table or Table()
        self.bucket = bucket or get_settings().resource_name("lake")
        self.streams = Streams(self.table)

    def already_landed(self, org_id: str, request_id: str) -> bool:
        return self.table.get(*landed_key(org_id, request_id)) is not None

    def landed_of(self, org_id: str, request_ids: Sequence[str]) -> set[str]:
        """Which of ``request_ids`` have landed (one batched read per 100)."""
        wanted = sorted(set(request_ids))
        by_pk = {landed_key(org_id, r)[0]: r for r in wanted}
        found: set[str] = set()
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self.table.name: {
                    "Keys": [
                        self.table.marshal(dict(zip(("pk", "sk"), landed_key(org_id, r), strict=True)))
                        for r in wanted[start : start + 100]
                    ],
                    "ProjectionExpression": "pk",
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self.table.client.batch_get_item(RequestItems=request)
                found.update(by_pk[raw["pk"]["S"]] for raw in response.get("Responses", {}).get(self.table.name, []))
                request = response.get("UnprocessedKeys") or {}
        return found

    def append_batch(
        self, org_id: str, stream_name: str, request_id: str, ndjson: bytes, *, guards: Sequence[dict[str, Any]] = ()
    ) -> AppendResult:
        """Land ``ndjson`` once. ``guards`` are extra transaction operations committed with the
        batch (the audit chain's head moves in the same transaction as its rows); if one fails,
        ``GuardFailed`` is raised and nothing is visible. A guarded batch must fit one
        transaction (at most ``MANIFEST_ITEMS_PER_TRANSACTION`` hour files)."""
        return self.append_delivery(org_id, stream_name, Delivery(request_id, ndjson), guards=guards)

    def append_delivery(
        self,
        org_id: str,
        stream_name: str,
        delivery: Delivery,
        *,
        guards: Sequence[dict[str, Any]] = (),
        marker_checked: bool = False,
    ) -> AppendResult:
        """``append_batch`` for a delivery of either form. ``marker_checked``: the caller has
        just found no landed marker (a delivery landed meanwhile still counts once: the commit's
        marker is conditional)."""
        if not marker_checked and self.already_landed(org_id, delivery.request_id):
            return AppendResult(delivery.request_id, True, 0, ())
        return self._append(org_id, stream_name, [delivery], delivery.request_id, reserve=False, guards=guards)

    def append_together(self, org_id: str, stream_name: str, deliveries: Sequence[Delivery]) -> AppendResult:
        """Land several requests for one stream as one file per hour and one commit.

        Requests that already landed are left out. Raises ``LandSeparately`` when the group
        cannot commit as one transaction; nothing of it is then visible.
        """
        landed = self.landed_of(org_id, [d.request_id for d in deliveries])
        todo = [d for d in deliveries if d.request_id not in landed]
        if not todo:
            return AppendResult(deliveries[0].request_id if deliveries else "", True, 0, ())
        if len(todo) == 1:
            return self._append(org_id, stream_name, todo, todo[0].request_id, reserve=False)
        return self._append(org_id, stream_name, todo, combined_file_id(todo), reserve=True)

    def _append(
        self,
        org_id: str,
        stream_name: str,
        deliveries: Sequence[Delivery],
        file_id: str,
        *,
        reserve: bool,
        guards: Sequence[dict[str, Any]] = (),
    ) -> AppendResult:
        stream = self.streams.find(org_id, stream_name) or Stream(org_id=org_id, name=stream_name)
        prepared = stamp(deliveries_table(deliveries, stream.schema), org_id, stream)
        table = placeable_rows(prepared)
        quarantined = prepared.num_rows - table.num_rows
        if quarantined:
            if reserve:  # set aside per request, by the per-message path
                raise LandSeparately("some records cannot be placed in a partition")
            request_id = deliveries[0].request_id
            self._quarantine(org_id, stream_name, request_id, deliveries[0].canonical())
            if not table.num_rows:
                return AppendResult(request_id, False, 0, (), quarantined)
        batch_schema = schema_of(table)
        parts = split_by_hour(table)
        _check_one_transaction(len(deliveries), len(parts), reserve=reserve, guarded=bool(guards))
        s3 = aws.client("s3")
        files: list[LandedFile] = []
        # A guarded batch whose guard fails (the audit chain's head moved) leaves its file
        # unlisted for good: reserving it first lets the garbage sweep find and delete it.
        reserved = reserve or bool(guards)
        encoded: list[pa.Table] = []
        for hour, part in parts:
            encoded.append(cluster(part))
            body = encode_parquet(encoded[-1])
            key = file_key(org_id, stream_name, hour, file_id)
            if reserved:
                try:
                    garbage.reserve_output(
                        self.table,
                        org_id,
                        key,
                        manifest_pk=manifest_partition(org_id, stream_name),
                        manifest_sk=manifest_sort_key(hour, file_id),
                    )
                except garbage.Blocked as exc:
                    raise LandSeparately(f"{key} is being swept") from exc
            s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet")
            timestamps = pc.min_max(part.column(TIMESTAMP))
            files.append(
                LandedFile(
                    key=key,
                    file_id=file_id,
                    hour_us=hour,
                    rows=part.num_rows,
                    bytes=len(body),
                    min_ts_us=int(timestamps["min"].as_py()),
                    max_ts_us=int(timestamps["max"].as_py()),
                )
            )
        request_ids = [d.request_id for d in deliveries]
        shown = _landed_change(org_id, stream_name, table)
        for _attempt in range(20):
            # A topic sourcing the stream gets the rows through an outbox item in the commit (a
            # new one per attempt: its item then sorts after the commit it lost to).
            landed, outbox = Outbox(self.table, self.bucket).entry(shown) if wants_durable(shown) else (shown, None)
            try:
                self._commit(
                    org_id, stream, request_ids, files, batch_schema, released=reserved, guards=guards, outbox=outbox
                )
                publish(landed)
                for landed_file, clustered in zip(files, encoded, strict=True):  # for their tier's merge
                    RECENT_FILES.remember(landed_file.key, clustered, object_bytes=landed_file.bytes)
                return AppendResult(file_id, False, table.num_rows, tuple(files), quarantined, table)
            except VersionConflict as exc:
                if reserved and isinstance(exc, CommitRefused):
                    raise LandSeparately("a file of this group cannot be listed") from exc
                stream = self.streams.find(org_id, stream_name) or Stream(org_id=org_id, name=stream_name)
            except AlreadyCommitted as exc:
                if reserve:
                    raise LandSeparately("another delivery landed one of these requests") from exc
                return AppendResult(file_id, True, 0, ())
        raise RuntimeError(f"stream {stream_name!r} kept changing; giving up this delivery (it will be retried)")

    def _quarantine(self, org_id: str, stream: str, request_id: str, ndjson: bytes) -> None:
        """Keep the records no partition can hold where an operator can find them: one object per
        request id (a redelivery writes the same bytes again), never a failed batch."""
        lines = unplaceable_lines(ndjson)
        key = quarantine_key(org_id, stream, request_id)
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=b"\n".join(lines) + b"\n", ContentType="application/x-ndjson"
        )
        logger.warning(
            "records set aside: their _timestamp is outside the range the lake can place",
            extra={"org_id": org_id, "stream": stream, "request_id": request_id, "records": len(lines), "key": key},
        )

    def _commit(
        self,
        org_id: str,
        stream: Stream,
        request_ids: Sequence[str],
        files: list[LandedFile],
        batch_schema: dict[str, str],
        *,
        released: bool = False,
        guards: Sequence[dict[str, Any]] = (),
        outbox: dict[str, Any] | None = None,
    ) -> None:
        """Markers, the caller's guards, manifest entries, the outbox item, stream and usage;
        ``released``: the files were reserved, and the commit releases them (all in one
        transaction then)."""
        manifest = [self._manifest_put(org_id, stream.name, request_ids[0], f) for f in files]
        if released:
            manifest += [garbage.release_output(self.table, org_id, f.key) for f in files]
            chunks = [manifest]
        else:
            size_ = MANIFEST_ITEMS_PER_TRANSACTION
            chunks = [manifest[i : i + size_] for i in range(0, len(manifest), size_)]
        # Earlier chunks only add manifest entries (idempotent by condition); the last one
        # also carries the markers and the stats, so the batch counts once it is whole.
        for chunk in chunks[:-1]:
            self._transact(chunk, partial_ok=True)
        last = chunks[-1] if chunks else []
        rows = sum(f.rows for f in files)
        size = sum(f.bytes for f in files)
        markers = [self._marker(org_id, request_id, rows) for request_id in request_ids]
        self._transact(
            [
                *markers,
                *guards,
                *last,
                *([outbox] if outbox is not None else []),
                self._stream_update(stream, files, batch_schema),
                storage_usage_change(self.table, org_id, size),
            ],
            markers=len(markers),
            guards=len(guards),
        )
        note_local_change(org_id)

    def _marker(self, org_id: str, request_id: str, rows: int) -> dict[str, Any]:
        marker_pk, marker_sk = landed_key(org_id, request_id)
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": self.table.marshal(
                    {"pk": marker_pk, "sk": marker_sk, "rows": rows, "expires_at": now_s() + LANDED_MARKER_TTL_S}
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _manifest_put(self, org_id: str, stream: str, request_id: str, landed: LandedFile) -> dict[str, Any]:
        item = {
            "pk": manifest_partition(org_id, stream),
            "sk": manifest_sort_key(landed.hour_us, landed.file_id),
            "kind": "lake_file",
            "key": landed.key,
            "rows": landed.rows,
            "bytes": landed.bytes,
            "min_ts_us": landed.min_ts_us,
            "max_ts_us": landed.max_ts_us,
            "hour_us": landed.hour_us,
            "request_id": request_id,
            "created_at_us": now_us(),
        }
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": self.table.marshal(item),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _stream_update(self, stream: Stream, files: list[LandedFile], batch_schema: dict[str, str]) -> dict[str, Any]:
        merged = S.merge(stream.schema, batch_schema)
        first = min([f.min_ts_us for f in files] + ([stream.first_ts_us] if stream.first_ts_us is not None else []))
        last = max([f.max_ts_us for f in files] + ([stream.last_ts_us] if stream.last_ts_us is not None else []))
        pk, sk = stream_key(stream.org_id, stream.name)
        values = {
            ":schema": merged,
            # A new stream starts at its creation time, so a deleted and recreated stream never
            # reuses a version (cached query results key on it).
            ":next": stream.version + 1 if stream.version else now_us(),
            ":first": first,
            ":last": last,
            ":name": stream.name,
            ":org": stream.org_id,
            ":now": now_us(),
            ":cap": DEFAULT_FIELD_CAP,
            # Read only for a new stream: ``if_not_exists`` keeps an existing stream's setting.
            ":retention": DEFAULT_RETENTION_DAYS
            if stream.version
            else default_retention_days(stream.org_id, stream.name, self.table),
            ":rows": sum(f.rows for f in files),
            ":bytes": sum(f.bytes for f in files),
            ":files": len(files),
        }
        if stream.version:
            condition = "version = :current"
            values[":current"] = stream.version
        else:
            condition = "attribute_not_exists(pk)"
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": self.table.marshal({"pk": pk, "sk": sk}),
                "UpdateExpression": STREAM_COMMIT_UPDATE,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": dict(STREAM_COMMIT_NAMES),
                "ExpressionAttributeValues": self.table.marshal({**values, ":kind": "stream"}),
            }
        }

    def _transact(
        self, operations: list[dict[str, Any]], *, partial_ok: bool = False, markers: int = 0, guards: int = 0
    ) -> None:
        client = self.table.client
        try:
            client.transact_write_items(TransactItems=operations)
        except client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            failed = {i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"}
            if partial_ok and failed:
                return  # this chunk of manifest entries was recorded by an earlier delivery
            if failed & set(range(markers)) and not partial_ok:
                raise AlreadyCommitted from exc  # a landed marker exists
            if failed & set(range(markers, markers + guards)):
                raise GuardFailed from exc
            if failed - {len(operations) - 2}:  # the stream update comes second to last
                raise CommitRefused from exc
            if failed or "TransactionConflict" in reasons:
                # A condition moved under us, or another transaction (compaction, retention)
                # touched the stream item at the same moment: re-read and try again.
                raise VersionConflict from exc
            raise


def _check_one_transaction(requests: int, hours: int, *, reserve: bool, guarded: bool) -> None:
    """Refuse before writing anything what would need a commit split over transactions: a
    guarded batch (its guards must commit with all of its files) or a reserved group."""
    if guarded and 2 * hours > MANIFEST_ITEMS_PER_TRANSACTION:  # an entry and a release per hour
        raise ValueError(f"a guarded batch spans {hours} hours; at most {MANIFEST_ITEMS_PER_TRANSACTION}")
    if reserve and requests + 2 * hours + 3 > TRANSACTION_ACTIONS:  # + stream, usage, an outbox item
        raise LandSeparately(f"{requests} requests over {hours} hours need more than one transaction")


def joined(deliveries: Sequence[Delivery]) -> bytes:
    """The deliveries' NDJSON as one document (each ends its last line)."""
    texts = [d.canonical() for d in deliveries]
    if len(texts) == 1:
        return texts[0]
    return b"".join(t if t.endswith(b"\n") else t + b"\n" for t in texts)


def combined_file_id(deliveries: Sequence[Delivery]) -> str:
    """A file id for rows of several requests: the first request id (so it sorts among the
    writer's ids, before compaction outputs) and a digest of them all."""
    ids = sorted(d.request_id for d in deliveries)
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    return f"{ids[0]}-g{len(ids)}-{digest}"


def _landed_change(org_id: str, stream_name: str, table: pa.Table) -> RowChange:
    """What a landing committed, for the row-change seam (topics publish it): the rows as a
    query shows them, without the partition columns every row of the lake carries."""
    shown = table.drop_columns([c for c in (ORG_ID, STREAM) if c in table.column_names])
    return RowChange(org_id, f"{DEFAULT_NAMESPACE}.{stream_name}", "insert", table.num_rows, "ingest", rows=shown)
