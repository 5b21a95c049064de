"""Flattening decoded OTLP requests into rows for otel_logs, otel_spans and otel_metrics."""

from __future__ import annotations

import base64
import math
from typing import Any

import orjson
import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Exemplar,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from molesignal.ingest.normalize import normalize
from molesignal.otlp.flatten import FlattenResult, any_value, flatten, flatten_logs, flatten_metrics, flatten_traces
from tests.unit.otlp.builders import (
    PARENT_HEX,
    PARENT_ID,
    SPAN_HEX,
    SPAN_ID,
    T0,
    TRACE_HEX,
    TRACE_ID,
    attrs,
    logs_request,
    metrics_request,
    resource,
    scope,
    span,
    spans_request,
    value,
)

DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
T0_US = T0 // 1000
BASE = {
    "service_name": "svc",
    "resource_service_name": "svc",
    "scope_name": "scope",
    "scope_version": "1.0",
}


def _only(result: FlattenResult, stream: str) -> dict[str, Any]:
    (row,) = result.rows[stream]
    return row


# ---- AnyValue --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("text", "text"),
        (True, True),
        (-(2**63), -(2**63)),
        (0.25, 0.25),
        (b"\x00\xff", base64.b64encode(b"\x00\xff").decode()),
        (["a", 1, 2.5, False, b"\x01", ["x"], {"k": "v"}], '["a",1,2.5,false,"AQ==",["x"],{"k":"v"}]'),
        ({"outer": {"inner": [1]}, "s": "t"}, '{"outer":{"inner":[1]},"s":"t"}'),
        (AnyValue(), None),
    ],
)
def test_any_value_keeps_scalars_and_turns_structures_into_json_text(raw: Any, expected: Any) -> None:
    assert any_value(value(raw)) == expected


# ---- logs ------------------------------------------------------------------------------------


def test_flatten_logs_full_record() -> None:
    record = LogRecord(
        time_unix_nano=T0,
        observed_time_unix_nano=T0 + 5_000,
        severity_number=SeverityNumber.SEVERITY_NUMBER_ERROR,
        severity_text="ERROR",
        body=value("disk full"),
        attributes=attrs({"event.name": "api_error", "http.status_code": 503, "session.id": "s-rec"}),
        dropped_attributes_count=2,
        flags=1,
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        event_name="claude_code.api_error",
    )
    request = logs_request(
        record,
        res=resource(service__name="svc", host__name="h1", session__id="s-res"),
        sc=scope(attributes={"library.kind": "events"}),
    )
    result = flatten_logs(request)
    assert result.counts == {"logEvents": 1, "metricPoints": 0, "spans": 0}
    assert result.session_ids == ["s-rec"]
    assert result.skipped == 0
    assert _only(result, "otel_logs") == {
        "service_name": "svc",
        "resource_service_name": "svc",
        "resource_host_name": "h1",
        "resource_session_id": "s-res",
        "scope_name": "scope",
        "scope_version": "1.0",
        "scope_library_kind": "events",
        "_timestamp": T0_US,
        "observed_timestamp": (T0 + 5_000) // 1000,
        "severity_number": 17,
        "severity_text": "ERROR",
        "body": "disk full",
        "trace_id": TRACE_HEX,
        "span_id": SPAN_HEX,
        "flags": 1,
        "event_name": "claude_code.api_error",
        "dropped_attributes_count": 2,
        "attr_event_name": "api_error",
        "attr_http_status_code": 503,
        "attr_session_id": "s-rec",
        "session_id": "s-rec",
    }


def test_flatten_logs_timestamp_falls_back_to_observed_then_to_the_receive_time() -> None:
    observed_only = LogRecord(observed_time_unix_nano=T0, body=value("a"))
    no_time = LogRecord(body=value("b"))
    rows = flatten_logs(logs_request(observed_only, no_time)).rows["otel_logs"]
    assert rows[0]["_timestamp"] == T0_US
    assert "_timestamp" not in rows[1]
    assert normalize(rows[1], received_us=1_234_567_890_123_456)["_timestamp"] == 1_234_567_890_123_456


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (value("plain"), "plain"),
        (value(42), "42"),
        (value(True), "true"),
        (value(1.5), "1.5"),
        (value(b"\x01\x02"), "AQI="),
        (value({"msg": "hi", "n": [1, 2]}), '{"msg":"hi","n":[1,2]}'),
        (value(["a", "b"]), '["a","b"]'),
    ],
)
def test_flatten_logs_body_is_always_text(body: AnyValue, expected: str) -> None:
    row = _only(flatten_logs(logs_request(LogRecord(time_unix_nano=T0, body=body))), "otel_logs")
    assert row["body"] == expected


