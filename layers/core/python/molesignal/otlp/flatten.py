"""Decoded OTLP export requests → flat rows for the ``otel_logs``, ``otel_metrics`` and ``otel_spans`` streams.

Each row is a flat dict of scalars ready for :func:`molesignal.ingest.normalize.normalize`:
column names are already canonical (``field_name``: lower case, ``[a-z0-9_]``), ``_timestamp``
is µs since the epoch (omitted when the record has no time, so normalize stamps the receive
time), and every other time column is µs too (``*_timestamp``) except the exact ``duration_ns``.
This walks the protobuf objects directly (no ``MessageToDict``): it is on the ingest hot path.

Columns every row has (when the source has them):

* ``service_name`` — the resource attribute ``service.name``.
* ``resource_<key>`` — every resource attribute (``service.name`` included), key canonicalised
  (``host.name`` → ``resource_host_name``).
* ``scope_name``, ``scope_version``, ``scope_<key>`` — the instrumentation scope and its attributes.
* ``attr_<key>`` — the record's own attributes (a log record's, a span's, a data point's).
* ``session_id`` — the attribute ``session.id``, looked up on the record, then the scope, then
  the resource. The distinct values of a request are reported in ``session_ids``.

When two keys canonicalise to the same column (``a.b`` and ``a_b``, or a scope attribute
``name`` next to ``scope_name``), the later one gets a ``_`` suffix, as normalize does.

AnyValue → column value: string, bool, int and double stay scalars; bytes become base64 text;
arrays and key-value lists become compact JSON text (nested bytes as base64); an empty value
is left out. Ids are lowercase hex.

Logs (``otel_logs``): ``_timestamp`` (``timeUnixNano``, else ``observedTimeUnixNano``),
``observed_timestamp``, ``severity_number``, ``severity_text``, ``body`` (always text: strings
as they are, other values as JSON text, bytes as base64), ``trace_id``, ``span_id``, ``flags``,
``event_name``, ``dropped_attributes_count``.

Spans (``otel_spans``): ``_timestamp`` (start), ``end_timestamp``, ``duration_ns``,
``duration_ms`` (float), ``trace_id``, ``span_id``, ``parent_span_id`` (absent on a root span),
``name``, ``kind`` (``server``, ``client``, ``producer``, ``consumer``, ``internal``,
``unspecified``), ``status_code`` (``unset``/``ok``/``error``), ``status_message``,
``trace_state``, ``flags``, ``events_count``, ``links_count``, ``events`` and ``links`` (JSON
text: ``[{"name", "time_unix_nano", "attributes": {...}}]`` and ``[{"trace_id", "span_id",
"trace_state", "attributes": {...}}]``), ``dropped_{attributes,events,links}_count``.

Metrics (``otel_metrics``), one row per data point: ``_timestamp``, ``start_timestamp``,
``metric_name``, ``metric_description``, ``metric_unit``, ``metric_type`` (``gauge``, ``sum``,
``histogram``, ``exponential_histogram``, ``summary``), ``flags``, ``exemplars_count``, and by type:

* gauge and sum: ``value`` (float, from ``asDouble`` or ``asInt``); sum also ``is_monotonic``
  and ``aggregation_temporality`` (``delta``/``cumulative``/``unspecified``);
* histogram: ``count``, ``sum``, ``min``, ``max``, ``bucket_counts`` and ``explicit_bounds``
  (JSON text), ``aggregation_temporality``;
* exponential histogram: ``count``, ``sum``, ``min``, ``max``, ``scale``, ``zero_count``,
  ``zero_threshold``, ``positive_offset``, ``positive_bucket_counts``, ``negative_offset``,
  ``negative_bucket_counts`` (JSON text), ``aggregation_temporality``;
* summary: ``count``, ``sum``, ``quantile_values`` (JSON text ``[{"quantile", "value"}]``).

Skip rules — a malformed record is skipped and counted in ``skipped``, never fatal:

* a log record with no body, no attributes and no event name (nothing to store; also what
  :mod:`~molesignal.otlp.decode` leaves for a JSON log record that does not parse). A log
  record whose trace or span id has the wrong length (or is all zeros) is *kept*, without the id.
* a span whose trace id is not 16 bytes or span id not 8 bytes (or either is all zeros), whose
  parent span id is neither empty nor 8 bytes, with no start time, or that ends before it
  starts (an end time of 0 included). An all-zero parent span id means "root".
* a metric with no name or no data (counts 1; all of its data points when it has data but no
  name); a data point with no value (a gauge/sum point with neither ``asDouble`` nor ``asInt``),
  or flagged ``FLAG_NO_RECORDED_VALUE``; a histogram point whose ``bucket_counts`` is neither
  empty nor one longer than ``explicit_bounds``; an exemplar's malformed id is dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from molesignal.ingest.normalize import TIMESTAMP, field_name

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (
        ExponentialHistogramDataPoint,
        HistogramDataPoint,
        Metric,
        NumberDataPoint,
        SummaryDataPoint,
    )
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    AnyPoint = NumberDataPoint | HistogramDataPoint | ExponentialHistogramDataPoint | SummaryDataPoint

Row = dict[str, Any]

LOGS_STREAM = "otel_logs"
METRICS_STREAM = "otel_metrics"
SPANS_STREAM = "otel_spans"
STREAMS = {"logs": LOGS_STREAM, "metrics": METRICS_STREAM, "traces": SPANS_STREAM}
SESSION_ATTRIBUTE = "session.id"
SESSION_COLUMN = "session_id"

_SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS_CODES = ("unset", "ok", "error")
_TEMPORALITIES = ("unspecified", "delta", "cumulative")
_FLAG_NO_RECORDED_VALUE = 1
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


@dataclass
class FlattenResult:
    """Rows per stream, counts for the 202 body (``logEvents``, ``metricPoints``, ``spans``)."""

    rows: dict[str, list[Row]]
    counts: dict[str, int]
    session_ids: list[str] = field(default_factory=list)
    skipped: int = 0


# ---- values ----------------------------------------------------------------------------------


def _plain(value: AnyValue) -> Any:
    """An AnyValue as JSON-ready Python: scalars, lists, dicts; bytes as base64 text."""
    kind = value.WhichOneof("value")
    if kind is None or kind == "string_value_strindex":  # a profiles dictionary index: meaningless here
        return None
    if kind == "array_value":
        return [_plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def any_value(value: AnyValue) -> Any:
    """An AnyValue as a column value: a scalar, base64 text for bytes, JSON text for arrays/kvlists."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None or kind == "string_value_strindex":
        return None
    if kind in ("array_value", "kvlist_value"):
        return _json(_plain(value))
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def attributes_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """Attributes as a JSON-ready dict keyed by the original keys (for span events and links)."""
    return {kv.key: _plain(kv.value) for kv in attributes}


