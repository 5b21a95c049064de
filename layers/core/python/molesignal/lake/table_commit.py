"""Committing changes to SQL table scopes: manifest transactions (no Parquet in here).

Every change to a scope (an INSERT, the files an UPDATE or DELETE rewrote, a TTL expiry) is
one DynamoDB transaction that

* puts the manifest entries of the new files (each reserved as ``PENDING`` before its object
  was written, and released here, so an object whose commit never happens is swept),
* deletes the entries of the files they replace (each must still be listed) and schedules
  those objects, and any stored files the removed rows referenced, for deletion after the
  garbage grace (a query planned a moment earlier may still read them),
* moves the scope's ``version`` from the one the statement read to the next, and its
  counters, conditionally: two writers of one scope are serialised, the loser re-reads and
  tries again (``VersionConflict``),
* checks that the table is still the one the statement resolved (not dropped, not
  recreated), and moves the org's stored bytes.

So a reader sees a statement whole or not at all, and never a row twice or lost. Versions
only grow, so the result cache and read-your-writes key on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from molesignal import aws
from molesignal.clock import now_us
from molesignal.lake import garbage
from molesignal.lake.layout import table_blob_prefix
from molesignal.lake.tables import ScopeFiles, TableDef, Tables, scope_key, table_key
from molesignal.quotas import storage_usage_change
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

MAX_REMOVALS_PER_COMMIT = 80  # + new files, state, table check, releases, garbage, usage, outbox: ≤ 100
# A statement that rewrites files spends three actions on each (delete, put, release), besides
# the state, table check, two garbage schedules, usage, the outbox item and a release per
# uploaded file (≤ 10): 84 + 6 + 10 = 100.
MAX_REWRITES_PER_COMMIT = 28
_MAX_TRANSACTION_ACTIONS = 100  # DynamoDB's limit


class VersionConflict(Exception):
    """Another statement committed to the scope since this one read it: read again, retry."""


class TableGone(Exception):
    """The table was dropped (or dropped and created again) while the statement ran."""


@dataclass
class StagedFile:
    """A file written and reserved, waiting for the commit that lists it."""

    entry: Item
    rows: int
    bytes: int


@dataclass
class Change:
    """What one commit does to a scope."""

    added: list[StagedFile] = field(default_factory=list)
    removed: list[Item] = field(default_factory=list)
    rows_delta: int = 0
    released_blobs: list[str] = field(default_factory=list)  # stored files this commit makes referenced
    dropped_blobs: list[str] = field(default_factory=list)  # stored files no row references any more
    outbox: dict[str, Any] | None = None  # the outbox item's put (molesignal.lake.outbox), when a topic sources it


class TableCommits:
    def __init__(self, table: Table | None = None, bucket: str | None = None) -> None:
        self.table = table or Table()
        self.bucket = bucket or get_settings().resource_name("lake")

    # --- commits -------------------------------------------------------------------
    def commit(self, files: ScopeFiles, change: Change) -> int:
        """Apply ``change`` to the scope as read in ``files``; the scope's new version."""
        definition, state = files.table, files.state
        if len(change.removed) > MAX_REMOVALS_PER_COMMIT:
            raise ValueError(f"one commit removes at most {MAX_REMOVALS_PER_COMMIT} files")
        org_id = definition.org_id
        table = self.table
        new_version = max(state.version + 1, 1)
        added_bytes = sum(f.bytes for f in change.added)
        removed_bytes = sum(int(e["bytes"]) for e in change.removed)
        delta_bytes = added_bytes - removed_bytes
        operations: list[dict[str, Any]] = [
            table.put_op(f.entry, condition="attribute_not_exists(pk)") for f in change.added
        ]
        operations += [
            table.delete_op(str(e["pk"]), str(e["sk"]), condition="attribute_exists(pk)") for e in change.removed
        ]
        pk, sk = scope_key(org_id, definition.table_id, state.scope)
        values: dict[str, Any] = {
            ":next": new_version,
            ":rows": change.rows_delta,
            ":bytes": delta_bytes,
            ":files": len(change.added) - len(change.removed),
            ":now": now_us(),
            ":org": org_id,
            ":table": definition.table_id,
            ":scope": state.scope,
        }
        if state.version:
            condition = "version = :current"
            values[":current"] = state.version
        else:
            condition = "attribute_not_exists(pk)"
        operations.append(
            table.update_op(
                pk,
                sk,
                "SET version = :next, updated_at_us = :now, org_id = :org, table_id = :table, #scope = :scope "
                "ADD row_count :rows, #bytes :bytes, file_count :files",
                condition=condition,
                names={"#bytes": "bytes", "#scope": "scope"},
                values=values,
            )
        )
        table_pk, table_sk = table_key(org_id, definition.namespace, definition.name)
        operations.append(table.check_op(table_pk, table_sk, "table_id = :id", values={":id": definition.table_id}))
        operations += [garbage.release_output(table, org_id, str(f.entry["key"])) for f in change.added]
        blobs = get_settings().resource_name("blobs")
        operations += [garbage.release_output(table, org_id, key) for key in change.released_blobs]
        delete_after = garbage.new_delete_after(garbage.DEFAULT_GRACE_S)
        if change.removed:
            operations.append(
                garbage.grace_put(table, org_id, change.removed, delete_after_us=delete_after, reason="table rewrite")
            )
        if change.dropped_blobs:
            operations.append(
                garbage.grace_put_objects(
                    table,
                    org_id,
                    change.dropped_blobs,
                    bucket=blobs,
                    delete_after_us=delete_after,
                    reason="file of a deleted or replaced row",
                )
            )
        if delta_bytes:
            operations.append(storage_usage_change(table, org_id, delta_bytes))
        if change.outbox is not None:
            operations.append(change.outbox)
        self._transact(operations, state_index=len(change.added) + len(change.removed), definition=definition)
        return new_version

    def _transact(self, operations: list[dict[str, Any]], *, state_index: int, definition: TableDef) -> None:
        if len(operations) > _MAX_TRANSACTION_ACTIONS:  # a caller's bound is wrong: never send it
            raise ValueError(f"a table commit of {len(operations)} actions (DynamoDB takes {_MAX_TRANSACTION_ACTIONS})")
        client = self.table.client
        try:
            client.transact_write_items(TransactItems=operations)
        except client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) > state_index + 1 and reasons[state_index + 1] == "ConditionalCheckFailed":
                raise TableGone(definition.qualified) from exc
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                raise VersionConflict(definition.qualified) from exc
            raise

    # --- dropping a table ----------------------------------------------------------
    def drop_data(self, definition: TableDef) -> int:
        """Remove every scope of a table already taken out of the catalog; files removed.

        Its objects, and the stored files under its blob prefix, are scheduled for deletion
        after the grace, like any rewrite's: a query planned before the drop may still read them.
        """
        tables = Tables(self.table)
        org_id = definition.org_id
        delete_after = garbage.new_delete_after(garbage.DEFAULT_GRACE_S)
        removed = 0
        for state in tables.scopes(definition):
            entries = tables.entries(definition, state.scope)
            for start in range(0, max(len(entries), 1), MAX_REMOVALS_PER_COMMIT):
                batch = entries[start : start + MAX_REMOVALS_PER_COMMIT]
                operations = [self.table.delete_op(str(e["pk"]), str(e["sk"])) for e in batch]
                if batch:
                    operations.append(
                        garbage.grace_put(
                            self.table, org_id, batch, delete_after_us=delete_after, reason="table dropped"
                        )
                    )
                    operations.append(storage_usage_change(self.table, org_id, -sum(int(e["bytes"]) for e in batch)))
                if start + MAX_REMOVALS_PER_COMMIT >= len(entries):
                    operations.append(self.table.delete_op(*scope_key(org_id, definition.table_id, state.scope)))
                self.table.transact(operations)
                removed += len(batch)
        self._drop_blobs(definition, delete_after)
        return removed

    def _drop_blobs(self, definition: TableDef, delete_after: int) -> None:
        blobs = get_settings().resource_name("blobs")
        s3 = aws.client("s3")
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=blobs, Prefix=table_blob_prefix(definition.org_id, definition.table_id)):
            keys = [str(o["Key"]) for o in page.get("Contents") or ()]
            if keys:
                self.table.transact(
                    [
                        garbage.grace_put_objects(
                            self.table,
                            definition.org_id,
                            keys,
                            bucket=blobs,
                            delete_after_us=delete_after,
                            reason="table dropped",
                        )
                    ]
                )
