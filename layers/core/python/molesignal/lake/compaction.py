"""Compaction: merging a partition's small Parquet files into fewer, larger ones.

Per (org, stream, hour partition), the manifest entries of committed files smaller than
``small_bytes`` (64 MiB) are packed, in manifest order, into groups of at least two and at
most ``max_inputs`` (80) files whose input bytes stay within ``target_bytes`` (128 MiB).
Files of a request whose commit is not complete (no landed marker yet) and files retention
is about to remove are left alone. One round merges one group:

1. **Read** the inputs from S3. Every column gets the type the schema lattice
   (``molesignal.lake.schema``) widens the inputs' types to, values converted losslessly
   (numbers to their JSON text where a field became a string). A file whose integers
   beyond ±2^53 would have to become text where the stream's schema says float64 is left
   out, and marked ``no_compact``, rather than rounded.
2. **Reserve** the output's name — ``zc<generation>-<sha256 of the sorted input keys>``, so
   a re-run of the same inputs after a crash rewrites the same object — with a
   ``PENDING#`` garbage item (``molesignal.lake.garbage``): an output whose round dies is
   found and deleted later without listing S3.
3. **Write** the rows, sorted by ``_timestamp``, with the writer's ``encode_parquet``.
4. **Commit**, in one DynamoDB transaction: put the output's manifest entry (it did not
   exist), delete every input's entry (each must still exist — if one is gone another
   compactor or retention got there first, and this round stops, harmlessly), release the
   reservation, schedule the inputs' objects for deletion after a grace period, add the
   byte and file deltas to the stream and the byte delta to the org's usage. The stream's
   ``version`` and ``row_count`` are untouched: the rows are the same, so cached query
   results stay valid.
5. The inputs' objects are deleted by a later **sweep**, once no query planned before the
   commit can still be reading them.

The output entry lists the inputs it ``replaces`` and its id sorts after theirs, so a
reader that sees the commit half-applied can still count every row exactly once
(``molesignal.lake.visibility``). A crash at any point leaves either the old entries or
the new one listed, never both and never neither.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from molesignal import aws
from molesignal.clock import now_us as clock_now_us
from molesignal.ingest.normalize import TIMESTAMP
from molesignal.lake import garbage
from molesignal.lake import schema as S
from molesignal.lake.layout import HOUR_US, file_key
from molesignal.lake.recent_files import RECENT_FILES
from molesignal.lake.retention import DAY_US, committed_entries, org_ids
from molesignal.lake.streams import (
    COMPACTION_HELD_UNTIL,
    Stream,
    Streams,
    manifest_partition,
    manifest_sort_key,
    note_local_change,
    stream_key,
)
from molesignal.lake.visibility import drop_superseded
from molesignal.lake.writer import encode_parquet
from molesignal.observability import logger
from molesignal.quotas import storage_usage_change
from molesignal.settings import get_settings
from molesignal.storage.table import ConditionFailed, Item, Table

MIB = 1024 * 1024
SMALL_FILE_BYTES = 64 * MIB
TARGET_FILE_BYTES = 128 * MIB
MAX_INPUTS = 80  # + output, reservation, garbage, stream and usage: under DynamoDB's 100 actions
COMPACTED_PREFIX = "zc"  # sorts after every writer file id (hex request ids) in an hour
_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class CompactionPolicy:
    small_bytes: int = SMALL_FILE_BYTES
    target_bytes: int = TARGET_FILE_BYTES
    max_inputs: int = MAX_INPUTS
    grace_s: float = garbage.DEFAULT_GRACE_S  # before replaced objects are deleted
    pending_ttl_s: float = garbage.DEFAULT_PENDING_TTL_S  # before an uncommitted output is abandoned

    def __post_init__(self) -> None:
        if not 2 <= self.max_inputs <= 95:
            raise ValueError("max_inputs must be 2..95: one transaction holds at most 100 actions")


# --- planning (pure) --------------------------------------------------------------------
def generation_of(entry: Mapping[str, Any]) -> int:
    return int(entry.get("generation", 0))


def compacted_id(inputs: Sequence[Mapping[str, Any]]) -> str:
    """Deterministic in the set of inputs; sorts after each of them (writer ids are hex,
    and a merge's generation is one more than its newest input's)."""
    generation = 1 + max(generation_of(e) for e in inputs)
    digest = hashlib.sha256("\n".join(sorted(str(e["key"]) for e in inputs)).encode()).hexdigest()
    return f"{COMPACTED_PREFIX}{generation:06d}-{digest[:24]}"


def plan_groups(
    entries: Iterable[Mapping[str, Any]],
    *,
    small_bytes: int = SMALL_FILE_BYTES,
    target_bytes: int = TARGET_FILE_BYTES,
    max_inputs: int = MAX_INPUTS,
    expired_before_us: int | None = None,
) -> list[list[Mapping[str, Any]]]:
    """Groups of ≥ 2 small files of one hour each, oldest hour first.

    Files are packed in manifest (sort key) order while the group's input bytes stay within
    ``target_bytes`` and its size within ``max_inputs``. Files retention is about to remove
    (every row before ``expired_before_us``) are left alone.
    """
    by_hour: dict[int, list[Mapping[str, Any]]] = {}
    for entry in entries:
        if int(entry["bytes"]) >= small_bytes or entry.get("no_compact"):
            continue
        if expired_before_us is not None and int(entry["max_ts_us"]) < expired_before_us:
            continue
        by_hour.setdefault(int(entry["hour_us"]), []).append(entry)
    groups: list[list[Mapping[str, Any]]] = []
    for hour in sorted(by_hour):
        group: list[Mapping[str, Any]] = []
        total = 0
        for entry in sorted(by_hour[hour], key=lambda e: str(e["sk"])):
            size = int(entry["bytes"])
            if group and (total + size > target_bytes or len(group) >= max_inputs):
                if len(group) >= 2:
                    groups.append(group)
                group, total = [], 0
            group.append(entry)
            total += size
        if len(group) >= 2:
            groups.append(group)
    return groups


RECENT_FANIN = 8  # files of one tier that the worker merges as soon as an hour holds them


def plan_tiers(
    entries: Iterable[Mapping[str, Any]],
    *,
    fanin: int = RECENT_FANIN,
    small_bytes: int = SMALL_FILE_BYTES,
    target_bytes: int = TARGET_FILE_BYTES,
) -> list[list[Mapping[str, Any]]]:
    """Groups of ``fanin`` small files of one hour and one generation (tier), oldest first.

    What the ingest worker runs right after landing, so a stream fed by many small batches
    never holds more than ``fanin - 1`` files per tier in an hour between scheduled
    compactions. Merging within a tier rewrites each row once per tier (log_fanin of the
    hour's batches) instead of once per merge, as folding every new file into one growing
    file would.
    """
    tiers: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for entry in entries:
        if int(entry["bytes"]) >= small_bytes or entry.get("no_compact"):
            continue
        tiers.setdefault((int(entry["hour_us"]), generation_of(entry)), []).append(entry)
    groups: list[list[Mapping[str, Any]]] = []
    for key in sorted(tiers):
        files = sorted(tiers[key], key=lambda e: str(e["sk"]))
        while len(files) >= fanin:
            group, files = files[:fanin], files[fanin:]
            if sum(int(e["bytes"]) for e in group) <= target_bytes:
                groups.append(group)
    return groups


# --- merging (pure) ---------------------------------------------------------------------
def _exceeds_float(column: pa.ChunkedArray) -> bool:
    if column.null_count == len(column):
        return False
    extremes = pc.min_max(pc.abs(column))
    return bool(extremes["max"].as_py() > S.FLOAT_EXACT)


def _convert(column: pa.ChunkedArray, want: str | None) -> pa.ChunkedArray | pa.Array:
    have = S.kind_of(column.type)
    if want is None:
        return column
    target = S.arrow_type(want)
    if have is None:
        return pa.nulls(len(column), target)
    if want == S.STRING and have != S.STRING:
        return pa.array([S.as_text(v) for v in column.to_pylist()], type=pa.string())
    return column if column.type == target else column.cast(target)


def unify(tables: Sequence[pa.Table]) -> pa.Table:
    """One table holding every row of ``tables``, each column at the widened type.

    ``pa.concat_tables(promote_options="permissive")`` cannot turn int64 into text; this
    follows the lake's lattice instead and never loses a value (integers beyond ±2^53 make
    a would-be float64 column a string, as the writer does).
    """
    order: list[str] = []
    kinds: dict[str, str | None] = {}
    big_ints: set[str] = set()
    for table in tables:
        for index, fld in enumerate(table.schema):
            if fld.name not in kinds:
                order.append(fld.name)
                kinds[fld.name] = None
            kind = S.kind_of(fld.type)
            kinds[fld.name] = S.widen(kinds[fld.name], kind)
            if kind == S.INT and _exceeds_float(table.column(index)):
                big_ints.add(fld.name)
    for name in big_ints:
        if kinds[name] == S.FLOAT:
            kinds[name] = S.STRING
    if TIMESTAMP in kinds:
        kinds[TIMESTAMP] = S.INT
    parts = []
    for table in tables:
        present = set(table.column_names)  # once per table: column_names builds a new list
        arrays = []
        for name in order:
            kind = kinds[name]
            if name in present:
                arrays.append(_convert(table.column(name), kind))
            else:
                arrays.append(pa.nulls(table.num_rows, S.arrow_type(kind) if kind else pa.null()))
        parts.append(pa.table(arrays, names=order))
    return pa.concat_tables(parts)


def lossless_subset(tables: Sequence[pa.Table], stream_schema: Mapping[str, str]) -> list[int]:
    """Indexes of the tables that can share one file typed within ``stream_schema``.

    Every file's types are within the stream schema, and so are their widened types —
    except where integers beyond ±2^53 meet floats: exact, that column must be text, which
    may be wider than the stream's float64. Files holding such integers are left out (and
    stay as they are) rather than rounded.
    """
    kinds: dict[str, str | None] = {}
    for table in tables:
        for fld in table.schema:
            kinds[fld.name] = S.widen(kinds.get(fld.name), S.kind_of(fld.type))
    risky = {name for name, kind in kinds.items() if kind == S.FLOAT and stream_schema.get(name) != S.STRING}
    keep = []
    for index, table in enumerate(tables):
        clash = any(
            name in risky and S.kind_of(table.column(name).type) == S.INT and _exceeds_float(table.column(name))
            for name in table.column_names
        )
        if not clash:
            keep.append(index)
    return keep


def merge(tables: Sequence[pa.Table]) -> pa.Table:
    merged = unify(tables)
    return merged.take(pc.sort_indices(merged, sort_keys=[(TIMESTAMP, "ascending")]))


# --- rounds -----------------------------------------------------------------------------
class MissingInput(Exception):
    """A listed file's object is gone: refuse to merge (a lost object must be looked at)."""


