"""OTLP/HTTP protobuf requests are answered as the OTLP specification says: 200 with a
protobuf Export*ServiceResponse whose partial_success carries the skipped count and why.
OTLP/JSON requests keep spec 002's 202 JSON body. Checked with the OpenTelemetry Python SDK
exporter (its responses decoded as protobuf) and the npm -proto exporter, which decodes the
answer itself and warns when it cannot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

from tests.support.api import assert_core_error, bearer
from tests.support.clients import new_ingest_tenant, run_node_client
from tests.support.lake import drain_ingest
from tests.support.otlp import json_span, json_traces

T0_NS = 1_800_000_000_000_000_000
PROTOBUF = {"content-type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def tenant(base_url: str) -> dict[str, Any]:
    return new_ingest_tenant(base_url)


def test_python_sdk_exporter_gets_a_protobuf_export_response(base_url: str, tenant: dict[str, Any]) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

    answers: list[requests.Response] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, *args, **kwargs: answers.append(response))
    exporter = OTLPSpanExporter(
        endpoint=f"{base_url}/v1/traces", headers={"Authorization": f"Bearer {tenant['token']}"}, session=session
    )
    results: list[SpanExportResult] = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span: Any) -> None:
            results.append(exporter.export([span]))

    provider = TracerProvider()
    provider.add_span_processor(Recording(exporter))
    with provider.get_tracer("tests").start_as_current_span("checkout"):
        pass
    provider.shutdown()

    assert results == [SpanExportResult.SUCCESS]
    assert [a.status_code for a in answers] == [200]
    assert answers[0].headers["content-type"] == "application/x-protobuf"
    decoded = trace_pb.ExportTraceServiceResponse.FromString(answers[0].content)
    assert not decoded.HasField("partial_success")  # everything was accepted


def _spans(good: int, bad: int) -> bytes:
    request = trace_pb.ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(good + bad):
        span = scope.spans.add(name=f"s{n}", start_time_unix_nano=T0_NS, end_time_unix_nano=T0_NS + 1000)
        span.trace_id = bytes(range(1, 17))
        span.span_id = (n + 1).to_bytes(8, "big") if n < good else b"\x01\x02\x03"  # a 3-byte span id: malformed
    return request.SerializeToString()


def _logs(good: int, bad: int) -> bytes:
    request = logs_pb.ExportLogsServiceRequest()
    scope = request.resource_logs.add().scope_logs.add()
    for n in range(good):
        scope.log_records.add(time_unix_nano=T0_NS).body.string_value = f"line {n}"
    for _ in range(bad):
        scope.log_records.add(time_unix_nano=T0_NS)  # no body, no attributes, no event name
    return request.SerializeToString()


def _metrics(good: int, bad: int) -> bytes:
    request = metrics_pb.ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add(name="queue_depth")
    for n in range(good):
        metric.gauge.data_points.add(time_unix_nano=T0_NS, as_double=float(n))
    for _ in range(bad):
        metric.gauge.data_points.add(time_unix_nano=T0_NS)  # a point with no value
    return request.SerializeToString()


@pytest.mark.parametrize(
    ("path", "body", "response_type", "rejected_field"),
    [
        ("/v1/traces", _spans, trace_pb.ExportTraceServiceResponse, "rejected_spans"),
        ("/v1/logs", _logs, logs_pb.ExportLogsServiceResponse, "rejected_log_records"),
        ("/api/ingest/otlp/metrics", _metrics, metrics_pb.ExportMetricsServiceResponse, "rejected_data_points"),
    ],
)
def test_skipped_records_come_back_as_partial_success(
    client: httpx.Client, tenant: dict[str, Any], path: str, body: Any, response_type: Any, rejected_field: str
) -> None:
    response = client.post(path, content=body(3, 2), headers={**PROTOBUF, **bearer(tenant["token"])})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    decoded = response_type.FromString(response.content)
    assert decoded.HasField("partial_success")
    assert getattr(decoded.partial_success, rejected_field) == 2
    assert "2 " in decoded.partial_success.error_message and "malformed" in decoded.partial_success.error_message
    # the three good records were accepted
    clean = client.post(path, content=body(3, 0), headers={**PROTOBUF, **bearer(tenant["token"])})
    assert not response_type.FromString(clean.content).HasField("partial_success")
    drain_ingest()


def test_json_requests_keep_the_spec_002_body(client: httpx.Client, tenant: dict[str, Any]) -> None:
    bad_span = {"traceId": "00", "spanId": "00", "name": "x", "startTimeUnixNano": str(T0_NS)}
    body = json_traces(json_span("ok", T0_NS, 5), bad_span)
    response = client.post("/v1/traces", json=body, headers=bearer(tenant["token"]))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["counts"]["spans"], answer["skipped"]) == (True, 1, 1)
    drain_ingest()


def test_npm_proto_exporter_decodes_the_answer_without_warnings(base_url: str, tenant: dict[str, Any]) -> None:
    result = run_node_client("otlp_proto.mjs", base_url, f"Bearer {tenant['token']}", "3")
    assert [r["code"] for r in result["results"]] == [0, 0, 0], result  # ExportResultCode.SUCCESS
    assert [entry for entry in result["logged"] if entry["level"] in ("warn", "error")] == []
    drain_ingest()


@pytest.mark.parametrize(
    ("what", "body", "token", "status", "grpc_code", "code"),
    [
        ("protobuf garbage", b"\xff\xff\xff\xff\x0f", "good", 400, 3, "invalid_protobuf"),  # INVALID_ARGUMENT
        ("an unknown token", _spans(1, 0), "ms_abcdefghij_" + "x" * 40, 401, 16, "invalid_token"),  # UNAUTHENTICATED
        ("no token at all", _spans(1, 0), None, 401, 16, "missing_token"),
    ],
)
def test_refused_protobuf_requests_get_a_protobuf_status(
    client: httpx.Client,
    tenant: dict[str, Any],
    what: str,
    body: bytes,
    token: str | None,
    status: int,
    grpc_code: int,
    code: str,
) -> None:
    from google.rpc import status_pb2

    headers = {**PROTOBUF, **(bearer(tenant["token"] if token == "good" else token) if token else {})}
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == status, what
    assert response.headers["content-type"] == "application/x-protobuf"
    decoded = status_pb2.Status.FromString(response.content)
    assert decoded.code == grpc_code
    assert decoded.message.startswith(f"{code}: ")
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_refused_json_requests_keep_the_core_envelope(client: httpx.Client, tenant: dict[str, Any]) -> None:
    response = client.post(
        "/v1/traces", content=b"{not json", headers={"content-type": "application/json", **bearer(tenant["token"])}
    )
    assert_core_error(response, 400)
