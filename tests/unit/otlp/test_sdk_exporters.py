"""What the real OpenTelemetry Python SDK exporters send decodes and flattens as expected.

The exporters (``opentelemetry-exporter-otlp-proto-http``) post to a tiny HTTP server on
127.0.0.1; the captured bodies go through ``decode_request`` and ``flatten`` as the receiver's
would. Skipped where the SDK is not installed (it is a test-only dependency).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.sdk.resources import Resource

from molesignal.ingest.normalize import normalize
from molesignal.otlp.content import split_content
from molesignal.otlp.decode import decode_request
from molesignal.otlp.flatten import FlattenResult, flatten


@dataclass(frozen=True)
class Captured:
    path: str
    content_type: str | None
    content_encoding: str | None
    body: bytes


class _Collector(ThreadingHTTPServer):
    captured: list[Captured]


class _Handler(BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(size)
        self.server.captured.append(
            Captured(self.path, self.headers.get("Content-Type"), self.headers.get("Content-Encoding"), body)
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[Captured]]]:
    server = _Collector(("127.0.0.1", 0), _Handler)
    server.captured = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.captured
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


RESOURCE = {"service.name": "sdk-test", "service.version": "1.2.3", "session.id": "sess-resource"}


def _decode_all(captured: list[Captured], signal: str) -> FlattenResult:
    assert captured, "the exporter sent nothing"
    rows: list[dict[str, Any]] = []
    sessions: set[str] = set()
    skipped = 0
    stream = ""
    for request in captured:
        assert request.path == f"/v1/{signal}"
        assert request.content_type == "application/x-protobuf"
        result = flatten(decode_request(signal, request.body, request.content_type, request.content_encoding))  # type: ignore[call-overload]
        ((stream, found),) = result.rows.items()
        rows.extend(found)
        sessions.update(result.session_ids)
        skipped += result.skipped
    for row in rows:
        normalize(split_content(row)[0], received_us=1)  # every row is storable
    return FlattenResult({stream: rows}, {}, sorted(sessions), skipped)


def test_sdk_trace_exporter_gzip(collector: tuple[str, list[Captured]]) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    base, captured = collector
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces", compression=Compression.Gzip, timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("molesignal.tests", "0.1")
    with tracer.start_as_current_span("llm.chat", kind=SpanKind.CLIENT, attributes={"gen_ai.prompt": "hi"}) as parent:
        with tracer.start_as_current_span("tool", attributes={"session.id": "sess-span", "n": 3}) as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "failed"))
        parent_context = parent.get_span_context()
    provider.shutdown()

    assert {c.content_encoding for c in captured} == {"gzip"}
    result = _decode_all(captured, "traces")
    assert result.skipped == 0
    rows = {row["name"]: row for row in result.rows["otel_spans"]}
    assert set(rows) == {"llm.chat", "tool"}
    chat, tool = rows["llm.chat"], rows["tool"]
    assert chat["trace_id"] == f"{parent_context.trace_id:032x}"
    assert chat["span_id"] == f"{parent_context.span_id:016x}"
    assert tool["parent_span_id"] == chat["span_id"]
    assert "parent_span_id" not in chat
    assert (chat["kind"], tool["kind"]) == ("client", "internal")
    assert (tool["status_code"], tool["status_message"]) == ("error", "failed")
    assert orjson.loads(tool["events"])[0]["attributes"] == {"attempt": 2}
    assert chat["service_name"] == "sdk-test"
    assert chat["scope_name"] == "molesignal.tests"
    assert (chat["session_id"], tool["session_id"]) == ("sess-resource", "sess-span")
    assert result.session_ids == ["sess-resource", "sess-span"]
    assert chat["duration_ns"] >= tool["duration_ns"] >= 0
    plain, content = split_content(chat)
    assert content == {"attr_gen_ai_prompt": "hi"}
    assert plain["has_content"] is True


def test_sdk_log_exporter_deflate(collector: tuple[str, list[Captured]]) -> None:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    base, captured = collector
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    exporter = OTLPLogExporter(endpoint=f"{base}/v1/logs", compression=Compression.Deflate, timeout=5)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.1.0")
    logger.emit(
        body="claude_code.user_prompt",
        event_name="claude_code.user_prompt",
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        attributes={"event.name": "user_prompt", "prompt": "fix the bug", "prompt_length": 11},
    )
    logger.emit(body={"structured": ["body", 1]}, attributes={"session.id": "sess-log"})
    provider.shutdown()

    assert {c.content_encoding for c in captured} == {"deflate"}
    result = _decode_all(captured, "logs")
    first, second = result.rows["otel_logs"]
    assert first["event_name"] == "claude_code.user_prompt"
    assert (first["severity_number"], first["severity_text"]) == (9, "INFO")
    assert first["body"] == "claude_code.user_prompt"
    assert first["attr_prompt_length"] == 11
    assert first["_timestamp"] > 1_600_000_000_000_000  # µs
    assert first["scope_version"] == "2.1.0"
    assert orjson.loads(second["body"]) == {"structured": ["body", 1]}
    assert result.session_ids == ["sess-log", "sess-resource"]
    assert split_content(first)[1] == {"attr_prompt": "fix the bug"}


def test_sdk_metric_exporter_every_instrument(collector: tuple[str, list[Captured]]) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
    from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

    base, captured = collector
    exporter = OTLPMetricExporter(
        endpoint=f"{base}/v1/metrics",
        timeout=5,
        preferred_temporality={
            Counter: AggregationTemporality.DELTA,
            UpDownCounter: AggregationTemporality.CUMULATIVE,
            Histogram: AggregationTemporality.DELTA,
        },
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create(RESOURCE),
        metric_readers=[reader],
        views=[View(instrument_name="sizes", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("claude_code", "2.1.0")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens", description="Tokens used")
    tokens.add(1200, {"type": "input", "session.id": "sess-metric"})
    tokens.add(300, {"type": "output", "session.id": "sess-metric"})
    meter.create_up_down_counter("open").add(-2)
    meter.create_histogram("latency", unit="ms").record(12.5)
    sizes = meter.create_histogram("sizes")
    for size in (1.0, 2.0, 4.0, 1000.0):
        sizes.record(size)

    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(0.75, {"cpu": "0"})]

    meter.create_observable_gauge("load", callbacks=[observe])
    provider.shutdown()

    result = _decode_all(captured, "metrics")
    assert result.skipped == 0
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in result.rows["otel_metrics"]:
        by_name.setdefault(row["metric_name"], []).append(row)
    assert set(by_name) == {"claude_code.token.usage", "open", "latency", "sizes", "load"}

    token_rows = {row["attr_type"]: row for row in by_name["claude_code.token.usage"]}
    assert token_rows["input"]["value"] == 1200.0
    assert token_rows["output"]["value"] == 300.0
    assert token_rows["input"]["metric_type"] == "sum"
    assert token_rows["input"]["is_monotonic"] is True
    assert token_rows["input"]["aggregation_temporality"] == "delta"
    assert token_rows["input"]["metric_unit"] == "tokens"
    assert token_rows["input"]["metric_description"] == "Tokens used"
    assert token_rows["input"]["session_id"] == "sess-metric"

    (open_row,) = by_name["open"]
    assert (open_row["value"], open_row["is_monotonic"], open_row["aggregation_temporality"]) == (
        -2.0,
        False,
        "cumulative",
    )
    (latency,) = by_name["latency"]
    assert (latency["metric_type"], latency["count"], latency["sum"]) == ("histogram", 1, 12.5)
    assert sum(orjson.loads(latency["bucket_counts"])) == 1
    assert len(orjson.loads(latency["bucket_counts"])) == len(orjson.loads(latency["explicit_bounds"])) + 1
    (exponential,) = by_name["sizes"]
    assert exponential["metric_type"] == "exponential_histogram"
    assert (exponential["count"], exponential["sum"], exponential["min"], exponential["max"]) == (
        4,
        1007.0,
        1.0,
        1000.0,
    )
    assert sum(orjson.loads(exponential["positive_bucket_counts"])) == 4
    assert isinstance(exponential["scale"], int)
    (load,) = by_name["load"]
    assert (load["metric_type"], load["value"], load["attr_cpu"]) == ("gauge", 0.75, "0")
    assert result.session_ids == ["sess-metric", "sess-resource"]
