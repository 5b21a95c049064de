"""Builders for OTLP requests with the official generated classes, and OTLP/JSON helpers."""

from __future__ import annotations

import base64
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, ResourceMetrics, ScopeMetrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

T0 = 1_700_000_000_123_456_789  # ns
TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"
PARENT_HEX = "0102030405060708"
TRACE_ID = bytes.fromhex(TRACE_HEX)
SPAN_ID = bytes.fromhex(SPAN_HEX)
PARENT_ID = bytes.fromhex(PARENT_HEX)


def value(raw: Any) -> AnyValue:
    """A Python value as an AnyValue (str, bool, int, float, bytes, list, dict)."""
    if isinstance(raw, AnyValue):
        return raw
    if isinstance(raw, bool):
        return AnyValue(bool_value=raw)
    if isinstance(raw, int):
        return AnyValue(int_value=raw)
    if isinstance(raw, float):
        return AnyValue(double_value=raw)
    if isinstance(raw, bytes):
        return AnyValue(bytes_value=raw)
    if isinstance(raw, list):
        return AnyValue(array_value=ArrayValue(values=[value(item) for item in raw]))
    if isinstance(raw, dict):
        return AnyValue(kvlist_value=KeyValueList(values=attrs(raw)))
    return AnyValue(string_value=raw)


def attrs(mapping: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(raw)) for key, raw in mapping.items()]


def resource(**attributes: Any) -> Resource:
    return Resource(attributes=attrs({key.replace("__", "."): raw for key, raw in attributes.items()}))


def scope(name: str = "scope", version: str = "1.0", attributes: dict[str, Any] | None = None) -> InstrumentationScope:
    return InstrumentationScope(name=name, version=version, attributes=attrs(attributes or {}))


def logs_request(
    *records: LogRecord, res: Resource | None = None, sc: InstrumentationScope | None = None
) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=res or resource(service__name="svc"),
                scope_logs=[ScopeLogs(scope=sc or scope(), log_records=list(records))],
            )
        ]
    )


def spans_request(
    *spans: Span, res: Resource | None = None, sc: InstrumentationScope | None = None
) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=res or resource(service__name="svc"),
                scope_spans=[ScopeSpans(scope=sc or scope(), spans=list(spans))],
            )
        ]
    )


def metrics_request(
    *metrics: Metric, res: Resource | None = None, sc: InstrumentationScope | None = None
) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=res or resource(service__name="svc"),
                scope_metrics=[ScopeMetrics(scope=sc or scope(), metrics=list(metrics))],
            )
        ]
    )


def span(**fields: Any) -> Span:
    defaults: dict[str, Any] = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "name": "op",
        "start_time_unix_nano": T0,
        "end_time_unix_nano": T0 + 1_500_000,
    }
    defaults.update(fields)
    return Span(**defaults)


# ---- OTLP/JSON -------------------------------------------------------------------------------


def json_value(raw: Any) -> dict[str, Any]:
    """A Python value in OTLP/JSON AnyValue form (camelCase, 64-bit ints as strings)."""
    if isinstance(raw, bool):
        return {"boolValue": raw}
    if isinstance(raw, int):
        return {"intValue": str(raw)}
    if isinstance(raw, float):
        return {"doubleValue": raw}
    if isinstance(raw, bytes):
        return {"bytesValue": base64.b64encode(raw).decode()}
    if isinstance(raw, list):
        return {"arrayValue": {"values": [json_value(item) for item in raw]}}
    if isinstance(raw, dict):
        return {"kvlistValue": {"values": json_attrs(raw)}}
    return {"stringValue": raw}


def json_attrs(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": json_value(raw)} for key, raw in mapping.items()]


def snake_case(document: Any) -> Any:
    """The same OTLP/JSON document with every field name in its original snake_case form."""
    if isinstance(document, list):
        return [snake_case(item) for item in document]
    if not isinstance(document, dict):
        return document
    out = {}
    for key, item in document.items():
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
        out[snake] = snake_case(item)
    return out
