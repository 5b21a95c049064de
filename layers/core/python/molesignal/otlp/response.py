"""The answer to an OTLP/HTTP protobuf request, as the OTLP specification gives it: HTTP 200
with a protobuf ``Export{Logs,Metrics,Trace}ServiceResponse``, and for a 4xx/5xx a protobuf
``google.rpc.Status`` (:func:`status_body`).

When records were skipped (malformed, or refused at ingest such as past a stream's field
cap) its ``partial_success`` carries the count in ``rejected_log_records`` /
``rejected_data_points`` / ``rejected_spans`` and a human-readable ``error_message``; a fully
accepted request leaves ``partial_success`` unset, which exporters read as plain success.
The SDK exporters (Python and JS ``-proto``) decode this body; the JSON body of spec 002 is
kept for OTLP/JSON requests, whose senders expect it.
"""

from __future__ import annotations

import importlib
from typing import Literal

PROTOBUF_RESPONSE_TYPE = "application/x-protobuf"

Signal = Literal["logs", "metrics", "traces"]
# signal -> (module, response message, partial success message, its rejected-count field)
_MESSAGES: dict[str, tuple[str, str, str, str]] = {
    "logs": (
        "opentelemetry.proto.collector.logs.v1.logs_service_pb2",
        "ExportLogsServiceResponse",
        "ExportLogsPartialSuccess",
        "rejected_log_records",
    ),
    "metrics": (
        "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
        "ExportMetricsServiceResponse",
        "ExportMetricsPartialSuccess",
        "rejected_data_points",
    ),
    "traces": (
        "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
        "ExportTraceServiceResponse",
        "ExportTracePartialSuccess",
        "rejected_spans",
    ),
}
_NOUNS = {"logs": "log records", "metrics": "data points", "traces": "spans"}


def export_response(signal: Signal, rejected: int, reason: str = "") -> bytes:
    """The serialized ``Export*ServiceResponse`` for ``rejected`` skipped records."""
    module_name, response_name, partial_name, field = _MESSAGES[signal]
    module = importlib.import_module(module_name)
    response = getattr(module, response_name)()
    if rejected > 0:
        message = f"{rejected} {_NOUNS[signal]} were skipped: {reason or 'malformed'}"
        partial = getattr(module, partial_name)(**{field: rejected, "error_message": message})
        response.partial_success.CopyFrom(partial)
    return bytes(response.SerializeToString())


# google.rpc.Code for an HTTP status, as gRPC maps them (OTLP keeps HTTP's own statuses).
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def status_body(http_status: int, message: str) -> bytes:
    """A serialized ``google.rpc.Status {code, message}``, written by hand: its two scalar fields
    do not justify shipping googleapis-common-protos in the runtime layer."""
    code = _GRPC_CODES.get(http_status, 2)  # 2: UNKNOWN
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
