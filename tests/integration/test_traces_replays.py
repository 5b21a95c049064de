"""Layer 2 replays over real HTTP: a local runner receives the signed job and uploads its
bundle; statuses, listing, the per-org limit, 409 on a non-hot trace, refusals."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

import registry
from molesignal.local.pollers import QueuePoller
from molesignal.settings import reset_settings
from molesignal.storage.table import Table
from molesignal.traces.repository import trace_key
from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_org, create_user
from tests.support.traces import ingest, ndjson, scenario_events, zip_bundle

REPLAY_WORKER = next(w for w in registry.REGISTRY.workers if w.name == "replay_worker")


def drain_replays() -> int:
    poller = QueuePoller(REPLAY_WORKER, wait_seconds=0)
    handled = 0
    while (got := poller.poll_once()) > 0:
        handled += got
    return handled


@contextmanager
def local_runner(answer: int = 202) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP runner on loopback that records each job with its headers and answers ``answer``."""
    received: list[dict[str, Any]] = []

    class Runner(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append({"body": body, "headers": {k.lower(): v for k, v in self.headers.items()}})
            self.send_response(answer)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runner)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/replay", received
    finally:
        server.shutdown()
        server.server_close()


def _verify(secret: str, job: dict[str, Any]) -> dict[str, Any]:
    signature = dict(part.split("=", 1) for part in job["headers"]["x-molesignal-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{signature['t']}.".encode() + job["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, signature["v1"])
    return dict(json.loads(job["body"]))


def test_a_local_runner_receives_a_replay_and_uploads_its_bundle(client: httpx.Client, root: Session) -> None:
    admin = create_user(client, root, "admin", org_id=create_org(client, root))
    source = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events(fail_at=3))}))
    trace_id = source["trace_id"]
    with local_runner() as (url, received):
        configured = client.put("/v1/replays/runner", headers=admin.headers, json={"url": url})
        assert configured.status_code == 200, configured.text
        secret = configured.json()["secret"]
        assert client.get("/v1/replays/runner", headers=admin.headers).json()["secret"] is None

        edits = {"scenario_diff": "- click pay\n+ click pay twice", "source_diffs": [{"path": "cart.ts", "diff": "+x"}]}
        queued = client.post(
            f"/v1/traces/{trace_id}/replay", headers=admin.headers, json={"from_step": 2, "edits": edits}
        )
        assert queued.status_code == 202, queued.text
        replay = queued.json()
        assert replay["status"] == "queued" and replay["from_step"] == 2 and replay["triggered_via"] == "api"
        assert replay["replay_trace_id"] is None

        assert drain_replays() == 1
        assert len(received) == 1
        job = _verify(secret, received[0])
        assert job["replay_id"] == replay["id"] and job["trace_id"] == trace_id and job["from_step"] == 2
        assert job["edits"]["source_diffs"] == [{"path": "cart.ts", "diff": "+x"}]
        assert job["upload"]["url"].endswith("/v1/traces/ingest")
        running = client.get(f"/v1/replays/{replay['id']}", headers=admin.headers).json()
        assert running["status"] == "running"

        # The runner replays and uploads the resulting bundle with its own key
        key = create_api_token(client, admin, "ingest")
        fields = job["upload"]["fields"]
        uploaded = ingest(client, bearer(key), zip_bundle({"events.ndjson": ndjson(scenario_events())}), **fields)
    done = client.get(f"/v1/replays/{replay['id']}", headers=admin.headers).json()
    assert done["status"] == "succeeded" and done["replay_trace_id"] == uploaded["trace_id"]
    child = client.get(f"/v1/traces/{uploaded['trace_id']}", headers=admin.headers).json()
    assert child["parent_trace_id"] == trace_id and child["replay_from_step"] == 2
    listed = client.get(f"/v1/traces/{trace_id}/replays", headers=admin.headers).json()["items"]
    assert [r["id"] for r in listed] == [replay["id"]]
    # the replay's bundle cannot be uploaded twice
    again = client.post(
        "/v1/traces/ingest",
        headers=bearer(key),
        files={"bundle": ("b.zip", zip_bundle({"events.ndjson": ndjson(scenario_events())}))},
        data={k: str(v) for k, v in fields.items()},
    )
    assert_core_error(again, 409, "replay_finished")
    # another org sees nothing of it
    outsider = create_user(client, root, "admin", org_id=create_org(client, root))
    assert_core_error(client.get(f"/v1/replays/{replay['id']}", headers=outsider.headers), 403, "cross_org")


