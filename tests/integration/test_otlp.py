"""The OTLP/HTTP receiver with the real OpenTelemetry SDK exporters, hand-built OTLP JSON,
and the content contract: session content sealed at rest, readable only by admins and the
session's user, every read audited."""

from __future__ import annotations

import io
import time
import uuid
from contextlib import suppress
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molesignal import aws
from molesignal.settings import get_settings
from tests.support.api import Session, assert_core_error, bearer, create_org, create_user, login, unique
from tests.support.lake import drain_ingest, queue_depth

NOW_NS = time.time_ns()


@pytest.fixture
def tenant(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    token = client.post("/api/v1/tokens", json={"name": "otel", "role": "ingest", "kind": "mtk"}, headers=admin.headers)
    assert token.status_code == 201, token.text
    alice_name = unique("alice")
    created = client.post(
        "/api/v1/users",
        json={"user": alice_name, "password": "AlicePass123", "role": "editor", "email": f"{alice_name}@example.com"},
        headers=admin.headers,
    )
    assert created.status_code == 201
    return {
        "org": org,
        "admin": admin,
        "mtk": token.json()["token"],
        "alice": login(client, alice_name, "AlicePass123"),
        "alice_email": f"{alice_name}@example.com",
        "viewer": create_user(client, admin, "viewer"),
    }


def _sql(client: httpx.Client, who: Session, sql: str, params: list[Any] | None = None) -> list[list[Any]]:
    response = client.post("/v1/api/sql", json={"sql": sql, "params": params or []}, headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["results"][0]["rows"])


def test_sdk_exporters_ship_traces_logs_and_metrics(
    base_url: str, client: httpx.Client, tenant: dict[str, Any]
) -> None:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    headers = {"Authorization": f"Bearer {tenant['mtk']}"}
    resource = Resource.create({"service.name": "checkout", "deployment.environment": "test"})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base_url}/v1/traces", headers=headers))
    )
    tracer = tracer_provider.get_tracer("tests")
    with tracer.start_as_current_span(
        "GET /cart", attributes={"session.id": "sess-1", "http.status_code": 200}
    ) as parent:
        trace_id = format(parent.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("db.query"):
            pass
    tracer_provider.shutdown()

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{base_url}/api/ingest/otlp/logs", headers=headers))
    )
    otel_logger = logger_provider.get_logger("tests")
    from opentelemetry._logs import LogRecord as ApiLogRecord
    from opentelemetry._logs import SeverityNumber

    otel_logger.emit(
        ApiLogRecord(
            body="cart loaded",
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            attributes={"session.id": "sess-1"},
        )
    )
    logger_provider.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base_url}/v1/metrics", headers=headers), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = meter_provider.get_meter("tests")
    meter.create_counter("orders").add(3, {"region": "eu"})
    meter.create_histogram("latency_ms").record(12.5)
    meter_provider.shutdown()

    drain_ingest()
    viewer = tenant["viewer"]
    spans = _sql(client, viewer, "SELECT name, trace_id, service_name, kind FROM otel_spans ORDER BY name")
    assert [(s[0], s[1], s[2]) for s in spans] == [
        ("GET /cart", trace_id, "checkout"),
        ("db.query", trace_id, "checkout"),
    ]
    logs = _sql(client, viewer, "SELECT body, severity_text, session_id FROM otel_logs")
    assert logs == [["cart loaded", "WARN", "sess-1"]]
    metrics = _sql(
        client, viewer, "SELECT metric_name, metric_type, value, count FROM otel_metrics ORDER BY metric_name"
    )
    assert metrics[0][0] == "latency_ms" and metrics[0][1] == "histogram" and metrics[0][3] == 1
    assert metrics[1][:3] == ["orders", "sum", 3.0]
    # and correlation ties the trace's spans together
    correlated = client.get("/api/v1/correlate", params={"trace_id": trace_id}, headers=viewer.headers).json()
    assert [i["name"] for i in correlated["items"]] == ["GET /cart", "db.query"]


def _json_logs(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code"}, "logRecords": records}],
            }
        ]
    }


