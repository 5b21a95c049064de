"""OTLP/HTTP decoding: protobuf as the SDKs send it, OTLP/JSON by the spec's encoding rules."""

from __future__ import annotations

import copy
import gzip
import os
import subprocess
import sys
import zlib
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
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
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from molesignal.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from molesignal.otlp import decode as decode_module
from molesignal.otlp.decode import decode_request
from molesignal.otlp.flatten import flatten
from tests.unit.otlp.builders import (
    PARENT_HEX,
    PARENT_ID,
    SPAN_HEX,
    SPAN_ID,
    T0,
    TRACE_HEX,
    TRACE_ID,
    attrs,
    json_attrs,
    json_value,
    logs_request,
    metrics_request,
    resource,
    scope,
    snake_case,
    span,
    spans_request,
    value,
)

DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def _json(document: Any) -> bytes:
    return orjson.dumps(document)


# ---- protobuf --------------------------------------------------------------------------------


def test_decode_request_protobuf_round_trips_each_signal() -> None:
    logs = logs_request(LogRecord(time_unix_nano=T0, body=value("hi"), trace_id=TRACE_ID, span_id=SPAN_ID))
    spans = spans_request(span(parent_span_id=PARENT_ID, kind=Span.SPAN_KIND_SERVER))
    metrics = metrics_request(Metric(name="m", gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=T0, as_int=3)])))
    assert decode_request("logs", logs.SerializeToString(), PROTOBUF, None) == logs
    assert decode_request("traces", spans.SerializeToString(), "application/protobuf", None) == spans
    assert decode_request("metrics", metrics.SerializeToString(), f"{PROTOBUF}; charset=binary", "identity") == metrics


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("GZIP", gzip.compress), ("deflate", zlib.compress)],
)
def test_decode_request_decompresses_gzip_and_deflate(coding: str, compress: Any) -> None:
    request = spans_request(span(), span(span_id=PARENT_ID))
    assert decode_request("traces", compress(request.SerializeToString()), PROTOBUF, coding) == request
    body = compress(_json({"resourceSpans": []}))
    assert decode_request("traces", body, JSON, coding) == ExportTraceServiceRequest()


def test_decode_request_refuses_bodies_that_are_not_the_protobuf_they_claim() -> None:
    with pytest.raises(Invalid) as caught:
        decode_request("logs", b"\xff\xff\xff\xff not protobuf", PROTOBUF, None)
    assert caught.value.code == "invalid_protobuf"
    assert "ExportLogsServiceRequest" in caught.value.message


def test_decode_request_refuses_corrupt_gzip_and_caps_decompression() -> None:
    with pytest.raises(Invalid):
        decode_request("logs", b"\x1f\x8b not gzip", PROTOBUF, "gzip")
    bomb = gzip.compress(b"\0" * 2_000_000)
    with pytest.raises(PayloadTooLarge):
        decode_request("logs", bomb, PROTOBUF, "gzip", max_decompressed_bytes=1_000_000)