def test_flatten_logs_keeps_a_record_with_malformed_ids_without_the_ids() -> None:
    records = [
        LogRecord(time_unix_nano=T0, body=value("short"), trace_id=b"\x01" * 15, span_id=b"\x01" * 9),
        LogRecord(time_unix_nano=T0, body=value("zeros"), trace_id=bytes(16), span_id=bytes(8)),
        LogRecord(time_unix_nano=T0, body=value("marker"), trace_id=b"\x00", span_id=SPAN_ID),
    ]
    result = flatten_logs(logs_request(*records))
    assert result.skipped == 0
    for row in result.rows["otel_logs"]:
        assert "trace_id" not in row
    assert [row.get("span_id") for row in result.rows["otel_logs"]] == [None, None, SPAN_HEX]


def test_flatten_logs_skips_records_with_nothing_in_them() -> None:
    records = [
        LogRecord(),
        LogRecord(time_unix_nano=T0, severity_number=SeverityNumber.SEVERITY_NUMBER_INFO),  # nothing to say
        LogRecord(time_unix_nano=T0, body=AnyValue()),  # a body with no value
        LogRecord(time_unix_nano=T0, event_name="only.a.name"),
        LogRecord(attributes=attrs({"k": "v"})),
    ]
    result = flatten_logs(logs_request(*records))
    assert (result.counts["logEvents"], result.skipped) == (2, 3)


# ---- traces ----------------------------------------------------------------------------------


def test_flatten_traces_full_span() -> None:
    full = span(
        parent_span_id=PARENT_ID,
        trace_state="vendor=1",
        name="tool.call",
        kind=Span.SPAN_KIND_CLIENT,
        attributes=attrs({"tool_name": "Bash", "session.id": "s1"}),
        events=[Span.Event(time_unix_nano=T0 + 10, name="retry", attributes=attrs({"attempt": 2}))],
        links=[Span.Link(trace_id=TRACE_ID, span_id=PARENT_ID, trace_state="x=y", attributes=attrs({"l": True}))],
        status=Status(code=Status.STATUS_CODE_ERROR, message="exit 1"),
        dropped_attributes_count=1,
        dropped_events_count=2,
        dropped_links_count=3,
        flags=0x101,
    )
    result = flatten_traces(spans_request(full))
    assert result.counts == {"logEvents": 0, "metricPoints": 0, "spans": 1}
    assert result.session_ids == ["s1"]
    row = _only(result, "otel_spans")
    assert orjson.loads(row.pop("events")) == [
        {"name": "retry", "time_unix_nano": T0 + 10, "attributes": {"attempt": 2}}
    ]
    assert orjson.loads(row.pop("links")) == [
        {"trace_id": TRACE_HEX, "span_id": PARENT_HEX, "trace_state": "x=y", "attributes": {"l": True}}
    ]
    assert row == {
        **BASE,
        "_timestamp": T0_US,
        "end_timestamp": (T0 + 1_500_000) // 1000,
        "duration_ns": 1_500_000,
        "duration_ms": 1.5,
        "trace_id": TRACE_HEX,
        "span_id": SPAN_HEX,
        "parent_span_id": PARENT_HEX,
        "name": "tool.call",
        "kind": "client",
        "status_code": "error",
        "status_message": "exit 1",
        "trace_state": "vendor=1",
        "flags": 0x101,
        "events_count": 1,
        "links_count": 1,
        "dropped_attributes_count": 1,
        "dropped_events_count": 2,
        "dropped_links_count": 3,
        "attr_tool_name": "Bash",
        "attr_session_id": "s1",
        "session_id": "s1",
    }


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(0, "unspecified"), (1, "internal"), (2, "server"), (3, "client"), (4, "producer"), (5, "consumer"), (9, "9")],
)
def test_flatten_traces_kind_names(kind: int, expected: str) -> None:
    row = _only(flatten_traces(spans_request(span(kind=kind))), "otel_spans")
    assert row["kind"] == expected


@pytest.mark.parametrize(("code", "expected"), [(0, "unset"), (1, "ok"), (2, "error")])
def test_flatten_traces_status_codes(code: int, expected: str) -> None:
    row = _only(flatten_traces(spans_request(span(status=Status(code=code)))), "otel_spans")  # type: ignore[arg-type]
    assert row["status_code"] == expected
    assert "status_message" not in row