def test_hand_built_otlp_json_with_hex_ids_and_string_ints(client: httpx.Client, tenant: dict[str, Any]) -> None:
    body = _json_logs(
        [
            {
                "timeUnixNano": str(NOW_NS),
                "severityNumber": 9,
                "body": {"stringValue": "claude_code.api_request"},
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174",
                "attributes": [
                    {"key": "session.id", "value": {"stringValue": "sess-json"}},
                    {"key": "input_tokens", "value": {"intValue": "1234"}},
                    {"key": "cost_usd", "value": {"doubleValue": 0.0123}},
                ],
            },
            {"timeUnixNano": "not-a-number", "body": {"stringValue": "bad time"}},  # malformed: skipped, not fatal
        ]
    )
    response = client.post("/v1/logs", json=body, headers=bearer(tenant["mtk"]))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["accepted"] is True
    assert answer["counts"]["logEvents"] == 1
    assert answer["sessionIds"] == ["sess-json"]
    assert answer["skipped"] == 1
    drain_ingest()
    rows = _sql(client, tenant["viewer"], "SELECT trace_id, span_id, attr_input_tokens, attr_cost_usd FROM otel_logs")
    assert rows == [["5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", 1234, 0.0123]]


@pytest.mark.parametrize(
    ("what", "content", "content_type", "status"),
    [
        ("text body", b"hello", "text/plain", 415),
        ("no content type", b"hello", "", 415),
        ("JSON that is not JSON", b"{not json", "application/json", 400),
        ("JSON array instead of object", b"[1,2]", "application/json", 400),
    ],
)
def test_bad_otlp_bodies(
    client: httpx.Client, tenant: dict[str, Any], what: str, content: bytes, content_type: str, status: int
) -> None:
    drain_ingest()
    headers = {**bearer(tenant["mtk"]), **({"content-type": content_type} if content_type else {})}
    assert_core_error(client.post("/v1/traces", content=content, headers=headers), status)
    assert queue_depth() == 0, what


def test_missing_or_bad_token_is_401_before_any_write(client: httpx.Client, tenant: dict[str, Any]) -> None:
    drain_ingest()
    body = _json_logs([{"timeUnixNano": str(NOW_NS), "body": {"stringValue": "x"}}])
    assert_core_error(client.post("/v1/logs", json=body), 401)
    assert_core_error(client.post("/v1/logs", json=body, headers=bearer("mtk_abcdefghij_" + "x" * 40)), 401)
    viewer_token = client.post(
        "/api/v1/tokens", json={"name": "v", "role": "viewer"}, headers=tenant["admin"].headers
    ).json()["token"]
    assert_core_error(client.post("/v1/logs", json=body, headers=bearer(viewer_token)), 403)
    assert queue_depth() == 0


def test_paused_org_gets_503_while_queries_keep_working(
    client: httpx.Client, tenant: dict[str, Any], root: Session
) -> None:
    client.patch(f"/api/v1/orgs/{tenant['org']}", json={"ingestion_paused": True}, headers=root.headers)
    body = _json_logs([{"timeUnixNano": str(NOW_NS), "body": {"stringValue": "x"}}])
    assert_core_error(client.post("/v1/logs", json=body, headers=bearer(tenant["mtk"])), 503, "ingestion_paused")
    assert client.get("/api/v1/streams", headers=tenant["viewer"].headers).status_code == 200
    client.patch(f"/api/v1/orgs/{tenant['org']}", json={"ingestion_paused": False}, headers=root.headers)


def _all_stored_text() -> str:
    """Everything at rest: every S3 object (Parquet decoded to values) and every DynamoDB item."""
    settings = get_settings()
    s3 = aws.client("s3")
    chunks: list[str] = []
    for logical in ("lake", "blobs", "exports"):
        bucket = settings.resource_name(logical)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                data = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                chunks.append(data.decode("latin-1"))
                if obj["Key"].endswith(".parquet"):
                    # Decoded values too (zstd pages would hide plaintext in the raw bytes); another
                    # test's stray non-Parquet object has only its raw bytes, added above.
                    with suppress(pa.ArrowInvalid, OSError):
                        chunks.append(str(pq.read_table(io.BytesIO(data)).to_pylist()))
    from molesignal.storage.table import Table

    table = Table()
    for page in table.client.get_paginator("scan").paginate(TableName=table.name):
        chunks.append(str(page["Items"]))
    return "\n".join(chunks)