# ---- media types and codings -----------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc", "application/x-ndjson"])
def test_decode_request_refuses_other_media_types(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_request("logs", b"{}", content_type, None)
    assert "application/x-protobuf or application/json" in caught.value.message


def test_decode_request_can_refuse_protobuf_for_a_json_only_receiver() -> None:
    body = logs_request().SerializeToString()
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_request("logs", body, PROTOBUF, None, allow_protobuf=False)
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/json" in caught.value.message
    assert decode_request("logs", b"{}", JSON, None, allow_protobuf=False) == ExportLogsServiceRequest()


@pytest.mark.parametrize("coding", ["zstd", "snappy", "br", "gzip, deflate"])
def test_decode_request_refuses_other_content_codings(coding: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_request("logs", b"{}", JSON, coding)
    assert caught.value.code == "unsupported_content_encoding"


def test_decode_request_rejects_an_unknown_signal() -> None:
    with pytest.raises(ValueError, match="unknown OTLP signal"):
        decode_request("profiles", b"", JSON, None)  # type: ignore[call-overload]


@pytest.mark.parametrize("content_type", [JSON, PROTOBUF])
@pytest.mark.parametrize("coding", [None, "gzip"])
def test_decode_request_empty_body_is_an_empty_request(content_type: str, coding: str | None) -> None:
    assert decode_request("logs", b"", content_type, coding) == ExportLogsServiceRequest()
    assert decode_request("metrics", gzip.compress(b""), content_type, "gzip") == ExportMetricsServiceRequest()


# ---- OTLP/JSON -------------------------------------------------------------------------------

SPAN_JSON: dict[str, Any] = {
    "traceId": TRACE_HEX.upper(),
    "spanId": SPAN_HEX,
    "parentSpanId": PARENT_HEX,
    "traceState": "k=v",
    "name": "GET /",
    "kind": 2,
    "startTimeUnixNano": str(T0),
    "endTimeUnixNano": T0 + 1000,
    "attributes": json_attrs({"http.status": 200, "ok": True, "ratio": 0.5, "tags": ["a", 1], "raw": b"\x01\x02"}),
    "events": [{"timeUnixNano": str(T0 + 10), "name": "exception", "attributes": json_attrs({"a": "b"})}],
    "links": [{"traceId": TRACE_HEX, "spanId": PARENT_HEX, "attributes": json_attrs({"l": 1})}],
    "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
    "droppedAttributesCount": 1,
    "flags": 257,
}


def _span_expected() -> Span:
    return Span(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        parent_span_id=PARENT_ID,
        trace_state="k=v",
        name="GET /",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 1000,
        attributes=attrs({"http.status": 200, "ok": True, "ratio": 0.5, "tags": ["a", 1], "raw": b"\x01\x02"}),
        events=[Span.Event(time_unix_nano=T0 + 10, name="exception", attributes=attrs({"a": "b"}))],
        links=[Span.Link(trace_id=TRACE_ID, span_id=PARENT_ID, attributes=attrs({"l": 1}))],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
        dropped_attributes_count=1,
        flags=257,
    )


def _traces_json(*spans: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": json_attrs({"service.name": "svc"})},
                "scopeSpans": [{"scope": {"name": "scope", "version": "1.0"}, "spans": list(spans)}],
            }
        ]
    }


def test_decode_request_json_follows_the_otlp_encoding_rules() -> None:
    decoded = decode_request("traces", _json(_traces_json(SPAN_JSON)), JSON, None)
    assert decoded == spans_request(_span_expected())


def test_decode_request_json_accepts_snake_case_field_names() -> None:
    document = snake_case(_traces_json(SPAN_JSON))
    assert "resource_spans" in document
    assert "start_time_unix_nano" in document["resource_spans"][0]["scope_spans"][0]["spans"][0]
    assert decode_request("traces", _json(document), JSON, None) == spans_request(_span_expected())


@pytest.mark.parametrize(
    ("fields", "start", "end"),
    [
        ({"kind": "SPAN_KIND_CLIENT", "startTimeUnixNano": T0, "endTimeUnixNano": str(T0 + 5)}, T0, T0 + 5),
        ({"kind": 3, "startTimeUnixNano": "1e3", "endTimeUnixNano": 2000.0}, 1000, 2000),
        ({"kind": 3, "start_time_unix_nano": f"{T0}", "end_time_unix_nano": T0 + 5}, T0, T0 + 5),
    ],
)
def test_decode_request_json_accepts_enum_names_numbers_and_64_bit_integers_both_ways(
    fields: dict[str, Any], start: int, end: int
) -> None:
    document = _traces_json({"traceId": TRACE_HEX, "spanId": SPAN_HEX, **fields})
    (decoded,) = decode_request("traces", _json(document), JSON, None).resource_spans[0].scope_spans[0].spans
    assert decoded.kind == Span.SPAN_KIND_CLIENT
    assert (decoded.start_time_unix_nano, decoded.end_time_unix_nano) == (start, end)


def test_decode_request_json_accepts_base64_ids_from_plain_protobuf_json_mappers() -> None:
    import base64

    document = _traces_json(
        {
            "traceId": base64.b64encode(TRACE_ID).decode(),
            "spanId": base64.urlsafe_b64encode(SPAN_ID).decode().rstrip("="),
            "startTimeUnixNano": "1",
            "endTimeUnixNano": "2",
        }
    )
    (decoded,) = decode_request("traces", _json(document), JSON, None).resource_spans[0].scope_spans[0].spans
    assert (decoded.trace_id, decoded.span_id) == (TRACE_ID, SPAN_ID)


