"""Committed row changes become topic messages.

Attached to the row-change seam (``molesignal.lake.changes``) by every function that commits
rows: the SQL function (INSERT, UPDATE, DELETE on SQL tables) and the workers that land ingest
streams. Before a commit it says whether a topic sources the change (``set_durable_interest``),
so the commit carries an outbox item (``molesignal.lake.outbox``); after the commit it writes
the messages and deletes the item. A process that dies in between leaves the item to the
sweeper (``topics.sweeper``); appends are idempotent by the change id, so every committed
change is written to its topics exactly once (ADR 0020).

Which topics source a relation comes from a per-process cache of the org's topic list, keyed
by the org's watch marker (``molesignal.lake.watch``): a change to a relation no topic names
costs no DynamoDB request, only a marker read per org and ``watch_cache_s``.
"""

from __future__ import annotations

import base64
import threading
import zlib
from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from molesignal.lake.changes import RowChange, set_durable_interest, subscribe
from molesignal.lake.outbox import Outbox
from molesignal.lake.streams import SEALED_COLUMNS
from molesignal.lake.watch import Watch
from molesignal.observability import logger
from molesignal.storage.table import Table
from molesignal.topics.catalog import Topic, Topics
from molesignal.topics.log import Draft, TopicLog, row_json
from molesignal.topics.wakeups import note_appended

_attached = False
_attach_lock = threading.Lock()
_topic_lists: dict[str, tuple[int, list[Topic]]] = {}  # org -> (topics_version, its topics)


def attach() -> None:
    """Publish every change committed in this process to the topics that source it (once)."""
    global _attached
    with _attach_lock:
        if not _attached:
            subscribe(_on_change)
            set_durable_interest(_sourced)
            _attached = True


def _sourced(change: RowChange) -> bool:
    return bool(sourcing_topics(Table(), change.org_id, change.relation, change.operation))


def _on_change(change: RowChange) -> None:
    publish_change(Table(), change)


def sourcing_topics(table: Table, org_id: str, relation: str, operation: str) -> list[Topic]:
    """The org's topics that source ``relation`` on ``operation``, from the cached topic list."""
    watch = Watch(table)
    version = watch.state(org_id).topics_version
    if version == 0:
        return []  # no topic of the org ever had a source
    with _attach_lock:
        cached = _topic_lists.get(org_id)
    if cached is not None and cached[0] == version:
        topics = cached[1]
    else:
        topics = Topics(table).all(org_id)
        if version is None:
            watch.record_topics(org_id, any(t.sources for t in topics))
        else:
            with _attach_lock:
                _topic_lists[org_id] = (version, topics)
    return [t for t in topics if t.sources_of(relation, operation)]


def publish_change(table: Table, change: RowChange) -> int:
    """Append the change's rows to every topic sourcing its relation and operation; returns the
    number of messages written (again, for a change published before). A change without its
    rows (erasure on an ingest stream) is not published: erased data is not copied anywhere
    else. A change from the outbox is written once whoever publishes it, and its item is
    deleted once every message is in."""
    if change.rows is None or change.rows.num_rows == 0:
        return 0
    topics = sourcing_topics(table, change.org_id, change.relation, change.operation)
    if not topics:
        if change.outbox is not None:
            Outbox(table).done(change.outbox)  # its sources were dropped since the commit
        return 0
    rows = [_public_row(change, row) for row in change.rows.to_pylist()]
    keys = _keys(table, change, rows)
    drafts = [Draft(key, change.operation, row_json(row)) for key, row in zip(keys, rows, strict=True)]
    log = TopicLog(table)
    written = 0
    for topic in topics:
        for partition_id, batch in _by_partition(topic, drafts).items():
            written += len(log.append(topic, partition_id, batch, change.change_id))
    if change.outbox is not None:
        Outbox(table).done(change.outbox)
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
