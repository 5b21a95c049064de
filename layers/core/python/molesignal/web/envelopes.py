"""Error envelopes per route family (ARCHITECTURE.md: each family keeps its document's shape)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class Family(StrEnum):
    CORE = "core"  # spec 000: {"error": "..."} (+ machine "code")
    SQL = "sql"  # spec 004: {"status": "error", "results": [], "took": ..., "error": {...}}
    EVENTS = "events"  # spec 001: {"error": "<code>", "message": "..."}; 422 for validation


_EVENTS_PREFIXES = ("/api/v1/events", "/api/v1/exports")


_SQL_PREFIXES = ("/v1/api/", "/v1/files/")
_SQL_EXACT = ("/health", "/v1/api")

# spec 004's codes by HTTP status, where the domain did not name a more precise one.
_SQL_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
# Core codes whose spec 004 name is not their status's.
_SQL_RENAMED = {"store_unavailable": "CLUSTER_UNAVAILABLE"}


def family_for_path(path: str) -> Family:
    if path in _SQL_EXACT or path.startswith(_SQL_PREFIXES):
        return Family.SQL
    if any(path == p or path.startswith(p + "/") for p in _EVENTS_PREFIXES):
        return Family.EVENTS
    return Family.CORE


def error_body(
    family: Family, status: int, code: str, message: str, *, details: Any = None, took_ms: float = 0.0
) -> dict[str, Any]:
    if family is Family.SQL:
        sql_code = code if code.isupper() else _SQL_RENAMED.get(code) or _SQL_CODES.get(status, "INTERNAL_ERROR")
        return {
            "status": "error",
            "results": [],
            "took": round(took_ms, 3),
            "error": {"code": sql_code, "message": message, "details": details},
        }
    if family is Family.EVENTS:
        events_body: dict[str, Any] = {"error": code, "message": message}
        if details is not None:
            events_body["errors"] = details
        return events_body
    body: dict[str, Any] = {"error": message, "code": code}
    if details is not None:
        body["details"] = details
    return body


# Marks the line that ends an NDJSON stream early. No result column has this name: names
# starting with ``__ms_`` are reserved (the SQL guard refuses them).
STREAM_ABORTED_KEY = "__ms_aborted"


def stream_error_line(code: str, message: str) -> bytes:
    """The last line of an NDJSON answer that failed after its first row (docs/api.md):
    the core envelope, marked so that it cannot be mistaken for a row."""
    return json.dumps({"error": message, "code": code, STREAM_ABORTED_KEY: True}).encode() + b"\n"