def test_decode_request_json_turns_unreadable_ids_into_ids_no_check_accepts() -> None:
    document = _traces_json({"traceId": "not an id!", "spanId": SPAN_HEX, "parentSpanId": ""})
    (decoded,) = decode_request("traces", _json(document), JSON, None).resource_spans[0].scope_spans[0].spans
    assert decoded.trace_id == b"\x00"
    assert decoded.parent_span_id == b""


def test_decode_request_json_ignores_unknown_fields_and_nulls() -> None:
    document = _traces_json({**SPAN_JSON, "somethingNew": {"x": 1}, "traceState": None})
    document["futureTopLevel"] = [1, 2]
    document["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.30.0"
    expected = _span_expected()
    expected.trace_state = ""
    decoded = decode_request("traces", _json(document), JSON, None)
    assert decoded.resource_spans[0].scope_spans[0].spans[0] == expected
    assert decoded.resource_spans[0].schema_url.endswith("1.30.0")


def test_decode_request_json_logs_with_hex_ids_and_structured_bodies() -> None:
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": json_attrs({"service.name": "claude-code"})},
                "scopeLogs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.0"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(T0),
                                "observedTimeUnixNano": str(T0 + 1),
                                "severityNumber": "SEVERITY_NUMBER_INFO",
                                "severityText": "INFO",
                                "body": json_value({"nested": [1, {"deep": "x"}]}),
                                "attributes": json_attrs({"event.name": "user_prompt", "prompt_length": 12}),
                                "traceId": TRACE_HEX,
                                "spanId": SPAN_HEX,
                                "flags": 1,
                                "eventName": "claude_code.user_prompt",
                            }
                        ],
                    }
                ],
            }
        ]
    }
    expected = logs_request(
        LogRecord(
            time_unix_nano=T0,
            observed_time_unix_nano=T0 + 1,
            severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
            severity_text="INFO",
            body=value({"nested": [1, {"deep": "x"}]}),
            attributes=attrs({"event.name": "user_prompt", "prompt_length": 12}),
            trace_id=TRACE_ID,
            span_id=SPAN_ID,
            flags=1,
            event_name="claude_code.user_prompt",
        ),
        res=resource(service__name="claude-code"),
        sc=scope("com.anthropic.claude_code.events", "2.1.0"),
    )
    assert decode_request("logs", _json(document), JSON, None) == expected
    assert decode_request("logs", _json(snake_case(document)), JSON, None) == expected


