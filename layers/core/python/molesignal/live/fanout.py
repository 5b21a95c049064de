"""From a committed change to the subscribers it concerns: the writer's side of live queries.

Installed as a ``molesignal.lake.changes`` listener in each function that commits rows (the
SQL function, the ingest and events workers). Per change: nothing when the org's watch marker
(``molesignal.lake.watch``, cached ``watch_cache_s``) says no subscription of the org is alive;
otherwise one DynamoDB Query for the relation's subscriptions, the change's rows through each
subscription's compiled filter (DuckDB over the Arrow rows), one ``PostToConnection`` per
subscription with matching rows. A connection that is gone (410) is forgotten at once; one whose login session ended
(``session_state``) gets ``auth_error`` and is closed.
Delivery never fails the statement: its commit happened already (the changes seam logs a
failing listener).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pyarrow as pa

from molesignal.lake.changes import RowChange
from molesignal.lake.changes import subscribe as on_change
from molesignal.lake.streams import SEALED_COLUMNS
from molesignal.lake.tables import SHARED_SCOPE
from molesignal.lake.watch import Watch
from molesignal.live import protocol as p
from molesignal.live.connections import CONNECTION_TTL_S, Connections, Subscription
from molesignal.live.posting import ApiGatewayPoster, ConnectionGone, Poster
from molesignal.live.rows_filter import matching_rows
from molesignal.live.session_state import SessionStates
from molesignal.observability import logger
from molesignal.settings import get_settings

_installed: Callable[[], None] | None = None
_lock = threading.Lock()


def install() -> None:
    """Deliver this process's committed changes to live subscribers (idempotent)."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = on_change(_deliver_configured)


def _deliver_configured(change: RowChange) -> None:
    if not get_settings().live_connections_url:
        return  # no WebSocket API in this deployment
    deliver(change, Connections(), ApiGatewayPoster())


def _visible_rows(change: RowChange) -> pa.Table | None:
    rows = change.rows
    if not isinstance(rows, pa.Table):
        return None
    namespace, _, name = change.relation.partition(".")
    hidden = (
        [c for c in SEALED_COLUMNS.get(name, frozenset()) if c in rows.column_names] if namespace == "default" else []
    )
    return rows.drop_columns(hidden) if hidden else rows


def _sees(subscription: Subscription, change: RowChange) -> bool:
    """USER-table rows belong to one user: the subscriber's own scope, or a shared table's."""
    return change.scope is None or change.scope in (SHARED_SCOPE, subscription.user_id)


def deliver(change: RowChange, connections: Connections, poster: Poster) -> int:
    """Post ``change`` to every subscription whose SELECT would show its rows; returns posts made."""
    if not Watch(connections.table).live(change.org_id, subscription_max_s=CONNECTION_TTL_S):
        return 0  # nobody of the org subscribes to anything
    subscriptions = connections.watching(change.org_id, change.relation)
    if not subscriptions:
        return 0
    rows = _visible_rows(change)
    sessions = SessionStates(connections.table)
    posted = 0
    gone: set[str] = set()
    for subscription in subscriptions:
        if subscription.connection_id in gone or not _sees(subscription, change):
            continue
        if subscription.session_id and not sessions.alive(subscription.session_id):
            gone.add(subscription.connection_id)
            _end(subscription.connection_id, connections, poster)
            continue
        if rows is not None:
            try:
                matched = matching_rows(subscription.filter_sql, rows)
            except Exception:  # a column the rows lack (schema moved on): this subscriber only
                logger.warning(
                    "live: a subscription's filter failed", extra={"relation": change.relation}, exc_info=True
                )
                continue
            if not matched:
                continue
            frame = p.change(subscription.subscription_id, change.operation, matched, len(matched))
        else:
            frame = p.change(subscription.subscription_id, change.operation, None, change.row_count)
        try:
            poster.post(subscription.connection_id, frame)
            posted += 1
        except ConnectionGone:
            gone.add(subscription.connection_id)
            connections.drop(subscription.connection_id)
    return posted


def _end(connection_id: str, connections: Connections, poster: Poster) -> None:
    """Close a connection whose login session ended (logged out, revoked, user disabled or
    deleted, expired), as a refused ``authenticate`` is closed."""
    connections.drop(connection_id)
    try:
        poster.post(connection_id, p.auth_error("session ended: log in again and resubscribe"))
        poster.close(connection_id)
    except ConnectionGone:
        pass
