"""Live traces over real HTTP: the internal feed (x-internal-token), SSE with live events and
heartbeats through the local gateway, listing filters, API keys, the org header and limits."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.settings import get_settings, reset_settings
from tests.support.api import Session, assert_core_error, bearer, create_org, create_user
from tests.support.traces import ingest, ndjson, scenario_events, zip_bundle


@pytest.fixture
def internal_headers() -> dict[str, str]:
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=get_settings().resource_name("trace-internal-token")
    )
    return {"x-internal-token": secret["SecretString"]}


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOLESIGNAL_TRACE_SSE_HEARTBEAT_S", "0.3")
    monkeypatch.setenv("MOLESIGNAL_TRACE_SSE_POLL_S", "0.1")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def _reader(base_url: str, path: str, headers: dict[str, str], out: queue.Queue[str | None]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http, http.stream("GET", path, headers=headers) as response:
        out.put(f"status {response.status_code} {response.headers.get('content-type')}")
        buffer = ""
        for text in response.iter_text():
            buffer += text
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                out.put(frame)
    out.put(None)


def _next(out: queue.Queue[str | None], timeout: float = 20) -> str | None:
    return out.get(timeout=timeout)


def test_sse_delivers_live_events_and_heartbeats(
    client: httpx.Client, base_url: str, admin: Session, internal_headers: dict[str, str], fast_heartbeat: None
) -> None:
    opened = client.post(
        "/v1/traces/live", headers=internal_headers, json={"org_id": admin.org_id, "scenario_slug": "live-checkout"}
    )
    assert opened.status_code == 201, opened.text
    trace_id = opened.json()["trace_id"]
    first = [{"kind": "step", "ts": 1_800_000_000_000, "step_id": "s1", "title": "open", "ok": True}]
    assert client.post(f"/v1/traces/{trace_id}/live/events", headers=internal_headers, json=first).status_code == 200

    frames: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(
        target=_reader, args=(base_url, f"/v1/traces/{trace_id}/stream", admin.headers, frames), daemon=True
    )
    reader.start()
    assert _next(frames) == "status 200 text/event-stream; charset=utf-8"
    assert _next(frames) == "retry: 2000"
    backlog = _next(frames)
    assert backlog is not None and json.loads(backlog.removeprefix("data: "))["title"] == "open"
    # Nothing new for a while: a heartbeat comment keeps the connection alive
    assert _next(frames) == ": heartbeat"
    # Events appended now arrive while the stream is open
    later = [
        {"kind": "network.response", "ts": 1_800_000_000_500, "step_id": "s1", "status": 404, "ok": False},
        {"kind": "assertion", "ts": 1_800_000_000_600, "step_id": "s1", "ok": False, "message": "got 404"},
    ]
    started = time.monotonic()
    appended = client.post(
        f"/v1/traces/{trace_id}/live/events",
        headers={**internal_headers, "content-type": "application/x-ndjson"},
        content=ndjson(later),
    )
    assert appended.json() == {"accepted": 2, "event_count": 3}
    seen: list[dict[str, Any]] = []
    while len(seen) < 2:
        frame = _next(frames)
        assert frame is not None
        if frame.startswith("data: "):
            seen.append(json.loads(frame.removeprefix("data: ")))
    assert [e["kind"] for e in seen] == ["network.response", "assertion"] and [e["seq"] for e in seen] == [1, 2]
    assert time.monotonic() - started < 15  # streamed, not buffered until the end
    finished = client.post(f"/v1/traces/{trace_id}/live/finish", headers=internal_headers, json={"status": "failed"})
    assert finished.status_code == 200 and finished.json()["event_count"] == 3
    tail = [f for f in iter(lambda: _next(frames), None) if f != ": heartbeat"]
    assert tail == ['event: end\ndata: {"status":"failed"}']

    detail = client.get(f"/v1/traces/{trace_id}", headers=admin.headers).json()
    assert detail["status"] == "failed" and detail["event_count"] == 3 and detail["signed_urls"]["ndjson"]
    assert detail["first_failure"]["message"] == "got 404"
    # ?live=1 on a finished trace sends no backlog, only the end
    with client.stream("GET", f"/v1/traces/{trace_id}/stream?live=1", headers=admin.headers) as response:
        body = response.read().decode()
    assert "data: {" not in body.split("event: end")[0] and body.endswith('data: {"status":"failed"}\n\n')


def test_the_live_feed_refuses_bad_tokens_and_finished_traces(
    client: httpx.Client, admin: Session, internal_headers: dict[str, str]
) -> None:
    body = {"org_id": admin.org_id, "scenario_slug": "live-x"}
    assert_core_error(client.post("/v1/traces/live", json=body), 401, "missing_internal_token")
    assert_core_error(client.post("/v1/traces/live", json=body, headers={"x-internal-token": "nope"}), 401)
    nowhere = {**body, "org_id": "no-such-org"}
    assert_core_error(client.post("/v1/traces/live", json=nowhere, headers=internal_headers), 400)
    trace_id = client.post("/v1/traces/live", json=body, headers=internal_headers).json()["trace_id"]
    events = f"/v1/traces/{trace_id}/live/events"
    assert_core_error(client.post(events, headers=internal_headers, json=[{"ts": 1}]), 400, "invalid_events")
    assert_core_error(client.post(events, headers=internal_headers, json={"kind": "x"}), 400)
    assert_core_error(client.post(events, headers=internal_headers, content=b"["), 415)
    finish = f"/v1/traces/{trace_id}/live/finish"
    assert_core_error(client.post(finish, headers=internal_headers, json={"status": "running"}), 400)
    assert client.post(finish, headers=internal_headers, json={"status": "passed"}).status_code == 200
    assert_core_error(
        client.post(events, headers=internal_headers, json=[{"kind": "x", "ts": 1}]), 409, "trace_not_running"
    )


def test_listing_filters_and_pages(client: httpx.Client, admin: Session, root: Session) -> None:
    org = create_org(client, root)
    editor = create_user(client, root, "editor", org_id=org)
    made: dict[str, str] = {}
    for name, status, source in (("a", "passed", "pr"), ("b", "failed", "schedule"), ("c", "failed", "pr")):
        summary = json.dumps({"status": status, "failure_signature": f"sig-{status}"}).encode()
        bundle = zip_bundle({"summary.json": summary, "events.ndjson": ndjson(scenario_events())})
        made[name] = ingest(client, editor.headers, bundle, scenario_slug=f"flow-{name}", source=source)["trace_id"]

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/traces", params=params, headers=editor.headers)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert ids() == [made["c"], made["b"], made["a"]]
    assert ids(status="failed") == [made["c"], made["b"]]
    assert ids(status="failed", source="pr") == [made["c"]]
    assert ids(signature="sig-passed") == [made["a"]]
    assert ids(tier="hot") == [made["c"], made["b"], made["a"]] and ids(tier="cold") == []
    scenario = client.get(f"/v1/traces/{made['b']}", headers=editor.headers).json()["scenario_id"]
    assert ids(scenario_id=scenario) == [made["b"]]
    assert ids(q="FLOW-A") == [made["a"]] and ids(q="sig-failed flow-c") == [made["c"]]
    assert ids(**{"from": "2100-01-01T00:00:00Z"}) == [] and ids(to="2000-01-01T00:00:00Z") == []
    page = client.get("/v1/traces", params={"limit": 2}, headers=editor.headers).json()
    assert [i["id"] for i in page["items"]] == [made["c"], made["b"]] and page["next_cursor"]
    rest = client.get("/v1/traces", params={"limit": 2, "cursor": page["next_cursor"]}, headers=editor.headers).json()
    assert [i["id"] for i in rest["items"]] == [made["a"]] and rest["next_cursor"] is None
    # bad filters: each a 400 naming the problem
    for params in (
        {"status": "weird"},
        {"tier": "lukewarm"},
        {"limit": 0},
        {"limit": 201},
        {"from": "yesterday"},
        {"from": "2026-01-01T00:00:00"},
        {"cursor": "%%%"},
        {"status": "failed", "cursor": page["next_cursor"]},
    ):
        assert_core_error(client.get("/v1/traces", params=params, headers=editor.headers), 400)


def test_molar_sk_keys_and_the_org_header(client: httpx.Client, admin: Session, root: Session) -> None:
    created = client.post(
        "/api/v1/tokens", headers=admin.headers, json={"name": "ci", "role": "editor", "kind": "molar_sk"}
    )
    assert created.status_code == 201, created.text
    key = created.json()["token"]
    assert key.startswith("molar_sk_")
    bundle = zip_bundle({"events.ndjson": ndjson(scenario_events())})
    trace_id = ingest(client, bearer(key), bundle, scenario_slug="with-key")["trace_id"]
    assert client.get(f"/v1/traces/{trace_id}", headers=bearer(key)).status_code == 200
    # x-molar-org: a non-root caller naming another org is refused; root acts on the org it names
    other = create_org(client, root)
    assert_core_error(client.get("/v1/traces", headers={**admin.headers, "x-molar-org": other}), 403, "cross_org")
    as_admin_org = client.get("/v1/traces", headers={**root.headers, "x-molar-org": admin.org_id}).json()
    assert trace_id in [i["id"] for i in as_admin_org["items"]]
    assert client.get("/v1/traces", headers={**root.headers, "x-molar-org": other}).json()["items"] == []
    # revoked keys stop working at once
    client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=admin.headers)
    assert_core_error(client.get(f"/v1/traces/{trace_id}", headers=bearer(key)), 401, "token_revoked")


def test_rate_limits_answer_429_with_retry_after(
    client: httpx.Client, root: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each class counts on its own: reads (GET), writes (POST) and bundle ingest.
    monkeypatch.setenv("MOLESIGNAL_TRACE_RATE_GET_PER_MIN", "3")
    monkeypatch.setenv("MOLESIGNAL_TRACE_RATE_POST_PER_MIN", "2")
    monkeypatch.setenv("MOLESIGNAL_TRACE_RATE_INGEST_PER_MIN", "2")
    reset_settings()
    bundle = zip_bundle({"events.ndjson": ndjson(scenario_events())})
    files = {"bundle": ("bundle.zip", bundle)}
    try:
        editor = create_user(client, root, "editor", org_id=create_org(client, root))
        ingests = [
            client.post("/v1/traces/ingest", headers=editor.headers, files=files, data={"scenario_slug": "rl"})
            for _ in range(5)
        ]
        trace_id = next(a for a in ingests if a.status_code == 201).json()["trace_id"]
        pins = [client.post(f"/v1/traces/{trace_id}/pin", headers=editor.headers) for _ in range(5)]
        reads = [client.get("/v1/traces", headers=editor.headers) for _ in range(8)]
    finally:
        monkeypatch.undo()
        reset_settings()
    # N per minute: a minute boundary in the middle may let N more through, never more
    for answers, ok, limit in ((ingests, 201, 2), (pins, 200, 2), (reads, 200, 3)):
        statuses = [a.status_code for a in answers]
        limited = [a for a in answers if a.status_code == 429]
        assert limit <= statuses.count(ok) <= 2 * limit and limited, statuses
        assert statuses.count(ok) + len(limited) == len(answers), statuses
        assert_core_error(limited[0], 429, "trace_rate_limited")
        assert 1 <= int(limited[0].headers["retry-after"]) <= 60


def test_the_openapi_document_tags_the_family_trace(client: httpx.Client) -> None:
    import registry

    document = client.get("/openapi.json").json()
    function = next(f for f in registry.REGISTRY.http if f.name == "traces_api")
    for route in function.routes:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["tags"] == ["trace"], route.key
    # POST /v1/traces stays the OTLP receiver, beside the trace family's GET
    assert set(document["paths"]["/v1/traces"]) == {"get", "post"}
    assert document["paths"]["/v1/traces"]["post"]["tags"] == ["otlp"]