def _put_attributes(row: Row, prefix: str, attributes: Iterable[KeyValue]) -> Any:
    """Add ``prefix<key>`` columns to ``row``; return the value of ``session.id`` if present."""
    session = None
    for kv in attributes:
        value = any_value(kv.value)
        if value is None:
            continue
        key = kv.key
        if key == SESSION_ATTRIBUTE:
            session = value
        name = field_name(prefix + key)
        while name in row:
            name += "_"
        row[name] = value
    return session


def _session_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _resource_base(resource: Resource) -> tuple[Row, Any]:
    base: Row = {}
    for kv in resource.attributes:
        if kv.key == "service.name":
            service = any_value(kv.value)
            if service is not None:
                base["service_name"] = service
    session = _put_attributes(base, "resource_", resource.attributes)
    return base, session


def _scope_base(resource_base: Row, scope: InstrumentationScope) -> tuple[Row, Any]:
    base = dict(resource_base)
    if scope.name:
        base["scope_name"] = scope.name
    if scope.version:
        base["scope_version"] = scope.version
    session = _put_attributes(base, "scope_", scope.attributes) if scope.attributes else None
    return base, session


class _Collector:
    """Accumulates rows, skips and session ids across a request."""

    __slots__ = ("rows", "sessions", "skipped")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.sessions: set[str] = set()
        self.skipped = 0

    def add(self, row: Row, *sessions: Any) -> None:
        for candidate in sessions:
            text = _session_text(candidate)
            if text is not None:
                row[SESSION_COLUMN] = text
                self.sessions.add(text)
                break
        self.rows.append(row)

    def result(self, stream: str) -> FlattenResult:
        counts = {"logEvents": 0, "metricPoints": 0, "spans": 0}
        counts[_COUNT_KEYS[stream]] = len(self.rows)
        return FlattenResult({stream: self.rows}, counts, sorted(self.sessions), self.skipped)