def test_flatten_traces_root_spans_have_no_parent_and_no_events_or_links_json() -> None:
    rows = flatten_traces(spans_request(span(), span(parent_span_id=bytes(8)))).rows["otel_spans"]
    for row in rows:
        assert "parent_span_id" not in row
        assert (row["events_count"], row["links_count"]) == (0, 0)
        assert "events" not in row
        assert "links" not in row


@pytest.mark.parametrize(
    "fields",
    [
        {"trace_id": b""},
        {"trace_id": b"\x01" * 8},
        {"trace_id": bytes(16)},
        {"trace_id": b"\x00"},
        {"span_id": b""},
        {"span_id": b"\x01" * 16},
        {"span_id": bytes(8)},
        {"parent_span_id": b"\x01" * 4},
        {"start_time_unix_nano": 0},
        {"end_time_unix_nano": 0},
        {"end_time_unix_nano": T0 - 1},
    ],
)
def test_flatten_traces_skips_malformed_spans(fields: dict[str, Any]) -> None:
    result = flatten_traces(spans_request(span(), span(**fields), span()))
    assert (result.counts["spans"], result.skipped) == (2, 1)


def test_flatten_traces_zero_duration_span_is_kept() -> None:
    row = _only(flatten_traces(spans_request(span(end_time_unix_nano=T0))), "otel_spans")
    assert (row["duration_ns"], row["duration_ms"]) == (0, 0.0)


# ---- metrics ---------------------------------------------------------------------------------

POINT: dict[str, Any] = {"start_time_unix_nano": T0 - 60_000_000_000, "time_unix_nano": T0}
POINT_ROW = {"_timestamp": T0_US, "start_timestamp": (T0 - 60_000_000_000) // 1000}
EXEMPLAR = Exemplar(time_unix_nano=T0, as_double=1.0, trace_id=TRACE_ID, span_id=SPAN_ID)


def test_flatten_metrics_gauge_and_sum_points() -> None:
    gauge = Metric(
        name="claude_code.active_time.total",
        description="Active time",
        unit="s",
        gauge=Gauge(
            data_points=[
                NumberDataPoint(**POINT, as_double=2.5, attributes=attrs({"session.id": "s1"})),
                NumberDataPoint(**POINT, as_int=7, exemplars=[EXEMPLAR]),
            ]
        ),
    )
    total = Metric(
        name="claude_code.token.usage",
        unit="tokens",
        sum=Sum(
            data_points=[NumberDataPoint(**POINT, as_int=1200, attributes=attrs({"type": "input", "model": "m"}))],
            aggregation_temporality=DELTA,
            is_monotonic=True,
        ),
    )
    result = flatten_metrics(metrics_request(gauge, total))
    assert result.counts == {"logEvents": 0, "metricPoints": 3, "spans": 0}
    assert result.session_ids == ["s1"]
    first, second, third = result.rows["otel_metrics"]
    gauge_base = {
        **BASE,
        **POINT_ROW,
        "metric_name": "claude_code.active_time.total",
        "metric_description": "Active time",
        "metric_unit": "s",
        "metric_type": "gauge",
    }
    assert first == {**gauge_base, "value": 2.5, "attr_session_id": "s1", "session_id": "s1"}
    assert second == {**gauge_base, "value": 7.0, "exemplars_count": 1}
    assert isinstance(second["value"], float)
    assert third == {
        **BASE,
        **POINT_ROW,
        "metric_name": "claude_code.token.usage",
        "metric_unit": "tokens",
        "metric_type": "sum",
        "is_monotonic": True,
        "aggregation_temporality": "delta",
        "value": 1200.0,
        "attr_type": "input",
        "attr_model": "m",
    }


def test_flatten_metrics_histogram_point() -> None:
    metric = Metric(
        name="latency",
        unit="ms",
        histogram=Histogram(
            data_points=[
                HistogramDataPoint(
                    **POINT,
                    count=6,
                    sum=42.5,
                    min=0.5,
                    max=30.0,
                    bucket_counts=[1, 2, 3],
                    explicit_bounds=[1.0, 10.0],
                    exemplars=[EXEMPLAR, EXEMPLAR],
                    flags=0,
                )
            ],
            aggregation_temporality=CUMULATIVE,
        ),
    )
    row = _only(flatten_metrics(metrics_request(metric)), "otel_metrics")
    assert row == {
        **BASE,
        **POINT_ROW,
        "metric_name": "latency",
        "metric_unit": "ms",
        "metric_type": "histogram",
        "aggregation_temporality": "cumulative",
        "count": 6,
        "sum": 42.5,
        "min": 0.5,
        "max": 30.0,
        "bucket_counts": "[1,2,3]",
        "explicit_bounds": "[1.0,10.0]",
        "exemplars_count": 2,
    }


def test_flatten_metrics_histogram_without_optional_fields() -> None:
    metric = Metric(name="h", histogram=Histogram(data_points=[HistogramDataPoint(**POINT, count=0)]))
    row = _only(flatten_metrics(metrics_request(metric)), "otel_metrics")
    assert row["count"] == 0
    for absent in ("sum", "min", "max", "bucket_counts", "explicit_bounds", "exemplars_count"):
        assert absent not in row
    assert row["aggregation_temporality"] == "unspecified"


def test_flatten_metrics_exponential_histogram_point() -> None:
    metric = Metric(
        name="sizes",
        exponential_histogram=ExponentialHistogram(
            data_points=[
                ExponentialHistogramDataPoint(
                    **POINT,
                    count=10,
                    sum=99.0,
                    min=0.0,
                    max=50.0,
                    scale=3,
                    zero_count=2,
                    zero_threshold=1e-6,
                    positive=ExponentialHistogramDataPoint.Buckets(offset=-2, bucket_counts=[1, 4, 2]),
                    negative=ExponentialHistogramDataPoint.Buckets(offset=0, bucket_counts=[1]),
                )
            ],
            aggregation_temporality=DELTA,
        ),
    )
    row = _only(flatten_metrics(metrics_request(metric)), "otel_metrics")
    assert row == {
        **BASE,
        **POINT_ROW,
        "metric_name": "sizes",
        "metric_type": "exponential_histogram",
        "aggregation_temporality": "delta",
        "count": 10,
        "sum": 99.0,
        "min": 0.0,
        "max": 50.0,
        "scale": 3,
        "zero_count": 2,
        "zero_threshold": 1e-6,
        "positive_offset": -2,
        "positive_bucket_counts": "[1,4,2]",
        "negative_offset": 0,
        "negative_bucket_counts": "[1]",
    }


def test_flatten_metrics_summary_point() -> None:
    metric = Metric(
        name="rpc",
        summary=Summary(
            data_points=[
                SummaryDataPoint(
                    **POINT,
                    count=4,
                    sum=10.0,
                    quantile_values=[
                        SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0),
                        SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=4.5),
                    ],
                )
            ]
        ),
    )
    row = _only(flatten_metrics(metrics_request(metric)), "otel_metrics")
    assert row == {
        **BASE,
        **POINT_ROW,
        "metric_name": "rpc",
        "metric_type": "summary",
        "count": 4,
        "sum": 10.0,
        "quantile_values": '[{"quantile":0.5,"value":2.0},{"quantile":0.99,"value":4.5}]',
    }