@dataclass(frozen=True)
class RoundResult:
    org_id: str
    stream: str
    hour_us: int
    output_key: str
    inputs: int
    rows: int
    bytes_in: int
    bytes_out: int
    # committed | lost (another process changed the inputs first) | blocked (its name is being swept)
    # | skipped (fewer than two files could be merged losslessly) | missing_input (a listed object is gone)
    outcome: str


@dataclass
class CompactionReport:
    orgs: int = 0
    streams: int = 0
    rounds: list[RoundResult] = field(default_factory=list)
    truncated: bool = False
    errors: int = 0
    swept: garbage.SweepResult = field(default_factory=garbage.SweepResult)

    def committed(self) -> list[RoundResult]:
        return [r for r in self.rounds if r.outcome == "committed"]

    def as_dict(self) -> dict[str, Any]:
        done = self.committed()
        return {
            "orgs": self.orgs,
            "streams": self.streams,
            "rounds": len(self.rounds),
            "committed": len(done),
            "files_merged": sum(r.inputs for r in done),
            "files_written": len(done),
            "bytes_in": sum(r.bytes_in for r in done),
            "bytes_out": sum(r.bytes_out for r in done),
            "lost": sum(1 for r in self.rounds if r.outcome == "lost"),
            "blocked": sum(1 for r in self.rounds if r.outcome == "blocked"),
            "skipped": sum(1 for r in self.rounds if r.outcome == "skipped"),
            "missing_input": sum(1 for r in self.rounds if r.outcome == "missing_input"),
            "truncated": self.truncated,
            "errors": self.errors,
            "objects_deleted": self.swept.objects_deleted,
            "abandoned_outputs": self.swept.abandoned_outputs,
        }


