"""What docs/api.md says, checked over HTTP: text/plain ingest, both OTLP token prefixes,
the span duration columns, the role check before body validation on quotas, correlation
without sealed content rows, and revoking a revoked token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import Session, assert_core_error, bearer, create_user, unique
from tests.support.clients import new_ingest_tenant
from tests.support.lake import drain_ingest, landed_rows
from tests.support.otlp import json_span, json_traces

T0_NS = 1_800_000_000_000_000_000


@pytest.fixture(scope="module")
def tenant(base_url: str) -> dict[str, Any]:
    return new_ingest_tenant(base_url)


def test_text_plain_is_taken_as_json_or_ndjson(client: httpx.Client, tenant: dict[str, Any]) -> None:
    # navigator.sendBeacon and many shell shippers send text/plain; it is read as JSON/NDJSON.
    stream = unique("plain")
    headers = {**bearer(tenant["token"]), "content-type": "text/plain;charset=UTF-8"}
    response = client.post(f"/api/v1/ingest/{stream}", content=b'{"a": 1}\n{"a": 2}\n', headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    # other media types are refused with 415, before anything is enqueued
    html = {**bearer(tenant["token"]), "content-type": "text/html"}
    assert_core_error(
        client.post(f"/api/v1/ingest/{stream}", content=b'{"a": 3}', headers=html), 415, "unsupported_media_type"
    )
    drain_ingest()
    assert sorted(r["a"] for r in landed_rows(tenant["org"], stream)) == [1, 2]


def _otlp_span(session: str, **attributes: str) -> dict[str, Any]:
    return json_traces(json_span("llm.call", T0_NS, 2_500_000, **{"session.id": session, **attributes}))


@pytest.mark.parametrize("kind", ["ms", "mtk"])
def test_otlp_takes_both_token_prefixes(client: httpx.Client, tenant: dict[str, Any], kind: str) -> None:
    made = client.post(
        "/api/v1/tokens", json={"name": unique("otel"), "role": "ingest", "kind": kind}, headers=tenant["admin"].headers
    )
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith(f"{kind}_")
    response = client.post("/v1/traces", json=_otlp_span(unique("s")), headers=bearer(token))
    assert response.status_code == 202, response.text
    drain_ingest()


def test_spans_carry_duration_ns_and_duration_ms(client: httpx.Client, tenant: dict[str, Any]) -> None:
    session = unique("dur")
    assert client.post("/v1/traces", json=_otlp_span(session), headers=bearer(tenant["token"])).status_code == 202
    drain_ingest()
    row = next(r for r in landed_rows(tenant["org"], "otel_spans") if r.get("session_id") == session)
    assert (row["duration_ns"], row["duration_ms"]) == (2_500_000, 2.5)
    assert "duration_us" not in row


def test_an_admins_partial_quota_put_is_403_before_body_validation(
    client: httpx.Client, tenant: dict[str, Any], root: Session
) -> None:
    admin = tenant["admin"]
    partial = {"ingest_qps": 5}  # incomplete: a 400 for root, but an admin may not PUT quotas at all
    refused = client.put(f"/api/v1/orgs/{tenant['org']}/quotas", json=partial, headers=admin.headers)
    assert_core_error(refused, 403, "forbidden")
    invalid = client.put(f"/api/v1/orgs/{tenant['org']}/quotas", json=partial, headers=root.headers)
    assert_core_error(invalid, 400, "invalid_argument")


def test_correlation_by_session_never_returns_sealed_content_rows(client: httpx.Client, tenant: dict[str, Any]) -> None:
    session = unique("sealed")
    body = _otlp_span(session, prompt="the secret prompt")
    assert client.post("/v1/traces", json=body, headers=bearer(tenant["token"])).status_code == 202
    drain_ingest()
    assert any(r.get("session_id") == session for r in landed_rows(tenant["org"], "otel_content"))
    viewer = create_user(client, tenant["admin"], "viewer")
    for who in (viewer, tenant["admin"]):
        answer = client.get(
            "/api/v1/correlate",
            params={"session_id": session, "start": 0, "end": T0_NS // 1000 + 10**9},
            headers=who.headers,
        )
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [i["_stream"] for i in items] == ["otel_spans"]
        assert items[0]["has_content"] is True
        assert "the secret prompt" not in answer.text and "sealed" not in items[0]


def test_revoking_a_revoked_token_is_idempotent_and_audited_once(client: httpx.Client, tenant: dict[str, Any]) -> None:
    admin = tenant["admin"]
    made = client.post("/api/v1/tokens", json={"name": unique("gone"), "role": "ingest"}, headers=admin.headers)
    token_id = made.json()["id"]
    first = client.delete(f"/api/v1/tokens/{token_id}", headers=admin.headers)
    second = client.delete(f"/api/v1/tokens/{token_id}", headers=admin.headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["revoked"] is second.json()["revoked"] is True
    audit = client.get("/api/v1/audit", params={"limit": 100}, headers=admin.headers).json()["items"]
    revocations = [e for e in audit if e["action"] == "token.revoke" and e["target"] == token_id]
    assert len(revocations) == 1
    assert_core_error(client.post("/api/v1/ingest/x", json=[{}], headers=bearer(made.json()["token"])), 401)


def test_refusals_name_roles_with_the_right_article(client: httpx.Client, tenant: dict[str, Any]) -> None:
    refused = client.post(
        "/api/v1/query",
        json={"sql": "SELECT 1", "time_range": {"start": 0, "end": 1}},
        headers=bearer(tenant["token"]),
    )
    assert refused.status_code == 403, refused.text
    assert "an ingest credential cannot query" in refused.json()["error"]
    editor = create_user(client, tenant["admin"], "editor")
    too_high = client.post("/api/v1/tokens", json={"name": unique("t"), "role": "admin"}, headers=editor.headers)
    assert_core_error(too_high, 403, "forbidden")
    assert "an editor cannot create an admin token" in too_high.json()["error"]