def test_flatten_metrics_nan_values_are_kept() -> None:
    metric = Metric(name="g", gauge=Gauge(data_points=[NumberDataPoint(**POINT, as_double=math.nan)]))
    row = _only(flatten_metrics(metrics_request(metric)), "otel_metrics")
    assert math.isnan(row["value"])


def test_flatten_metrics_skips_malformed_metrics_and_points() -> None:
    good = NumberDataPoint(**POINT, as_double=1.0)
    metrics = [
        Metric(name="ok", gauge=Gauge(data_points=[good])),  # 1 row
        Metric(name="no data"),  # skipped: 1
        Metric(),  # skipped: 1 (what decode leaves for a malformed JSON metric)
        Metric(name="", sum=Sum(data_points=[good, good, good])),  # skipped: 3 points
        Metric(name="no value", gauge=Gauge(data_points=[NumberDataPoint(**POINT), good])),  # 1 row, 1 skipped
        Metric(name="stale", gauge=Gauge(data_points=[NumberDataPoint(**POINT, as_double=1.0, flags=1)])),  # 1
        Metric(
            name="bad buckets",
            histogram=Histogram(
                data_points=[
                    HistogramDataPoint(**POINT, count=3, bucket_counts=[1, 2], explicit_bounds=[1.0, 2.0]),  # 1
                    HistogramDataPoint(**POINT, count=3, bucket_counts=[1, 2], explicit_bounds=[1.0]),  # row
                ]
            ),
        ),
        Metric(name="stale summary", summary=Summary(data_points=[SummaryDataPoint(**POINT, flags=1)])),  # 1
    ]
    result = flatten_metrics(metrics_request(*metrics))
    assert [row["metric_name"] for row in result.rows["otel_metrics"]] == ["ok", "no value", "bad buckets"]
    assert result.counts["metricPoints"] == 3
    assert result.skipped == 1 + 1 + 3 + 1 + 1 + 1 + 1


