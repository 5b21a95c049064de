"""Run a subscription's compiled filter (``plan.LivePlan.filter_sql``) over a change's rows."""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa

from molesignal.live.plan import ROWS_VIEW

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    connection: duckdb.DuckDBPyConnection | None = getattr(_local, "connection", None)
    if connection is None:
        # Only registered Arrow rows are read: no files, no extensions, a small memory cap.
        connection = duckdb.connect(config={"enable_external_access": False, "memory_limit": "256MB", "threads": 1})
        _local.connection = connection
    return connection


def matching_rows(filter_sql: str, rows: pa.Table) -> list[dict[str, Any]]:
    """The rows (as the subscription's SELECT shapes them) of ``rows`` its WHERE keeps."""
    connection = _connection()
    connection.register(ROWS_VIEW, rows)
    try:
        result = connection.execute(filter_sql).fetch_arrow_table()
    finally:
        connection.unregister(ROWS_VIEW)
    return [_plain(row) for row in result.to_pylist()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {name: _json_value(value) for name, value in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)
