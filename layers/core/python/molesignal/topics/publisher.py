"""Committed row changes become topic messages.

Attached to the row-change seam (``molesignal.lake.changes``) by every function that commits
rows: the SQL function (INSERT, UPDATE, DELETE on SQL tables) and the workers that land ingest
streams. It runs after the commit, in the committing process: a process that dies between the
two loses that change's messages (ADR 0020 says why this is the guarantee given). A change to
a relation no topic names costs one DynamoDB query.
"""

from __future__ import annotations

import base64
import threading
import zlib
from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from molesignal.lake.changes import RowChange, subscribe
from molesignal.lake.streams import SEALED_COLUMNS
from molesignal.observability import logger
from molesignal.storage.table import Table
from molesignal.topics.catalog import Topic, Topics
from molesignal.topics.log import Draft, TopicLog, row_json
from molesignal.topics.wakeups import note_appended

_attached = False
_attach_lock = threading.Lock()


def attach() -> None:
    """Publish every change committed in this process to the topics that source it (once)."""
    global _attached
    with _attach_lock:
        if not _attached:
            subscribe(_on_change)
            _attached = True


def _on_change(change: RowChange) -> None:
    publish_change(Table(), change)


def publish_change(table: Table, change: RowChange) -> int:
    """Append the change's rows to every topic sourcing its relation and operation; returns the
    number of messages written. A change without its rows (erasure on an ingest stream) is not
    published: erased data is not copied anywhere else."""
    if change.rows is None or change.rows.num_rows == 0:
        return 0
    topics = Topics(table).sourced_by(change.org_id, change.relation, change.operation)
    if not topics:
        return 0
    rows = [_public_row(change, row) for row in change.rows.to_pylist()]
    keys = _keys(table, change, rows)
    drafts = [Draft(key, change.operation, row_json(row)) for key, row in zip(keys, rows, strict=True)]
    log = TopicLog(table)
    written = 0
    for topic in topics:
        for partition_id, batch in _by_partition(topic, drafts).items():
            written += len(log.append(topic, partition_id, batch))
    note_appended()
    logger.debug("published", extra={"relation": change.relation, "topics": len(topics), "messages": written})
    return written


def partition_of(topic: Topic, draft: Draft) -> int:
    """Messages with one key always go to one partition (their order is kept); keyless ones
    spread by their content."""
    basis = draft.key if draft.key is not None else draft.row_json
    return zlib.crc32(basis.encode()) % topic.partitions


def _by_partition(topic: Topic, drafts: list[Draft]) -> dict[int, list[Draft]]:
    parts: dict[int, list[Draft]] = defaultdict(list)
    for draft in drafts:
        parts[partition_of(topic, draft)].append(draft)
    return dict(sorted(parts.items()))


def _keys(table: Table, change: RowChange, rows: list[dict[str, Any]]) -> list[str | None]:
    """A row's key is its primary key's value(s) as text: SQL tables with a primary key only."""
    if change.table_id is None:
        return [None] * len(rows)
    from molesignal.lake.tables import Tables

    namespace, _, name = change.relation.partition(".")
    definition = Tables(table).find(change.org_id, namespace, name)
    if definition is None or not definition.primary_key:
        return [None] * len(rows)
    columns = definition.primary_key
    if len(columns) == 1:
        return [None if row.get(columns[0]) is None else str(row.get(columns[0])) for row in rows]
    return [row_json([row.get(c) for c in columns]) for row in rows]


def _public_row(change: RowChange, row: dict[str, Any]) -> dict[str, Any]:
    """The row as a SELECT shows it: a SQL table's bookkeeping columns (names starting with '_',
    which no user column may take) and an ingest stream's sealed columns left out."""
    if change.table_id is not None:
        return {k: _json_value(v) for k, v in row.items() if not k.startswith("_")}
    hidden = SEALED_COLUMNS.get(change.relation.partition(".")[2], frozenset())
    return {k: _json_value(v) for k, v in row.items() if k not in hidden}


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value
