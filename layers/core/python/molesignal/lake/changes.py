"""The one place committed row changes are announced.

Every statement that changes rows — INSERT, UPDATE and DELETE on SQL tables, DELETE on an
ingest stream — and every landed batch of an ingest stream (``Lake._append``, as an insert
with the rows) calls ``publish`` once per commit, after the commit succeeded, with what it
did. Nothing here is durable: it is the seam where live queries and topics (which need the
rows of each change) attach, in-process. A listener that fails is logged and never fails
the statement, whose commit already happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from molesignal.observability import logger


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


Listener = Callable[[RowChange], None]
_listeners: list[Listener] = []
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
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(change)
        except Exception:
            logger.exception("a row-change listener failed", extra={"relation": change.relation})
