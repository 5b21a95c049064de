"""Reading audit events back: one by id, and filtered pages newest first.

Both go through the tenant-safe query path (``QueryService``) with bound parameters over
the caller's own ``audit_events`` stream. A page is ordered by ``occurred_at`` then id; its
cursor holds the µs position of its last item (``cursor.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from molesignal.auth.principal import Principal, Role
from molesignal.errors import Invalid, NotFound
from molesignal.events import cursor as cursors
from molesignal.events import rows
from molesignal.events.ids import id_time_us, is_event_id
from molesignal.events.model import FUTURE_SKEW
from molesignal.query.errors import TableNotFound
from molesignal.query.service import QueryRequest, QueryService
from molesignal.storage.table import Table

READ_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
MAX_PAGE = 100
_SKEW_US = int(FUTURE_SKEW.total_seconds() * 1_000_000)


@dataclass(frozen=True)
class EventFilter:
    from_us: int | None = None  # occurred_at >= from
    to_us: int | None = None  # occurred_at < to
    actions: tuple[str, ...] = ()
    actor_id: str | None = None
    target_id: str | None = None
    order: str = "desc"
    # Receive-time window (a scheduled export's period: every event exactly once, late ones too).
    received_after_us: int | None = None  # _timestamp >= this
    received_before_us: int | None = None  # _timestamp < this

    def listing(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "from": self.from_us,
            "to": self.to_us,
            "actions": list(self.actions),
            "actor_id": self.actor_id,
            "target_id": self.target_id,
            "order": self.order,
        }
        if self.received_after_us is not None or self.received_before_us is not None:
            out["received_after"] = self.received_after_us
            out["received_before"] = self.received_before_us
        return out

    def conditions(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []

        def param(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if self.from_us is not None:
            where.append(f"occurred_at_us >= {param(self.from_us)}")
        if self.to_us is not None:
            where.append(f"occurred_at_us < {param(self.to_us)}")
        if self.received_after_us is not None:
            where.append(f"_timestamp >= {param(self.received_after_us)}")
        if self.received_before_us is not None:
            where.append(f"_timestamp < {param(self.received_before_us)}")
        if self.actions:
            where.append(f"action IN ({', '.join(param(a) for a in self.actions)})")
        if self.actor_id is not None:
            where.append(f"actor_id = {param(self.actor_id)}")
        if self.target_id is not None:
            separator = rows.TARGET_ID_SEPARATOR
            where.append(f"contains(target_ids, {param(separator + self.target_id + separator)})")
        return where, params

    def received_from_us(self) -> int | None:
        """Rows are partitioned by receive time; an event is received at most the future skew
        before it occurred, so nothing received earlier can match ``from``."""
        bounds = [] if self.from_us is None else [max(0, self.from_us - _SKEW_US)]
        if self.received_after_us is not None:
            bounds.append(self.received_after_us)
        return max(bounds) if bounds else None


@dataclass
class Page:
    data: list[dict[str, Any]]
    has_more: bool
    next_cursor: str | None
    total: int
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"data": self.data, "has_more": self.has_more, "total": self.total, **self.extra}
        if self.has_more and self.next_cursor:
            out["next_cursor"] = self.next_cursor
        return out


class EventReader:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()
        self.service = QueryService(self.table)

    @staticmethod
    def admit(principal: Principal) -> None:
        principal.require(*READ_ROLES)

    def _rows(self, principal: Principal, sql: str, params: list[Any], start_us: int | None, end_us: int | None) -> Any:
        request = QueryRequest(sql=sql, start_us=start_us, end_us=end_us, params=params)
        try:
            return self.service.run(principal, request)
        except TableNotFound:
            return None  # the org has no events yet

    def get(self, principal: Principal, event_id: str) -> dict[str, Any]:
        received = id_time_us(event_id) if is_event_id(event_id) else None
        if received is None:
            raise NotFound(f"not found: event {event_id!r}")
        outcome = self._rows(principal, "SELECT * FROM audit_events WHERE id = $1", [event_id], received, received + 1)
        if outcome is None or not outcome.rows:
            raise NotFound(f"not found: event {event_id!r}")
        names = [c.name for c in outcome.columns]
        return rows.from_row(dict(zip(names, outcome.rows[0], strict=True)))

    def page(self, principal: Principal, filters: EventFilter, *, limit: int, cursor: str | None) -> Page:
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"invalid argument: limit must be 1-{MAX_PAGE}", code="invalid_argument")
        where, params = filters.conditions()
        base_where, base_params = list(where), list(params)
        descending = filters.order == "desc"
        if cursor:
            position = cursors.decode(cursor, principal.org_id, filters.listing())
            t = len(params) + 1
            params += [position.at_us, position.tiebreak]
            op = "<" if descending else ">"
            where.append(f"(occurred_at_us {op} ${t} OR (occurred_at_us = ${t} AND id {op} ${t + 1}))")
        direction = "DESC" if descending else "ASC"
        sql = "SELECT * FROM audit_events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY occurred_at_us {direction}, id {direction} LIMIT {limit + 1}"
        start_us = filters.received_from_us()
        outcome = self._rows(principal, sql, params, start_us, None)
        if outcome is None:
            return Page([], False, None, 0)
        names = [c.name for c in outcome.columns]
        found = [dict(zip(names, row, strict=True)) for row in outcome.rows]
        has_more = len(found) > limit
        found = found[:limit]
        next_cursor = None
        if has_more:
            last = found[-1]
            position = cursors.Position(int(last["occurred_at_us"]), str(last["id"]))
            next_cursor = cursors.encode(position, principal.org_id, filters.listing())
        total = self._total(principal, base_where, base_params, filters)
        return Page([rows.from_row(r) for r in found], has_more, next_cursor, total)

    def _total(self, principal: Principal, where: list[str], params: list[Any], filters: EventFilter) -> int:
        # Only fixed column names and $n placeholders are spliced; values are bound parameters.
        sql = "SELECT count(*) AS n FROM audit_events" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608
        outcome = self._rows(principal, sql, params, filters.received_from_us(), None)
        return int(outcome.rows[0][0]) if outcome is not None and outcome.rows else 0
