"""OTLP/JSON bodies for tests."""

from __future__ import annotations

from typing import Any

TRACE_ID = "0102030405060708090a0b0c0d0e0f10"


def json_span(name: str, start_ns: int, duration_ns: int, **attributes: str) -> dict[str, Any]:
    """One well-formed OTLP/JSON span (hex ids, string nanoseconds, string attributes)."""
    return {
        "traceId": TRACE_ID,
        "spanId": "0102030405060708",
        "name": name,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + duration_ns),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }


def json_traces(*spans: dict[str, Any]) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}
