"""`make dev` keeps its data: the real ``python -m molesignal dev`` in a process group of its
own, on a data directory of its own, killed with ``kill -9`` (or stopped with Ctrl-C) and
started again. Users, tokens (API, access and refresh), org and stream settings, sealed
OTLP content (its KMS key and the JWT secret) and every row whose ingest was answered 202
are there afterwards; a row in flight at the kill may land after the restart, never twice."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, Session, bearer, ensure_setup, login
from tests.support.dev import Dev

STREAM = "durable"
CLEAN_STOP_S = 10


def _sql(client: httpx.Client, token: str, sql: str) -> list[list[Any]]:
    response = client.post("/v1/api/sql", json={"sql": sql, "params": []}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return list(response.json()["results"][0]["rows"])


def _landed(client: httpx.Client, token: str) -> list[str]:
    return [str(row[0]) for row in _sql(client, token, f"SELECT rid FROM {STREAM}")]


def _wait_for_rows(client: httpx.Client, token: str, expected: set[str], timeout_s: float = 120) -> list[str]:
    """Every expected row id has landed (and whatever else landed with them)."""
    deadline = time.monotonic() + timeout_s
    landed: list[str] = []
    while time.monotonic() < deadline:
        response = client.post(
            "/v1/api/sql", json={"sql": f"SELECT rid FROM {STREAM}", "params": []}, headers=bearer(token)
        )
        if response.status_code == 200:
            landed = [str(row[0]) for row in response.json()["results"][0]["rows"]]
            if expected <= set(landed):
                return landed
        time.sleep(1)
    missing = sorted(expected - set(landed))
    raise AssertionError(f"{len(missing)} acknowledged rows never landed, e.g. {missing[:5]}")


class Sender:
    """Ingests 50-row requests until stopped; keeps the row ids of every request answered 202
    (acknowledged) and of every request sent at all."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.acknowledged: set[str] = set()
        self.sent: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, *, until_acknowledged: int) -> None:
        self._thread.start()
        deadline = time.monotonic() + 60
        while len(self.acknowledged) < until_acknowledged and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acknowledged) >= until_acknowledged, "the sender got too few 202s"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            batch = 0
            while not self._stop.is_set():
                rows = [f"b{batch}-{i}" for i in range(50)]
                self.sent.update(rows)
                try:
                    response = client.post(
                        f"/api/v1/ingest/{STREAM}", json=[{"rid": r} for r in rows], headers=bearer(self.token)
                    )
                except httpx.HTTPError:
                    return  # the server is gone: this request's fate is unknown
                if response.status_code == 202:
                    self.acknowledged.update(rows)
                batch += 1


def _no_duplicates(landed: list[str]) -> None:
    repeated = sorted({r for r in landed if landed.count(r) > 1})
    assert repeated == [], f"rows landed twice: {repeated[:5]}"


