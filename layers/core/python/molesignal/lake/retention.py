"""Retention: removing a stream's files whose every row is older than its retention.

For each stream, ``cutoff = now - retention_days``; a manifest entry whose ``max_ts_us`` is
before the cutoff is removed — whole files only, so a file that straddles the cutoff (at
most an hour partition's worth of rows, or a compacted hour) stays until its newest row
has aged out too. Each batch of removals is one DynamoDB transaction that deletes the
entries, updates the stream (rows, bytes, files, first timestamp) *and bumps its version*
— rows are gone, so cached query results keyed on the old version must become
unreachable — under the same optimistic ``version`` condition the writer uses (a conflict
re-reads and retries), adjusts the org's storage usage, and schedules the objects for
deletion after a grace period (``molesignal.lake.garbage``): queries planned a moment
earlier may still read them.

Re-running finds nothing left past the cutoff and changes nothing (a stream whose first
timestamp is inside the retention is not even read). No pyarrow here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from molesignal.clock import now_us as clock_now_us
from molesignal.lake import garbage
from molesignal.lake.streams import Stream, Streams, landed_key, note_local_change, stream_key
from molesignal.lake.visibility import drop_superseded
from molesignal.observability import logger
from molesignal.quotas import storage_usage_change
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Item, Table

DAY_US = 86_400_000_000
REMOVALS_PER_TRANSACTION = 90  # + stream, usage and garbage: under DynamoDB's 100 actions
_MAX_CONFLICTS = 20
# The writer's landed-marker TTL (``writer.LANDED_MARKER_TTL_S``, longer than any SQS
# retention), repeated so this module needs no pyarrow; a unit test keeps them equal.
LANDED_MARKER_LIFETIME_S = 15 * 24 * 3600


def org_ids(table: Table) -> list[str]:
    """Every org (the gsi1 ``ORGS`` listing)."""
    return sorted(str(item["org_id"]) for item in table.query_all(keys.org_listing(), index="gsi1"))


def committed_entries(table: Table, org_id: str, entries: Iterable[Item], *, now_us: int) -> list[Item]:
    """Entries whose writer finished its commit.

    A request spanning more than 90 hours is committed in several transactions; only the
    last carries the landed marker. Entries of an unfinished one are re-put when the
    message is redelivered, so compacting or expiring them early would duplicate rows or
    leave an entry pointing at a deleted object. Compacted entries are always whole, and
    entries older than the marker's lifetime can no longer be redelivered.
    """
    listed = list(entries)
    settled_before = now_us - LANDED_MARKER_LIFETIME_S * 1_000_000

    def needs_marker(entry: Item) -> bool:
        return not int(entry.get("generation", 0)) and int(entry.get("created_at_us", 0)) > settled_before

    wanted = sorted({str(e["request_id"]) for e in listed if needs_marker(e)})
    landed: set[str] = set()
    for start in range(0, len(wanted), 100):
        marker_keys = [landed_key(org_id, request_id) for request_id in wanted[start : start + 100]]
        request: dict[str, Any] = {
            table.name: {
                "Keys": [table.marshal({"pk": pk, "sk": sk}) for pk, sk in marker_keys],
                "ProjectionExpression": "pk",
                "ConsistentRead": True,
            }
        }
        for attempt in range(10):
            response = table.client.batch_get_item(RequestItems=request)
            landed.update(raw["pk"]["S"] for raw in response.get("Responses", {}).get(table.name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError("DynamoDB kept returning unprocessed keys for landed markers")
    return [e for e in listed if not needs_marker(e) or landed_key(org_id, str(e["request_id"]))[0] in landed]


@dataclass
class RetentionResult:
    org_id: str
    stream: str
    files: int = 0
    rows: int = 0
    bytes: int = 0
    transactions: int = 0
    conflicts: int = 0


@dataclass
class RetentionReport:
    orgs: int = 0
    streams: int = 0
    files_removed: int = 0
    rows_removed: int = 0
    bytes_removed: int = 0
    transactions: int = 0
    truncated: bool = False
    errors: int = 0
    swept: garbage.SweepResult = field(default_factory=garbage.SweepResult)

    def add(self, result: RetentionResult) -> None:
        self.files_removed += result.files
        self.rows_removed += result.rows
        self.bytes_removed += result.bytes
        self.transactions += result.transactions

    def as_dict(self) -> dict[str, Any]:
        return {
            "orgs": self.orgs,
            "streams": self.streams,
            "files_removed": self.files_removed,
            "rows_removed": self.rows_removed,
            "bytes_removed": self.bytes_removed,
            "transactions": self.transactions,
            "truncated": self.truncated,
            "errors": self.errors,
            "objects_deleted": self.swept.objects_deleted,
            "abandoned_outputs": self.swept.abandoned_outputs,
        }


class _Retry(Exception):
    """The stream or its manifest changed under us: read again."""


class Retention:
    def __init__(
        self, table: Table | None = None, bucket: str | None = None, *, grace_s: float = garbage.DEFAULT_GRACE_S
    ) -> None:
        self.table = table or Table()
        self.bucket = bucket or get_settings().resource_name("lake")
        self.streams = Streams(self.table)
        self.grace_s = grace_s

    def apply(self, org_id: str, stream_name: str, *, now_us: int | None = None) -> RetentionResult:
        """Remove the stream's files past its retention; safe to repeat at any time."""
        moment = clock_now_us() if now_us is None else now_us
        result = RetentionResult(org_id, stream_name)
        while True:
            stream = self.streams.find(org_id, stream_name)
            if stream is None:
                return result
            cutoff = moment - stream.retention_days * DAY_US
            if stream.first_ts_us is None or int(stream.first_ts_us) >= cutoff:
                return result
            entries = drop_superseded(self.streams.manifest(org_id, stream_name))
            expired = [e for e in entries if int(e["max_ts_us"]) < cutoff]
            expired = sorted(committed_entries(self.table, org_id, expired, now_us=moment), key=lambda e: str(e["sk"]))
            if not expired:
                return result
            batch = expired[:REMOVALS_PER_TRANSACTION]
            removing = {str(e["sk"]) for e in batch}
            remaining = [e for e in entries if str(e["sk"]) not in removing]
            try:
                self._commit(stream, batch, remaining, moment)
            except _Retry:
                result.conflicts += 1
                if result.conflicts > _MAX_CONFLICTS:
                    raise RuntimeError(f"stream {stream_name!r} kept changing; retention will retry next run") from None
                time.sleep(min(1.0, 0.02 * 2**result.conflicts))
                continue
            result.files += len(batch)
            result.rows += sum(int(e["rows"]) for e in batch)
            result.bytes += sum(int(e["bytes"]) for e in batch)
            result.transactions += 1

    def _commit(self, stream: Stream, batch: list[Item], remaining: list[Item], now_us: int) -> None:
        table = self.table
        rows = sum(int(e["rows"]) for e in batch)
        size = sum(int(e["bytes"]) for e in batch)
        operations: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": table.name,
                    "Key": table.marshal({"pk": e["pk"], "sk": e["sk"]}),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
            for e in batch
        ]
        values: dict[str, Any] = {
            ":current": stream.version,
            ":next": stream.version + 1,
            ":rows": -rows,
            ":bytes": -size,
            ":files": -len(batch),
        }
        if remaining:
            values[":first"] = min(int(e["min_ts_us"]) for e in remaining)
            sets = "SET version = :next, first_ts_us = :first "
        else:  # nothing left: the stream has no time range until rows land again
            sets = "SET version = :next REMOVE first_ts_us, last_ts_us "
        pk, sk = stream_key(stream.org_id, stream.name)
        operations.append(
            {
                "Update": {
                    "TableName": table.name,
                    "Key": table.marshal({"pk": pk, "sk": sk}),
                    "UpdateExpression": sets + "ADD row_count :rows, #bytes :bytes, file_count :files",
                    "ConditionExpression": "version = :current",
                    "ExpressionAttributeNames": {"#bytes": "bytes"},
                    "ExpressionAttributeValues": table.marshal(values),
                }
            }
        )
        operations.append(storage_usage_change(table, stream.org_id, -size))
        operations.append(
            garbage.grace_put(
                table,
                stream.org_id,
                batch,
                delete_after_us=garbage.new_delete_after(self.grace_s, now_us),
                reason="retention",
            )
        )
        client = table.client
        try:
            client.transact_write_items(TransactItems=operations)
        except client.exceptions.TransactionCanceledException as exc:
            codes = {r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])}
            if codes & {"ConditionalCheckFailed", "TransactionConflict"}:
                raise _Retry from exc
            raise
        note_local_change(stream.org_id)

    def sweep(self, *, now_us: int | None = None) -> garbage.SweepResult:
        return garbage.sweep(self.table, self.bucket, now_us=now_us, grace_s=self.grace_s)


def run_retention(
    retention: Retention | None = None,
    *,
    orgs: Iterable[str] | None = None,
    now_us: int | None = None,
    deadline: float | None = None,
    sweep: bool = True,
) -> RetentionReport:
    """Apply retention to every stream of every org (or of ``orgs``), then sweep garbage.

    ``deadline`` is a ``time.monotonic()`` value: no new stream is started past it (the next
    run carries on; every step is idempotent).
    """
    worker = retention or Retention()
    report = RetentionReport()
    for org_id in org_ids(worker.table) if orgs is None else list(orgs):
        report.orgs += 1
        for stream in worker.streams.all(org_id):
            if deadline is not None and time.monotonic() > deadline:
                report.truncated = True
                break
            report.streams += 1
            try:
                report.add(worker.apply(org_id, stream.name, now_us=now_us))
            except Exception:  # one broken stream must not stop the others expiring
                logger.exception("retention failed for a stream", extra={"org_id": org_id, "stream": stream.name})
                report.errors += 1
        if report.truncated:
            break
    if sweep:
        report.swept = worker.sweep(now_us=now_us)
    return report