def test_content_is_sealed_at_rest_and_reads_are_restricted_and_audited(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    secret_prompt = f"SECRET-PROMPT-{uuid.uuid4().hex}"
    secret_body = f"SECRET-BODY-{uuid.uuid4().hex}"
    session = f"sess-{uuid.uuid4().hex[:8]}"
    user_attrs = [
        {"key": "session.id", "value": {"stringValue": session}},
        {"key": "user.email", "value": {"stringValue": tenant["alice_email"]}},
    ]
    body = _json_logs(
        [
            {  # Claude Code's prompt event: the prompt is an attribute
                "timeUnixNano": str(NOW_NS),
                "body": {"stringValue": "claude_code.user_prompt"},
                "attributes": [
                    *user_attrs,
                    {"key": "prompt", "value": {"stringValue": secret_prompt}},
                    {"key": "prompt_length", "value": {"intValue": "42"}},
                ],
            },
            {  # a GenAI message event: the message is the log body
                "timeUnixNano": str(NOW_NS + 1000),  # 1 µs later: the lake keeps µs
                "eventName": "gen_ai.user.message",
                "body": {"stringValue": secret_body},
                "attributes": user_attrs,
            },
        ]
    )
    response = client.post("/v1/logs", json=body, headers=bearer(tenant["mtk"]))
    assert response.status_code == 202, response.text
    assert response.json()["counts"]["logEvents"] == 2
    drain_ingest()

    # Usage stays queryable in plaintext; the content is not there
    rows = _sql(
        client,
        tenant["viewer"],
        "SELECT attr_prompt_length, has_content FROM otel_logs WHERE session_id = $1 ORDER BY _timestamp",
        [session],
    )
    assert rows == [[42, True], [None, True]]
    stored = _all_stored_text()
    assert secret_prompt not in stored and secret_body not in stored

    # A viewer who is not the session's user is refused, and the refusal is audited
    url = f"/api/v1/sessions/{session}/content"
    assert_core_error(client.get(url, headers=tenant["viewer"].headers), 403, "PERMISSION_DENIED")
    # The session's own user and an org admin can read it
    for reader in (tenant["alice"], tenant["admin"]):
        read = client.get(url, headers=reader.headers)
        assert read.status_code == 200, read.text
        texts = str(read.json()["records"])
        assert secret_prompt in texts and secret_body in texts
    # Every read is in the audit log
    entries = [
        e
        for e in client.get("/api/v1/audit", headers=tenant["admin"].headers).json()["items"]
        if e["action"] == "content.read"
    ]
    assert [(e["actor"], e["outcome"]) for e in entries] == [
        (tenant["admin"].user, "success"),
        (tenant["alice"].user, "success"),
        (tenant["viewer"].user, "denied"),
    ]
    assert_core_error(client.get("/api/v1/sessions/no-such-session/content", headers=tenant["admin"].headers), 404)


def test_content_past_the_org_window_is_purged_on_schedule(
    client: httpx.Client, tenant: dict[str, Any], root: Session
) -> None:
    from molesignal.lake.retention import Retention, run_retention

    assert (
        client.patch(
            f"/api/v1/orgs/{tenant['org']}", json={"content_retention_days": 60}, headers=root.headers
        ).status_code
        == 200
    )
    day_ns = 86_400 * 10**9
    old_session, new_session = f"old-{uuid.uuid4().hex[:6]}", f"new-{uuid.uuid4().hex[:6]}"

    def prompt_record(session: str, at_ns: int) -> dict[str, Any]:
        return {
            "timeUnixNano": str(at_ns),
            "body": {"stringValue": "claude_code.user_prompt"},
            "attributes": [
                {"key": "session.id", "value": {"stringValue": session}},
                {"key": "prompt", "value": {"stringValue": f"prompt of {session}"}},
            ],
        }

    body = _json_logs([prompt_record(old_session, NOW_NS - 75 * day_ns), prompt_record(new_session, NOW_NS)])
    assert client.post("/v1/logs", json=body, headers=bearer(tenant["mtk"])).status_code == 202
    drain_ingest()
    content_stream = client.get("/api/v1/streams/otel_content", headers=tenant["admin"].headers).json()
    assert content_stream["settings"]["retention_days"] == 60  # the org's content window, not the stream default (30)
    assert client.get(f"/api/v1/sessions/{old_session}/content", headers=tenant["admin"].headers).status_code == 200

    # When the scheduled retention runs (no grace, so the sweep deletes the objects too)
    report = run_retention(Retention(grace_s=0), orgs=[tenant["org"]])
    assert report.files_removed >= 1
    assert report.swept.objects_deleted >= 1
    # Then the old session's content is gone and the recent one is still readable
    assert_core_error(client.get(f"/api/v1/sessions/{old_session}/content", headers=tenant["admin"].headers), 404)
    assert client.get(f"/api/v1/sessions/{new_session}/content", headers=tenant["admin"].headers).status_code == 200
    s3 = aws.client("s3")
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=get_settings().resource_name("lake"), Prefix=f"lake/org={tenant['org']}/stream=otel_content/"
        )
        for o in page.get("Contents", [])
    ]
    old_day = time.strftime("%Y-%m-%d", time.gmtime((NOW_NS - 75 * day_ns) / 1e9))
    assert not [k for k in keys if f"date={old_day}" in k]