def _rich_metrics_json() -> dict[str, Any]:
    exemplar = {"timeUnixNano": str(T0), "asDouble": 1.5, "traceId": TRACE_HEX, "spanId": SPAN_HEX}
    point = {"attributes": json_attrs({"k": "v"}), "startTimeUnixNano": str(T0 - 1000), "timeUnixNano": str(T0)}
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": json_attrs({"service.name": "svc"})},
                "scopeMetrics": [
                    {
                        "scope": {"name": "meter"},
                        "metrics": [
                            {"name": "g", "unit": "1", "gauge": {"dataPoints": [{**point, "asDouble": "NaN"}]}},
                            {
                                "name": "s",
                                "sum": {
                                    "dataPoints": [{**point, "asInt": "-7", "exemplars": [exemplar]}],
                                    "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
                                    "isMonotonic": True,
                                },
                            },
                            {
                                "name": "h",
                                "histogram": {
                                    "dataPoints": [
                                        {
                                            **point,
                                            "count": "3",
                                            "sum": 6.5,
                                            "bucketCounts": ["1", 2],
                                            "explicitBounds": [1.0],
                                            "min": 1,
                                            "max": "Infinity",
                                            "exemplars": [exemplar],
                                        }
                                    ],
                                    "aggregationTemporality": 2,
                                },
                            },
                            {
                                "name": "e",
                                "exponentialHistogram": {
                                    "dataPoints": [
                                        {
                                            **point,
                                            "count": 4,
                                            "scale": -2,
                                            "zeroCount": "1",
                                            "positive": {"offset": -3, "bucketCounts": [1, "2"]},
                                            "negative": {"bucketCounts": ["0"]},
                                            "zeroThreshold": 1e-9,
                                        }
                                    ],
                                    "aggregationTemporality": 1,
                                },
                            },
                            {
                                "name": "q",
                                "summary": {
                                    "dataPoints": [
                                        {
                                            **point,
                                            "count": "2",
                                            "sum": 3,
                                            "quantileValues": [
                                                {"quantile": 0.5, "value": 1},
                                                {"quantile": 1, "value": 2},
                                            ],
                                        }
                                    ]
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }


def test_decode_request_json_metrics_of_every_type() -> None:
    decoded = decode_request("metrics", _json(_rich_metrics_json()), JSON, None)
    gauge, total, histogram, exponential, summary = decoded.resource_metrics[0].scope_metrics[0].metrics
    exemplar = Exemplar(time_unix_nano=T0, as_double=1.5, trace_id=TRACE_ID, span_id=SPAN_ID)
    point: dict[str, Any] = {"attributes": attrs({"k": "v"}), "start_time_unix_nano": T0 - 1000, "time_unix_nano": T0}
    assert gauge.gauge.data_points[0].as_double != gauge.gauge.data_points[0].as_double  # NaN
    assert total == Metric(
        name="s",
        sum=Sum(
            data_points=[NumberDataPoint(**point, as_int=-7, exemplars=[exemplar])],
            aggregation_temporality=DELTA,
            is_monotonic=True,
        ),
    )
    assert histogram == Metric(
        name="h",
        histogram=Histogram(
            data_points=[
                HistogramDataPoint(
                    **point,
                    count=3,
                    sum=6.5,
                    bucket_counts=[1, 2],
                    explicit_bounds=[1.0],
                    min=1.0,
                    max=float("inf"),
                    exemplars=[exemplar],
                )
            ],
            aggregation_temporality=CUMULATIVE,
        ),
    )
    assert exponential == Metric(
        name="e",
        exponential_histogram=ExponentialHistogram(
            data_points=[
                ExponentialHistogramDataPoint(
                    **point,
                    count=4,
                    scale=-2,
                    zero_count=1,
                    positive=ExponentialHistogramDataPoint.Buckets(offset=-3, bucket_counts=[1, 2]),
                    negative=ExponentialHistogramDataPoint.Buckets(bucket_counts=[0]),
                    zero_threshold=1e-9,
                )
            ],
            aggregation_temporality=DELTA,
        ),
    )
    assert summary == Metric(
        name="q",
        summary=Summary(
            data_points=[
                SummaryDataPoint(
                    **point,
                    count=2,
                    sum=3.0,
                    quantile_values=[
                        SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=1.0),
                        SummaryDataPoint.ValueAtQuantile(quantile=1.0, value=2.0),
                    ],
                )
            ]
        ),
    )


@pytest.mark.parametrize(
    ("signal", "document"),
    [
        ("traces", _traces_json(SPAN_JSON, {**SPAN_JSON, "kind": "SPAN_KIND_PRODUCER", "spanId": "zz"})),
        ("metrics", _rich_metrics_json()),
        ("traces", snake_case(_traces_json(SPAN_JSON))),
    ],
)
def test_decode_request_json_fast_path_matches_json_format(signal: str, document: dict[str, Any]) -> None:
    # The schema-driven fast path must decode exactly as protobuf's own json_format does.
    request_class = decode_module.request_type(signal)  # type: ignore[arg-type]
    fast = decode_module._json_fast(signal, request_class, copy.deepcopy(document))
    reference = decode_module._json_reference(signal, request_class, copy.deepcopy(document))
    assert fast.SerializeToString(deterministic=True) == reference.SerializeToString(deterministic=True)


def test_decode_request_json_falls_back_to_json_format_when_the_fast_path_cannot_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*args: Any) -> Any:
        raise decode_module._FastPathFailed

    monkeypatch.setattr(decode_module, "_json_fast", fail)
    assert decode_request("traces", _json(_traces_json(SPAN_JSON)), JSON, None) == spans_request(_span_expected())


# ---- malformed JSON: whole request vs single record ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"[]", b'"resourceLogs"', b"null", b"42"],
)
def test_decode_request_json_refuses_bodies_that_are_not_a_json_object(body: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        decode_request("logs", body, JSON, None)
    assert caught.value.code in ("invalid_json", "invalid_otlp_json")


@pytest.mark.parametrize(
    "document",
    [
        {"resourceLogs": {"not": "an array"}},
        {"resourceLogs": ["not an object"]},
        {"resourceLogs": [{"scopeLogs": 5}]},
        {"resourceLogs": [{"scopeLogs": [7]}]},
        {"resourceLogs": [{"resource": {"attributes": "nope"}}]},
        {"resourceLogs": [{"scopeLogs": [{"scope": {"name": 5}}]}]},
        {"resourceLogs": [{"scopeLogs": [{"logRecords": {"a": 1}}]}]},
    ],
)
def test_decode_request_json_refuses_a_malformed_envelope(document: dict[str, Any]) -> None:
    with pytest.raises(Invalid) as caught:
        decode_request("logs", _json(document), JSON, None)
    assert caught.value.code == "invalid_otlp_json"


def _deep_value(depth: int) -> dict[str, Any]:
    nested: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(depth):
        nested = {"arrayValue": {"values": [nested]}}
    return nested


@pytest.mark.parametrize(
    "bad",
    [
        "a string, not an object",
        {"timeUnixNano": "soon"},
        {"timeUnixNano": -1},
        {"timeUnixNano": 1.5},
        {"severityNumber": "SEVERITY_NUMBER_LOUD"},
        {"severityText": 3},
        {"attributes": {"k": "v"}},
        {"attributes": [{"key": "k", "value": {"intValue": "12x"}}]},
        {"attributes": [{"key": "k", "value": {"intValue": str(2**63)}}]},
        {"attributes": [{"key": "k", "value": {"bytesValue": "***"}}]},
        {"flags": True},
        {"body": _deep_value(80)},
    ],
)
def test_decode_request_json_malformed_record_becomes_an_empty_record_that_flatten_skips(bad: Any) -> None:
    good = {"timeUnixNano": str(T0), "body": {"stringValue": "kept"}}
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [good, bad, good]}]}]}
    decoded = decode_request("logs", _json(document), JSON, None)
    records = decoded.resource_logs[0].scope_logs[0].log_records
    assert len(records) == 3
    assert records[1] == LogRecord()
    result = flatten(decoded)
    assert (result.counts["logEvents"], result.skipped) == (2, 1)