def test_kill_minus_9_of_the_process_group_loses_nothing_acknowledged(dev: Dev) -> None:
    dev.start()
    client = httpx.Client(base_url=dev.url, timeout=30)
    # Given an installation with users, tokens, org and stream settings, rows and sealed content
    ensure_setup(client)
    admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
    renamed = client.patch(
        f"/api/v1/orgs/{admin.org_id}", json={"name": "Kept Org", "content_retention_days": 30}, headers=admin.headers
    )
    assert renamed.status_code == 200, renamed.text
    tokens = {}
    for role in ("ingest", "viewer"):
        created = client.post("/api/v1/tokens", json={"name": f"dur-{role}", "role": role}, headers=admin.headers)
        assert created.status_code == 201, created.text
        tokens[role] = created.json()["token"]
    mtk = client.post("/api/v1/tokens", json={"name": "otel", "role": "ingest", "kind": "mtk"}, headers=admin.headers)
    assert mtk.status_code == 201, mtk.text
    first = [f"a-{i}" for i in range(200)]
    answer = client.post(f"/api/v1/ingest/{STREAM}", json=[{"rid": r} for r in first], headers=bearer(tokens["ingest"]))
    assert answer.status_code == 202, answer.text
    _wait_for_rows(client, tokens["viewer"], set(first))
    kept_stream = client.patch(f"/api/v1/streams/{STREAM}", json={"retention_days": 9}, headers=admin.headers)
    assert kept_stream.status_code == 200, kept_stream.text
    session, secret = f"sess-{uuid.uuid4().hex[:8]}", f"SECRET-{uuid.uuid4().hex}"
    otlp = client.post("/v1/logs", json=_prompt_log(session, secret), headers=bearer(mtk.json()["token"]))
    assert otlp.status_code == 202, otlp.text
    _wait_for_content(client, admin, session, secret)

    # When rows are being ingested and the whole process group is killed
    sender = Sender(dev.url, tokens["ingest"])
    sender.start(until_acknowledged=500)
    dev.kill_group()
    sender.stop()
    dev.start()

    # Then the users, their sessions and the tokens work as before
    assert client.get("/api/v1/auth/me", headers=admin.headers).status_code == 200  # the JWT secret is the same
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    again = login(client, ADMIN_USER, ADMIN_PASSWORD)
    org = client.get(f"/api/v1/orgs/{admin.org_id}", headers=again.headers).json()
    assert (org["name"], org["content_retention_days"]) == ("Kept Org", 30)
    stream = client.get(f"/api/v1/streams/{STREAM}", headers=bearer(tokens["viewer"])).json()
    assert stream["settings"]["retention_days"] == 9
    # and every acknowledged row is there exactly once (in-flight ones at most once)
    landed = _wait_for_rows(client, tokens["viewer"], set(first) | sender.acknowledged)
    assert set(landed) <= set(first) | sender.sent
    _no_duplicates(landed)
    # and sealed content is still readable (its KMS key survived)
    _wait_for_content(client, again, session, secret)
    assert (
        client.post(f"/api/v1/ingest/{STREAM}", json=[{"rid": "after"}], headers=bearer(tokens["ingest"])).status_code
        == 202
    )
    _no_duplicates(_wait_for_rows(client, tokens["viewer"], {"after"}))


def test_ctrl_c_stops_within_10_s_under_load_and_a_restart_has_everything(dev: Dev) -> None:
    dev.start()
    client = httpx.Client(base_url=dev.url, timeout=30)
    ensure_setup(client)
    admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
    created = client.post("/api/v1/tokens", json={"name": "dur", "role": "editor"}, headers=admin.headers)
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    sender = Sender(dev.url, token)
    sender.start(until_acknowledged=300)

    # When Ctrl-C reaches the process group while clients are sending
    took = dev.interrupt()
    sender.stop()

    # Then it has stopped within 10 s, and said so
    assert took < CLEAN_STOP_S, f"stopping took {took:.1f} s"
    assert dev.process is not None and dev.process.returncode == 0
    # ... and so has its AWS emulator, a child process in its group (ADR 0023)
    assert dev.left_in_group() == []
    log = dev.log.read_text()
    assert "Stopped." in log
    assert f"POST /api/v1/ingest/{STREAM} 202 " in log  # one line per request: method, path, status, ms
    dev.start()
    assert login(client, ADMIN_USER, ADMIN_PASSWORD).org_id == admin.org_id
    landed = _wait_for_rows(client, token, sender.acknowledged)
    _no_duplicates(landed)


def _prompt_log(session: str, secret: str) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(time.time_ns()),
                                "body": {"stringValue": "claude_code.user_prompt"},
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": session}},
                                    {"key": "prompt", "value": {"stringValue": secret}},
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }


def _wait_for_content(client: httpx.Client, admin: Session, session: str, secret: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        read = client.get(f"/api/v1/sessions/{session}/content", headers=admin.headers)
        if read.status_code == 200:
            assert secret in str(read.json()["records"])
            return
        assert read.status_code == 404, read.text  # not landed yet
        time.sleep(1)
    raise AssertionError("the sealed content never became readable")