def test_a_runner_that_refuses_fails_the_replay(client: httpx.Client, root: Session) -> None:
    admin = create_user(client, root, "admin", org_id=create_org(client, root))
    trace_id = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["trace_id"]
    # no runner configured: the replay fails with the reason
    first = client.post(f"/v1/traces/{trace_id}/replay", headers=admin.headers, json={}).json()
    drain_replays()
    failed = client.get(f"/v1/replays/{first['id']}", headers=admin.headers).json()
    assert failed["status"] == "failed" and "no replay runner" in failed["error"]
    with local_runner(answer=403) as (url, received):
        client.put("/v1/replays/runner", headers=admin.headers, json={"url": url})
        second = client.post(f"/v1/traces/{trace_id}/replay", headers=admin.headers, json={"from_step": 1}).json()
        drain_replays()
    assert len(received) == 1
    refused = client.get(f"/v1/replays/{second['id']}", headers=admin.headers).json()
    assert refused["status"] == "failed" and "403" in refused["error"]


def test_a_replay_whose_bundle_never_arrives_fails_and_frees_its_slot(
    client: httpx.Client, root: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner accepts the job (202) but never uploads; the upload deadline here is 1 s.
    monkeypatch.setenv("MOLESIGNAL_REPLAY_UPLOAD_TIMEOUT_S", "1")
    monkeypatch.setenv("MOLESIGNAL_REPLAY_MAX_CONCURRENT", "1")
    reset_settings()
    try:
        admin = create_user(client, root, "admin", org_id=create_org(client, root))
        trace_id = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["trace_id"]
        path = f"/v1/traces/{trace_id}/replay"
        with local_runner() as (url, received):
            client.put("/v1/replays/runner", headers=admin.headers, json={"url": url})
            replay = client.post(path, headers=admin.headers, json={"from_step": 1}).json()
            drain_replays()
            assert len(received) == 1
            assert client.get(f"/v1/replays/{replay['id']}", headers=admin.headers).json()["status"] == "running"
            assert_core_error(client.post(path, headers=admin.headers, json={}), 429, "replay_concurrency")
            deadline = time.monotonic() + 30
            while (status := client.get(f"/v1/replays/{replay['id']}", headers=admin.headers).json())[
                "status"
            ] == "running" and time.monotonic() < deadline:
                time.sleep(0.5)
                drain_replays()  # the deadline check is a delayed message on the replays queue
            assert status["status"] == "failed", status
            assert "no bundle within 1 s" in status["error"]
            # its slot is free again, and a late upload for it is refused
            assert client.post(path, headers=admin.headers, json={}).status_code == 202
            late = client.post(
                "/v1/traces/ingest",
                headers=admin.headers,
                files={"bundle": ("b.zip", zip_bundle({"events.ndjson": ndjson(scenario_events())}))},
                data={"parent_trace_id": trace_id, "replay_id": replay["id"], "scenario_slug": "checkout"},
            )
            assert_core_error(late, 409, "replay_finished")
            drain_replays()
    finally:
        monkeypatch.undo()
        reset_settings()


def test_replay_limits_and_refusals(client: httpx.Client, root: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = create_user(client, root, "admin", org_id=create_org(client, root))
    viewer = create_user(client, root, "viewer", org_id=admin.org_id)
    trace_id = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["trace_id"]
    path = f"/v1/traces/{trace_id}/replay"
    assert_core_error(client.post(path, headers=viewer.headers, json={}), 403)
    assert_core_error(client.post(path, headers=admin.headers, json={"from_step": 999}), 400)
    assert_core_error(client.post(path, headers=admin.headers, json={"from_step": -1}), 400)
    assert_core_error(client.put("/v1/replays/runner", headers=admin.headers, json={"url": "ftp://x"}), 400)
    assert_core_error(
        client.put("/v1/replays/runner", headers=admin.headers, json={"url": "http://runner.example.com/x"}), 400
    )
    editor = create_user(client, root, "editor", org_id=admin.org_id)
    assert_core_error(
        client.put("/v1/replays/runner", headers=editor.headers, json={"url": "https://ci.example.com"}), 403
    )
    assert_core_error(client.get("/v1/replays/runner", headers=admin.headers), 404)
    # at most 10 queued or running per org: the 11th is 429
    answers = [client.post(path, headers=admin.headers, json={}) for _ in range(11)]
    assert [a.status_code for a in answers] == [202] * 10 + [429]
    assert_core_error(answers[-1], 429, "replay_concurrency")
    assert int(answers[-1].headers["retry-after"]) > 0
    drain_replays()  # no runner: all ten fail, which frees the slots
    assert client.post(path, headers=admin.headers, json={}).status_code == 202
    # a trace that is not hot cannot be replayed
    Table().update(*trace_key(trace_id), "SET tier = :t", values={":t": "warm"})
    assert_core_error(client.post(path, headers=admin.headers, json={}), 409, "trace_not_hot")
    drain_replays()
    reset_settings()