def test_an_orgs_own_content_key_list_decides_what_is_sealed(client: httpx.Client, tenant: dict[str, Any]) -> None:
    org_url = f"/api/v1/orgs/{tenant['org']}"
    admin = tenant["admin"]
    shown = client.get(org_url, headers=admin.headers).json()
    assert shown["content_keys_default"] is True
    assert {"prompt", "gen_ai.prompt", "llm.prompts*"} <= set(shown["content_keys"])
    assert shown["content_body_is_content"] is False

    # Bad settings: a key with a space, an empty key, a string instead of a list
    for bad in ({"content_keys": ["has space"]}, {"content_keys": [""]}, {"content_keys": "customer.secret"}):
        assert_core_error(client.patch(org_url, json=bad, headers=admin.headers), 400)
    # An org admin replaces the list (a key and a pattern) and seals every log body
    changed = client.patch(
        org_url,
        json={"content_keys": ["customer.secret", "ticket.*"], "content_body_is_content": True},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["content_keys"] == ["customer.secret", "ticket.*"]
    assert changed.json()["content_keys_default"] is False

    secret, note, body_text = (f"{label}-{uuid.uuid4().hex}" for label in ("CUSTOMER", "TICKET", "PLAINBODY"))
    plain_prompt = f"no-longer-content-{uuid.uuid4().hex}"  # "prompt" is not on this org's list
    session = f"sess-{uuid.uuid4().hex[:8]}"
    records = [
        {
            "timeUnixNano": str(NOW_NS),
            "body": {"stringValue": body_text},
            "attributes": [
                {"key": "session.id", "value": {"stringValue": session}},
                {"key": "customer.secret", "value": {"stringValue": secret}},
                {"key": "ticket.note", "value": {"stringValue": note}},
                {"key": "prompt", "value": {"stringValue": plain_prompt}},
            ],
        }
    ]
    assert client.post("/v1/logs", json=_json_logs(records), headers=bearer(tenant["mtk"])).status_code == 202
    drain_ingest()

    rows = _sql(
        client, admin, "SELECT attr_prompt, has_content, content_fields FROM otel_logs WHERE session_id = $1", [session]
    )
    assert len(rows) == 1
    prompt, has_content, fields = rows[0]
    assert prompt == plain_prompt and has_content is True
    assert {"attr_customer_secret", "attr_ticket_note", "body"} <= set(orjson.loads(fields))
    stored = _all_stored_text()
    assert secret not in stored and note not in stored and body_text not in stored
    read = client.get(f"/api/v1/sessions/{session}/content", headers=admin.headers)
    assert read.status_code == 200, read.text
    texts = str(read.json()["records"])
    assert secret in texts and note in texts and body_text in texts

    # null restores the defaults; the change is audited
    reset = client.patch(org_url, json={"content_keys": None}, headers=admin.headers).json()
    assert reset["content_keys_default"] is True and "prompt" in reset["content_keys"]
    assert reset["content_body_is_content"] is True  # untouched by the reset of the key list
    updates = [
        e for e in client.get("/api/v1/audit", headers=admin.headers).json()["items"] if e["action"] == "org.update"
    ]
    assert len(updates) == 2