def test_decode_request_json_malformed_span_and_metric_are_skipped_not_fatal() -> None:
    spans = _traces_json(SPAN_JSON, {**SPAN_JSON, "startTimeUnixNano": "yesterday"})
    result = flatten(decode_request("traces", _json(spans), JSON, None))
    assert (result.counts["spans"], result.skipped) == (1, 1)

    metrics = _rich_metrics_json()
    bad_metric = {"name": "bad", "gauge": {"dataPoints": [{"asDouble": "lots"}]}}
    metrics["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append(bad_metric)
    result = flatten(decode_request("metrics", _json(metrics), JSON, None))
    assert (result.counts["metricPoints"], result.skipped) == (5, 1)


# ---- import cost -----------------------------------------------------------------------------


def test_importing_the_otlp_package_does_not_import_protobuf_opentelemetry_or_crypto() -> None:
    code = (
        "import sys\n"
        "import molesignal.otlp, molesignal.otlp.decode, molesignal.otlp.flatten, molesignal.otlp.content\n"
        "heavy = [m for m in ('google.protobuf', 'opentelemetry', 'cryptography', 'boto3') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


def test_decode_and_flatten_work_with_the_pure_python_protobuf_backend() -> None:
    code = (
        "from google.protobuf.internal import api_implementation\n"
        "assert api_implementation.Type() == 'python', api_implementation.Type()\n"
        "import orjson\n"
        "from molesignal.otlp.decode import decode_request\n"
        "from molesignal.otlp.flatten import flatten\n"
        f"doc = {_traces_json(SPAN_JSON)!r}\n"
        "r = flatten(decode_request('traces', orjson.dumps(doc), 'application/json', None))\n"
        "print(r.counts['spans'], r.rows['otel_spans'][0]['trace_id'])\n"
    )
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    assert result.stdout.split() == ["1", TRACE_HEX]
