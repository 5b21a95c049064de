"""STREAM tables' TTL: their files whose every row is older than the table's TTL go.

Reads already leave such rows out (``molesignal.query.table_scan``), to the microsecond; this
job only frees their storage, whole files at a time, through the same scope commits as any
DELETE, so a writer meanwhile simply makes it read the scope again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from molesignal.clock import now_us as clock_now_us
from molesignal.lake.retention import org_ids
from molesignal.lake.table_commit import MAX_REMOVALS_PER_COMMIT, Change, TableCommits, TableGone, VersionConflict
from molesignal.lake.tables import ScopeFiles, TableDef, Tables, TableType
from molesignal.observability import logger
from molesignal.storage.table import Table

_ATTEMPTS = 5


def expire_stream_tables(
    table: Table | None = None,
    *,
    orgs: Iterable[str] | None = None,
    now_us: int | None = None,
    deadline: float | None = None,
) -> int:
    """Files removed from every STREAM table of every org (or of ``orgs``)."""
    store = TableCommits(table)
    tables = Tables(store.table)
    moment = clock_now_us() if now_us is None else now_us
    removed = 0
    for org_id in org_ids(store.table) if orgs is None else list(orgs):
        for definition in tables.all(org_id):
            if definition.table_type is not TableType.STREAM or not definition.ttl_seconds:
                continue
            if deadline is not None and time.monotonic() > deadline:
                return removed
            cutoff = moment - definition.ttl_seconds * 1_000_000
            for state in tables.scopes(definition):
                try:
                    removed += _expire_scope(store, tables, definition, state.scope, cutoff)
                except TableGone:
                    break  # dropped meanwhile: its data went with it
                except Exception:  # one broken scope must not stop the others
                    logger.exception("TTL expiry failed", extra={"table": definition.qualified, "scope": state.scope})
    return removed


def _expire_scope(store: TableCommits, tables: Tables, definition: TableDef, scope: str, cutoff: int) -> int:
    removed = 0
    for _ in range(_ATTEMPTS):
        files: ScopeFiles = tables.scope_files(definition, scope)
        expired = [e for e in files.entries if int(e.get("max_inserted_us", 0)) < cutoff][:MAX_REMOVALS_PER_COMMIT]
        if not expired:
            return removed
        change = Change(removed=expired, rows_delta=-sum(int(e["rows"]) for e in expired))
        try:
            store.commit(files, change)
            removed += len(expired)
        except VersionConflict:
            continue
    return removed
