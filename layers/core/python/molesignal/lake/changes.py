"""The one place committed row changes are announced.

Every statement that changes rows — INSERT, UPDATE and DELETE on SQL tables, DELETE on an
ingest stream — and every landed batch of an ingest stream (``Lake._append``, as an insert
with the rows) calls ``publish`` once per commit, after the commit succeeded, with what it
did. It is the seam where live queries and topics (which need the rows of each change)
attach, in-process. A listener that fails is logged and never fails the statement, whose
commit already happened.

Durability is asked for before the commit: a change some consumer needs published durably
(``durable_interest``, which the topics publisher sets) gets an outbox item in the commit's
own transaction (``molesignal.lake.outbox``), and the change announced carries it (``outbox``)
for the listener that publishes it to delete.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from molesignal.observability import logger
from molesignal.settings import get_settings


@dataclass(frozen=True)
class RowChange:
    org_id: str
    relation: str  # "<namespace>.<table>", or "default.<stream>" for an ingest stream
    operation: str  # "insert" | "update" | "delete"
    row_count: int
    actor: str  # the user whose scope the statement ran in
    table_id: str | None = None  # SQL tables only
    scope: str | None = None  # SQL tables: the user id, or "_shared"
    version: int | None = None  # the scope's version after the commit (SQL tables)
    rows: Any = None  # the rows inserted, after an update, or deleted (a pyarrow Table), when at hand
    change_id: str | None = None  # set when the change has an outbox item: publishing is idempotent by it
    outbox: OutboxRef | None = None


@dataclass(frozen=True)
class OutboxRef:
    """Where a committed change's outbox item (and, for large rows, their object) is."""

    pk: str
    sk: str
    rows_key: str | None = None  # an S3 object of the lake bucket holding the rows


Listener = Callable[[RowChange], None]
_listeners: list[Listener] = []
_durable_interest: Callable[[RowChange], bool] | None = None


def set_durable_interest(predicate: Callable[[RowChange], bool] | None) -> None:
    """Who decides, before a commit, that its change must be published durably (once per process)."""
    global _durable_interest
    _durable_interest = predicate


def wants_durable(change: RowChange) -> bool:
    """Whether the commit of ``change`` should carry an outbox item (a consumer in this
    process must publish it, and the change has rows to publish)."""
    predicate = _durable_interest
    if predicate is None or change.rows is None or change.rows.num_rows == 0:
        return False
    return predicate(change)


_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with every change committed in this process; returns the unsubscribe."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def publish(change: RowChange) -> None:
    if change.outbox is not None and _fault_injected():
        return
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(change)
        except Exception:
            logger.exception("a row-change listener failed", extra={"relation": change.relation})


def _fault_injected() -> bool:
    """The test hook ``outbox_fault``: a committed change whose outbox item is then left to the
    sweeper, as if the process had died after the commit ("skip"), or dies there ("exit")."""
    fault = get_settings().outbox_fault
    if fault == "exit":
        logger.warning("outbox_fault=exit: ending the process between a commit and its publish")
        os._exit(9)
    return fault == "skip"