_COUNT_KEYS = {LOGS_STREAM: "logEvents", METRICS_STREAM: "metricPoints", SPANS_STREAM: "spans"}


# ---- logs ------------------------------------------------------------------------------------


def _log_row(base: Row, record: LogRecord, body: Any) -> Row:
    row = dict(base)
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    if time_ns:
        row[TIMESTAMP] = time_ns // 1000
    if record.observed_time_unix_nano:
        row["observed_timestamp"] = record.observed_time_unix_nano // 1000
    if record.severity_number:
        row["severity_number"] = int(record.severity_number)
    if record.severity_text:
        row["severity_text"] = record.severity_text
    if body is not None:
        row["body"] = body if isinstance(body, str) else _json(body)
    trace_id = record.trace_id
    if len(trace_id) == 16 and trace_id != _ZERO_TRACE:
        row["trace_id"] = trace_id.hex()
    span_id = record.span_id
    if len(span_id) == 8 and span_id != _ZERO_SPAN:
        row["span_id"] = span_id.hex()
    if record.flags:
        row["flags"] = record.flags
    if record.event_name:
        row["event_name"] = record.event_name
    if record.dropped_attributes_count:
        row["dropped_attributes_count"] = record.dropped_attributes_count
    return row


def flatten_logs(request: ExportLogsServiceRequest) -> FlattenResult:
    out = _Collector()
    for resource_logs in request.resource_logs:
        resource_base, resource_session = _resource_base(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            base, scope_session = _scope_base(resource_base, scope_logs.scope)
            for record in scope_logs.log_records:
                body = any_value(record.body) if record.HasField("body") else None
                if body is None and not record.attributes and not record.event_name:
                    out.skipped += 1
                    continue
                row = _log_row(base, record, body)
                session = _put_attributes(row, "attr_", record.attributes)
                out.add(row, session, scope_session, resource_session)
    return out.result(LOGS_STREAM)


# ---- traces ----------------------------------------------------------------------------------


def _valid_span(span: Span) -> bool:
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    return (
        len(trace_id) == 16
        and trace_id != _ZERO_TRACE
        and len(span_id) == 8
        and span_id != _ZERO_SPAN
        and len(parent) in (0, 8)
        and span.start_time_unix_nano > 0
        and span.end_time_unix_nano >= span.start_time_unix_nano
    )


def _events_json(span: Span) -> str:
    events = []
    for event in span.events:
        item: dict[str, Any] = {"name": event.name, "time_unix_nano": event.time_unix_nano}
        if event.attributes:
            item["attributes"] = attributes_dict(event.attributes)
        if event.dropped_attributes_count:
            item["dropped_attributes_count"] = event.dropped_attributes_count
        events.append(item)
    return _json(events)


def _links_json(span: Span) -> str:
    links = []
    for link in span.links:
        item: dict[str, Any] = {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
        if link.trace_state:
            item["trace_state"] = link.trace_state
        if link.attributes:
            item["attributes"] = attributes_dict(link.attributes)
        if link.flags:
            item["flags"] = link.flags
        links.append(item)
    return _json(links)


def _span_row(base: Row, span: Span) -> Row:
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    row = dict(base)
    row[TIMESTAMP] = start // 1000
    row["end_timestamp"] = end // 1000
    row["duration_ns"] = end - start
    row["duration_ms"] = (end - start) / 1e6
    row["trace_id"] = span.trace_id.hex()
    row["span_id"] = span.span_id.hex()
    parent = span.parent_span_id
    if parent and parent != _ZERO_SPAN:
        row["parent_span_id"] = parent.hex()
    row["name"] = span.name
    kind = int(span.kind)
    row["kind"] = _SPAN_KINDS[kind] if 0 <= kind < len(_SPAN_KINDS) else str(kind)
    status = span.status
    code = int(status.code)
    row["status_code"] = _STATUS_CODES[code] if 0 <= code < len(_STATUS_CODES) else str(code)
    if status.message:
        row["status_message"] = status.message
    if span.trace_state:
        row["trace_state"] = span.trace_state
    if span.flags:
        row["flags"] = span.flags
    row["events_count"] = len(span.events)
    row["links_count"] = len(span.links)
    if span.events:
        row["events"] = _events_json(span)
    if span.links:
        row["links"] = _links_json(span)
    for name, count in (
        ("dropped_attributes_count", span.dropped_attributes_count),
        ("dropped_events_count", span.dropped_events_count),
        ("dropped_links_count", span.dropped_links_count),
    ):
        if count:
            row[name] = count
    return row


def flatten_traces(request: ExportTraceServiceRequest) -> FlattenResult:
    out = _Collector()
    for resource_spans in request.resource_spans:
        resource_base, resource_session = _resource_base(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            base, scope_session = _scope_base(resource_base, scope_spans.scope)
            for span in scope_spans.spans:
                if not _valid_span(span):
                    out.skipped += 1
                    continue
                row = _span_row(base, span)
                session = _put_attributes(row, "attr_", span.attributes)
                out.add(row, session, scope_session, resource_session)
    return out.result(SPANS_STREAM)


# ---- metrics ---------------------------------------------------------------------------------


def _point_row(base: Row, point: AnyPoint) -> tuple[Row, Any]:
    row = dict(base)
    if point.time_unix_nano:
        row[TIMESTAMP] = point.time_unix_nano // 1000
    if point.start_time_unix_nano:
        row["start_timestamp"] = point.start_time_unix_nano // 1000
    if point.flags:
        row["flags"] = point.flags
    session = _put_attributes(row, "attr_", point.attributes)
    return row, session


def _number_row(base: Row, point: NumberDataPoint) -> tuple[Row, Any] | None:
    which = point.WhichOneof("value")
    if which is None:
        return None
    row, session = _point_row(base, point)
    row["value"] = point.as_double if which == "as_double" else float(point.as_int)
    if point.exemplars:
        row["exemplars_count"] = len(point.exemplars)
    return row, session


def _histogram_row(base: Row, point: HistogramDataPoint) -> tuple[Row, Any] | None:
    buckets, bounds = point.bucket_counts, point.explicit_bounds
    if buckets and len(buckets) != len(bounds) + 1:
        return None
    row, session = _point_row(base, point)
    row["count"] = point.count
    if point.HasField("sum"):
        row["sum"] = point.sum
    if point.HasField("min"):
        row["min"] = point.min
    if point.HasField("max"):
        row["max"] = point.max
    if buckets:
        row["bucket_counts"] = _json(list(buckets))
    if bounds:
        row["explicit_bounds"] = _json(list(bounds))
    if point.exemplars:
        row["exemplars_count"] = len(point.exemplars)
    return row, session


def _exponential_row(base: Row, point: ExponentialHistogramDataPoint) -> tuple[Row, Any] | None:
    row, session = _point_row(base, point)
    row["count"] = point.count
    if point.HasField("sum"):
        row["sum"] = point.sum
    if point.HasField("min"):
        row["min"] = point.min
    if point.HasField("max"):
        row["max"] = point.max
    row["scale"] = point.scale
    row["zero_count"] = point.zero_count
    if point.zero_threshold:
        row["zero_threshold"] = point.zero_threshold
    if point.positive.bucket_counts:
        row["positive_offset"] = point.positive.offset
        row["positive_bucket_counts"] = _json(list(point.positive.bucket_counts))
    if point.negative.bucket_counts:
        row["negative_offset"] = point.negative.offset
        row["negative_bucket_counts"] = _json(list(point.negative.bucket_counts))
    if point.exemplars:
        row["exemplars_count"] = len(point.exemplars)
    return row, session


def _summary_row(base: Row, point: SummaryDataPoint) -> tuple[Row, Any] | None:
    row, session = _point_row(base, point)
    row["count"] = point.count
    row["sum"] = point.sum
    if point.quantile_values:
        row["quantile_values"] = _json([{"quantile": q.quantile, "value": q.value} for q in point.quantile_values])
    return row, session


def _metric_points(metric: Metric, base: Row) -> tuple[Sequence[Any], Callable[[Row, Any], tuple[Row, Any] | None]]:
    kind = metric.WhichOneof("data")
    if kind == "gauge":
        return metric.gauge.data_points, _number_row
    if kind == "sum":
        base["is_monotonic"] = metric.sum.is_monotonic
        base["aggregation_temporality"] = _temporality(metric.sum.aggregation_temporality)
        return metric.sum.data_points, _number_row
    if kind == "histogram":
        base["aggregation_temporality"] = _temporality(metric.histogram.aggregation_temporality)
        return metric.histogram.data_points, _histogram_row
    if kind == "exponential_histogram":
        base["aggregation_temporality"] = _temporality(metric.exponential_histogram.aggregation_temporality)
        return metric.exponential_histogram.data_points, _exponential_row
    return metric.summary.data_points, _summary_row


def _temporality(value: int) -> str:
    return _TEMPORALITIES[value] if 0 <= value < len(_TEMPORALITIES) else str(value)


def flatten_metrics(request: ExportMetricsServiceRequest) -> FlattenResult:
    out = _Collector()
    for resource_metrics in request.resource_metrics:
        resource_base, resource_session = _resource_base(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            scope_base, scope_session = _scope_base(resource_base, scope_metrics.scope)
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    out.skipped += 1
                    continue
                base = dict(scope_base)
                base["metric_name"] = metric.name
                if metric.description:
                    base["metric_description"] = metric.description
                if metric.unit:
                    base["metric_unit"] = metric.unit
                base["metric_type"] = kind
                points, make_row = _metric_points(metric, base)
                if not metric.name:
                    out.skipped += max(1, len(points))
                    continue
                for point in points:
                    made = None if point.flags & _FLAG_NO_RECORDED_VALUE else make_row(base, point)
                    if made is None:
                        out.skipped += 1
                        continue
                    row, session = made
                    out.add(row, session, scope_session, resource_session)
    return out.result(METRICS_STREAM)


# ---- any signal ------------------------------------------------------------------------------

_BY_TYPE: dict[str, Callable[[Any], FlattenResult]] = {
    "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest": flatten_logs,
    "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest": flatten_metrics,
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest": flatten_traces,
}


def flatten(request: Message) -> FlattenResult:
    """Flatten any of the three export requests (as returned by ``decode_request``)."""
    flattener = _BY_TYPE.get(request.DESCRIPTOR.full_name)
    if flattener is None:
        raise TypeError(f"not an OTLP export request: {request.DESCRIPTOR.full_name}")
    return flattener(request)
