"""Correlation (spec 000): every span, log and event that shares a trace or session id,
across the org's streams, time-ordered.

The sealed ``otel_content`` rows share the session id but are never part of the answer: the
rows that carried content point at them with ``content_ref``, and content is read only through
the audited ``/api/v1/sessions/{id}/content`` by those allowed to read it."""

from __future__ import annotations

import re
from typing import Any

from molesignal.auth.principal import Principal
from molesignal.errors import Invalid
from molesignal.lake.streams import CONTENT_STREAM
from molesignal.query.deadline import Deadline
from molesignal.query.service import QueryRequest, QueryService

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_SESSION_ID = 256


def correlation_key(trace_id: str | None, session_id: str | None) -> tuple[str, str]:
    if bool(trace_id) == bool(session_id):
        raise Invalid("invalid argument: give exactly one of trace_id or session_id", code="invalid_argument")
    if trace_id:
        value = trace_id.strip().lower()
        if not _TRACE_ID.match(value):
            raise Invalid("invalid argument: trace_id must be 32 hex characters", code="invalid_argument")
        return "trace_id", value
    value = (session_id or "").strip()
    if not value or len(value) > MAX_SESSION_ID:
        raise Invalid(f"invalid argument: session_id must be 1-{MAX_SESSION_ID} characters", code="invalid_argument")
    return "session_id", value


def correlate(
    service: QueryService,
    principal: Principal,
    *,
    column: str,
    value: str,
    start_us: int | None,
    end_us: int | None,
    limit: int,
    deadline: Deadline | None = None,
) -> list[dict[str, Any]]:
    """Rows of every stream that has ``column``, matching ``value``, oldest first (all the
    streams' queries within one ``deadline``)."""
    items: list[dict[str, Any]] = []
    for stream in service.known_streams(principal.org_id).values():
        if column not in stream.schema or stream.name == CONTENT_STREAM:
            continue
        sql = f'SELECT * FROM "{stream.name}" WHERE {column} = $1 ORDER BY _timestamp LIMIT {int(limit)}'  # noqa: S608
        request = QueryRequest(sql=sql, start_us=start_us, end_us=end_us, params=[value])
        outcome = service.run(principal, request, deadline=deadline)
        names = [c.name for c in outcome.columns]
        for row in outcome.rows:
            record = {k: v for k, v in zip(names, row, strict=True) if v is not None}
            record["_stream"] = stream.name
            items.append(record)
    items.sort(key=lambda r: (int(r.get("_timestamp", 0)), r["_stream"]))
    return items[:limit]
