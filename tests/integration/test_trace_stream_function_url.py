"""The deployed shape of the SSE route: ``functions/stream_server.sh`` (what the Lambda Web
Adapter runs behind the function URL) started as a process, answering over real HTTP with no
gateway and no authorizer in front: it authenticates the bearer itself, answers only the
streaming routes, and refuses in the trace family's envelope."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from molesignal.web.function_url import url_source_ip
from tests.support.api import Session, assert_core_error, create_org, create_user
from tests.support.traces import ingest, ndjson, scenario_events, zip_bundle

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def stream_url(system: object) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "LAMBDA_TASK_ROOT": str(REPO / "functions"),
        "PYTHONPATH": str(REPO / "layers" / "core" / "python"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MOLESIGNAL_STREAM_FUNCTION": "traces_api",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(["sh", str(REPO / "functions" / "stream_server.sh")], env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/", timeout=2)  # what the adapter's readiness check does
                break
            except httpx.TransportError:
                assert process.poll() is None, "the stream server exited"
                assert time.monotonic() < deadline, "the stream server did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_function_url_streams_a_trace_to_its_org_and_refuses_everyone_else(
    client: httpx.Client, root: Session, admin: Session, stream_url: str
) -> None:
    bundle = zip_bundle({"events.ndjson": ndjson(scenario_events())})
    trace_id = ingest(client, admin.headers, bundle, scenario_slug="stream-url")["trace_id"]
    path = f"/v1/traces/{trace_id}/stream"
    with httpx.Client(base_url=stream_url, timeout=30) as url:
        # The org's reader gets the events as SSE and the end frame of a finished trace
        with url.stream("GET", path, headers=admin.headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            body = response.read().decode()
        frames = body.strip().split("\n\n")
        assert frames[0] == "retry: 2000"
        events = [json.loads(f.removeprefix("data: ")) for f in frames if f.startswith("data: {")]
        assert events and events[0]["seq"] == 0
        assert frames[-1] == 'event: end\ndata: {"status":"passed"}'
        # Bad input: no Authorization header → 401 in the trace family's envelope
        assert_core_error(url.get(path), 401, "missing_token")
        # Bad input: a bearer that is no token → 401
        assert_core_error(url.get(path, headers={"Authorization": "Bearer nope"}), 401)
        # Bad input: Basic is for the ingest protocols only → 401
        assert_core_error(url.get(path, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
        # Another org's admin → 403 cross-org, as through API Gateway
        outsider = create_user(client, root, "admin", org_id=create_org(client, root))
        assert_core_error(url.get(path, headers=outsider.headers), 403)
        # A route that does not stream is not served here (API Gateway serves it) → 404
        assert url.get("/v1/traces", headers=admin.headers).status_code == 404
        assert url.get(f"/v1/traces/{trace_id}", headers=admin.headers).status_code == 404


def test_the_callers_address_is_the_one_the_function_url_saw() -> None:
    seen = json.dumps({"http": {"sourceIp": "203.0.113.9"}})
    assert url_source_ip({"x-amzn-request-context": seen}, "127.0.0.1") == "203.0.113.9"
    # Bad input: no header, a header that is not JSON, or one without the address → the peer
    assert url_source_ip({}, "127.0.0.1") == "127.0.0.1"
    assert url_source_ip({"x-amzn-request-context": "{"}, "127.0.0.1") == "127.0.0.1"
    assert url_source_ip({"x-amzn-request-context": '{"http": {}}'}, "10.0.0.1") == "10.0.0.1"