def test_flatten_metrics_point_without_time_gets_the_receive_time() -> None:
    metric = Metric(name="g", gauge=Gauge(data_points=[NumberDataPoint(as_double=1.0)]))
    row = _only(flatten_metrics(metrics_request(metric)), "otel_metrics")
    assert "_timestamp" not in row
    assert "start_timestamp" not in row


# ---- common columns --------------------------------------------------------------------------


def test_flatten_session_id_prefers_record_then_scope_then_resource() -> None:
    request = logs_request(
        LogRecord(body=value("record"), attributes=attrs({"session.id": "from-record"})),
        LogRecord(body=value("scope")),
        res=resource(session__id="from-resource"),
        sc=scope(attributes={"session.id": "from-scope"}),
    )
    request.resource_logs.add(resource=resource(session__id="from-resource")).scope_logs.add(
        scope=InstrumentationScope(name="bare"), log_records=[LogRecord(body=value("resource"))]
    )
    request.resource_logs.add().scope_logs.add(log_records=[LogRecord(body=value("none"))])
    result = flatten_logs(request)
    assert [row.get("session_id") for row in result.rows["otel_logs"]] == [
        "from-record",
        "from-scope",
        "from-resource",
        None,
    ]
    assert result.session_ids == ["from-record", "from-resource", "from-scope"]


def test_flatten_session_ids_are_distinct_sorted_and_text() -> None:
    records = [
        LogRecord(body=value("a"), attributes=attrs({"session.id": "b"})),
        LogRecord(body=value("b"), attributes=attrs({"session.id": "a"})),
        LogRecord(body=value("c"), attributes=attrs({"session.id": "b"})),
        LogRecord(body=value("d"), attributes=attrs({"session.id": 42})),
        LogRecord(body=value("e"), attributes=attrs({"session.id": ""})),
    ]
    result = flatten_logs(logs_request(*records, res=Resource()))
    assert result.session_ids == ["42", "a", "b"]
    assert [row.get("session_id") for row in result.rows["otel_logs"]] == ["b", "a", "b", "42", None]


def test_flatten_colliding_column_names_keep_both_values() -> None:
    request = logs_request(
        LogRecord(body=value("x"), attributes=attrs({"a.b": 1, "a_b": 2, "A.B": 3})),
        sc=scope("lib", "2.0", {"name": "attr-called-name"}),
    )
    row = _only(flatten_logs(request), "otel_logs")
    assert (row["attr_a_b"], row["attr_a_b_"], row["attr_a_b__"]) == (1, 2, 3)
    assert (row["scope_name"], row["scope_name_"]) == ("lib", "attr-called-name")


def test_flatten_resource_without_service_name_and_empty_scope() -> None:
    request = logs_request(LogRecord(body=value("x")), res=Resource(), sc=InstrumentationScope())
    assert _only(flatten_logs(request), "otel_logs") == {"body": "x"}


@pytest.mark.parametrize(
    "request_",
    [
        logs_request(LogRecord(time_unix_nano=T0, body=value({"k": [1, b"\x00"]}), attributes=attrs({"x.y": 1.5}))),
        spans_request(span(events=[Span.Event(name="e", attributes=attrs({"k": "v"}))])),
        metrics_request(
            Metric(name="g", gauge=Gauge(data_points=[NumberDataPoint(**POINT, as_int=2**62)])),
            Metric(name="h", histogram=Histogram(data_points=[HistogramDataPoint(**POINT, count=1, sum=1.0)])),
        ),
    ],
    ids=["logs", "traces", "metrics"],
)
def test_flatten_rows_are_already_canonical_for_normalize(request_: Any) -> None:
    result = flatten(request_)
    for rows in result.rows.values():
        for row in rows:
            normalized = normalize(row, received_us=1)
            assert normalized == {"_timestamp": row["_timestamp"], **row}
            assert all(isinstance(v, str | int | float | bool) for v in row.values())


def test_flatten_dispatches_on_the_request_type_and_refuses_other_messages() -> None:
    assert set(flatten(logs_request()).rows) == {"otel_logs"}
    assert set(flatten(spans_request()).rows) == {"otel_spans"}
    assert set(flatten(metrics_request()).rows) == {"otel_metrics"}
    assert flatten(metrics_request()).counts == {"logEvents": 0, "metricPoints": 0, "spans": 0}
    with pytest.raises(TypeError, match="not an OTLP export request"):
        flatten(LogRecord())