class Compactor:
    def __init__(
        self, table: Table | None = None, bucket: str | None = None, policy: CompactionPolicy | None = None
    ) -> None:
        self.table = table or Table()
        self.bucket = bucket or get_settings().resource_name("lake")
        self.streams = Streams(self.table)
        self.policy = policy or CompactionPolicy()

    # planning
    def plan(self, stream: Stream, *, now_us: int | None = None) -> list[list[Mapping[str, Any]]]:
        moment = clock_now_us() if now_us is None else now_us
        entries = drop_superseded(self.streams.manifest(stream.org_id, stream.name))
        small = [e for e in entries if int(e["bytes"]) < self.policy.small_bytes]
        return plan_groups(
            committed_entries(self.table, stream.org_id, small, now_us=moment),
            small_bytes=self.policy.small_bytes,
            target_bytes=self.policy.target_bytes,
            max_inputs=self.policy.max_inputs,
            expired_before_us=moment - stream.retention_days * DAY_US,
        )

    # one round
    def compact_group(
        self,
        org_id: str,
        stream_name: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        stream_schema: Mapping[str, str] | None = None,
    ) -> RoundResult:
        hour = int(inputs[0]["hour_us"])
        if any(int(e["hour_us"]) != hour for e in inputs) or len(inputs) < 2:
            raise ValueError("a compaction group is two or more files of one hour")
        partition = manifest_partition(org_id, stream_name)

        def result(outcome: str, key: str = "", bytes_out: int = 0) -> RoundResult:
            rows, bytes_in = sum(int(e["rows"]) for e in inputs), sum(int(e["bytes"]) for e in inputs)
            return RoundResult(org_id, stream_name, hour, key, len(inputs), rows, bytes_in, bytes_out, outcome)

        try:
            tables = self._read_inputs(inputs)
        except MissingInput:
            logger.exception("a listed lake file is missing; not compacting its partition", extra={"hour_us": hour})
            return result("missing_input")
        if tables is None:
            return result("lost")
        keep = lossless_subset(tables, stream_schema or {})
        if len(keep) < len(inputs):
            self._exclude([inputs[i] for i in range(len(inputs)) if i not in keep])
            inputs, tables = [inputs[i] for i in keep], [tables[i] for i in keep]
            if len(inputs) < 2:
                return result("skipped")
        rows = sum(int(e["rows"]) for e in inputs)
        file_id = compacted_id(inputs)
        key = file_key(org_id, stream_name, hour, file_id)
        sort_key = manifest_sort_key(hour, file_id)
        try:
            garbage.reserve_output(
                self.table, org_id, key, manifest_pk=partition, manifest_sk=sort_key, ttl_s=self.policy.pending_ttl_s
            )
        except garbage.Blocked:
            return result("blocked", key)
        merged = merge(tables)
        if merged.num_rows != rows:
            raise RuntimeError(f"merged {merged.num_rows} rows where the manifest lists {rows}; not committing")
        body = encode_parquet(merged)
        self._write_output(key, body)
        timestamps = pc.min_max(merged.column(TIMESTAMP))
        output = {
            "pk": partition,
            "sk": sort_key,
            "kind": "lake_file",
            "key": key,
            "rows": rows,
            "bytes": len(body),
            "min_ts_us": int(timestamps["min"].as_py()),
            "max_ts_us": int(timestamps["max"].as_py()),
            "hour_us": hour,
            "request_id": file_id,
            "created_at_us": clock_now_us(),
            "generation": 1 + max(generation_of(e) for e in inputs),
            "replaces": [str(e["sk"]) for e in inputs],
        }
        committed = self._commit(org_id, stream_name, inputs, output)
        if committed:
            RECENT_FILES.forget(str(e["key"]) for e in inputs)
            RECENT_FILES.remember(key, merged, object_bytes=len(body))  # the next tier's input
        return result("committed" if committed else "lost", key, len(body))

    def _exclude(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Mark files that cannot be merged without widening past the stream schema."""
        for entry in entries:
            logger.info("lake file kept out of compaction", extra={"key": entry["key"]})
            try:
                self.table.update(
                    str(entry["pk"]),
                    str(entry["sk"]),
                    "SET no_compact = :yes",
                    values={":yes": True},
                    condition="attribute_exists(pk)",
                )
            except ConditionFailed:
                continue

    def _read_inputs(self, inputs: Sequence[Mapping[str, Any]]) -> list[pa.Table] | None:
        s3 = aws.client("s3")
        tables = []
        for entry in inputs:
            remembered = RECENT_FILES.recall(entry)  # committed by this process a moment ago (ADR 0031)
            if remembered is not None:
                tables.append(remembered)
                continue
            try:
                body = s3.get_object(Bucket=self.bucket, Key=str(entry["key"]))["Body"].read()
            except s3.exceptions.NoSuchKey:
                if self.table.get(str(entry["pk"]), str(entry["sk"])) is None:
                    return None  # merged or expired since we planned: its object went after the grace
                raise MissingInput(str(entry["key"])) from None
            tables.append(pq.read_table(io.BytesIO(body)))
        return tables

    def _write_output(self, key: str, body: bytes) -> None:
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet"
        )

    def _commit(
        self, org_id: str, stream_name: str, inputs: Sequence[Mapping[str, Any]], output: Mapping[str, Any]
    ) -> bool:
        """The one transaction that swaps the inputs for the output; False if it lost a race."""
        table = self.table
        delta = int(output["bytes"]) - sum(int(e["bytes"]) for e in inputs)
        operations: list[dict[str, Any]] = [
            # First, so a reader that sees only part of the transaction sees the output
            # (and drops the inputs it replaces) rather than missing inputs.
            {
                "Put": {
                    "TableName": table.name,
                    "Item": table.marshal(output),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *(
                {
                    "Delete": {
                        "TableName": table.name,
                        "Key": table.marshal({"pk": e["pk"], "sk": e["sk"]}),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
                for e in inputs
            ),
            garbage.release_output(table, org_id, str(output["key"])),
            garbage.grace_put(
                table,
                org_id,
                inputs,
                delete_after_us=garbage.new_delete_after(self.policy.grace_s),
                reason="compacted",
                label=str(output["request_id"]),
            ),
        ]
        stream_pk, stream_sk = stream_key(org_id, stream_name)
        operations.append(
            {
                "Update": {
                    "TableName": table.name,
                    "Key": table.marshal({"pk": stream_pk, "sk": stream_sk}),
                    # No version change: the stream's rows are exactly the same.
                    "UpdateExpression": "ADD #bytes :bytes, file_count :files",
                    # An erasure in progress holds compaction off (Streams.hold_compaction).
                    "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#held) OR #held < :now)",
                    "ExpressionAttributeNames": {"#bytes": "bytes", "#held": COMPACTION_HELD_UNTIL},
                    "ExpressionAttributeValues": table.marshal(
                        {":bytes": delta, ":files": 1 - len(inputs), ":now": clock_now_us()}
                    ),
                }
            }
        )
        operations.append(storage_usage_change(table, org_id, delta))
        client = table.client
        for attempt in range(_CONFLICT_RETRIES):
            try:
                client.transact_write_items(TransactItems=operations)
                note_local_change(org_id)
                return True
            except client.exceptions.TransactionCanceledException as exc:
                codes = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in codes:
                    return False  # an input is gone, the output is listed, or the stream was deleted
                if "TransactionConflict" not in codes or attempt == _CONFLICT_RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        return False

    def sweep(self, *, now_us: int | None = None) -> garbage.SweepResult:
        return garbage.sweep(self.table, self.bucket, now_us=now_us, grace_s=self.policy.grace_s)

    # recent hours, right after a landing
    def compact_recent(
        self, org_id: str, stream_name: str, hours: Iterable[int], *, fanin: int = RECENT_FANIN, max_rounds: int = 8
    ) -> list[RoundResult]:
        """Merge full tiers of small files in the ``hours`` a landing just wrote to.

        Most landings find no tier full: the manifest is read once per run of adjacent hours,
        and the stream only when there is something to merge."""
        moment = clock_now_us()
        listed = self._manifest_by_hour(org_id, stream_name, sorted(set(hours)))
        stream: Stream | None = None
        results: list[RoundResult] = []
        for hour, first_read in listed.items():
            entries = first_read
            while len(results) < max_rounds:
                small = [e for e in entries if int(e["bytes"]) < self.policy.small_bytes]
                if len(small) < fanin:
                    break
                stream = stream or self.streams.find(org_id, stream_name)
                if stream is None:
                    return results
                groups = plan_tiers(
                    committed_entries(self.table, org_id, small, now_us=moment),
                    fanin=fanin,
                    small_bytes=self.policy.small_bytes,
                    target_bytes=self.policy.target_bytes,
                )
                if not groups:
                    break
                result = self.compact_group(org_id, stream_name, groups[0], stream_schema=stream.schema)
                results.append(result)
                if result.outcome != "committed":
                    break
                entries = self.streams.manifest_hours(org_id, stream_name, (hour, hour))
        return results

    def _manifest_by_hour(self, org_id: str, stream_name: str, hours: list[int]) -> dict[int, list[Item]]:
        """The stream's manifest entries in each of ``hours`` (ascending): one read per run of
        adjacent hours (a landing's hours usually are), never over the hours between runs."""
        out: dict[int, list[Item]] = {hour: [] for hour in hours}
        runs: list[list[int]] = []
        for hour in hours:
            if runs and hour == runs[-1][-1] + HOUR_US:
                runs[-1].append(hour)
            else:
                runs.append([hour])
        for run in runs:
            for entry in self.streams.manifest_hours(org_id, stream_name, (run[0], run[-1])):
                hour = int(entry["hour_us"])
                if hour in out:
                    out[hour].append(entry)
        return out

    # a stream, everything
    def compact_stream(
        self, org_id: str, stream_name: str, *, max_rounds: int = 1000, deadline: float | None = None
    ) -> tuple[list[RoundResult], bool]:
        """Rounds over the stream's partitions; (results, stopped early)."""
        stream = self.streams.find(org_id, stream_name)
        if stream is None:
            return [], False
        results: list[RoundResult] = []
        for group in self.plan(stream):
            if len(results) >= max_rounds or (deadline is not None and time.monotonic() > deadline):
                return results, True
            results.append(self.compact_group(org_id, stream_name, group, stream_schema=stream.schema))
        return results, False


def run_compaction(
    compactor: Compactor | None = None,
    *,
    orgs: Iterable[str] | None = None,
    max_rounds: int = 200,
    max_rounds_per_stream: int = 40,
    deadline: float | None = None,
    sweep: bool = True,
) -> CompactionReport:
    """Compact every stream of every org (or of ``orgs``), then sweep due garbage.

    Work is bounded by ``max_rounds`` in all, ``max_rounds_per_stream`` (so one backlog
    cannot starve the others) and ``deadline`` (a ``time.monotonic()`` value); what is left
    is picked up by the next run.
    """
    worker = compactor or Compactor()
    report = CompactionReport()

    def exhausted() -> bool:
        return len(report.rounds) >= max_rounds or (deadline is not None and time.monotonic() > deadline)

    for org_id in org_ids(worker.table) if orgs is None else list(orgs):
        if exhausted():
            report.truncated = True
            break
        report.orgs += 1
        for stream in worker.streams.all(org_id):
            if exhausted():
                report.truncated = True
                break
            report.streams += 1
            budget = min(max_rounds_per_stream, max_rounds - len(report.rounds))
            try:
                results, stopped = worker.compact_stream(org_id, stream.name, max_rounds=budget, deadline=deadline)
            except Exception:  # one broken stream must not stop the others being compacted
                logger.exception("compaction failed for a stream", extra={"org_id": org_id, "stream": stream.name})
                report.errors += 1
                continue
            report.rounds.extend(results)
            report.truncated = report.truncated or stopped
    if sweep:
        report.swept = worker.sweep()
    return report
