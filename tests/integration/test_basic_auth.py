"""HTTP Basic with an API token as the password, on the ingest protocols (ES, Loki,
Prometheus, OTLP, native JSON), as Grafana Cloud and OpenObserve accept it: shippers such as
rsyslog's omelasticsearch and python-logging-loki speak nothing else. The user name is not
checked; a login password is never accepted; other routes keep refusing Basic."""

from __future__ import annotations

import base64
import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import cramjam
import httpx
import pytest

from molesignal.ingest.proto import prometheus_remote_pb2 as prom
from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, assert_core_error, bearer, unique
from tests.support.clients import new_ingest_tenant
from tests.support.lake import drain_ingest, landed_rows

T0_NS = 1_800_000_000_000_000_000


@pytest.fixture(scope="module")
def tenant(base_url: str) -> dict[str, Any]:
    return new_ingest_tenant(base_url)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _remote_write_body() -> bytes:
    request = prom.WriteRequest()
    series = request.timeseries.add()
    series.labels.add(name="__name__", value="up")
    series.labels.add(name="job", value="basic")
    series.samples.add(value=1.0, timestamp=T0_NS // 1_000_000)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def _otlp_logs() -> dict[str, Any]:
    record = {"timeUnixNano": str(T0_NS), "body": {"stringValue": "over basic"}}
    return {"resourceLogs": [{"resource": {}, "scopeLogs": [{"scope": {}, "logRecords": [record]}]}]}


def _requests(stream: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """One request per ingest protocol: (method, path, httpx keyword arguments)."""
    return {
        "native JSON": ("POST", f"/api/v1/ingest/{stream}", {"json": [{"msg": "over basic"}]}),
        "Elasticsearch _bulk": (
            "POST",
            "/api/v1/es/_bulk",
            {
                "content": f'{{"index": {{"_index": "{stream}"}}}}\n{{"msg": "over basic"}}\n',
                "headers": {"content-type": "application/x-ndjson"},
            },
        ),
        "Loki push": (
            "POST",
            f"/api/v1/loki/api/v1/push?stream={stream}",
            {"json": {"streams": [{"stream": {"job": "basic"}, "values": [[str(T0_NS), "over basic"]]}]}},
        ),
        "Prometheus remote_write": (
            "POST",
            f"/api/v1/prometheus/api/v1/write?stream={stream}",
            {
                "content": _remote_write_body(),
                "headers": {"content-type": "application/x-protobuf", "content-encoding": "snappy"},
            },
        ),
        "OTLP": ("POST", "/v1/logs", {"json": _otlp_logs()}),
    }


@pytest.mark.parametrize(
    "protocol", ["native JSON", "Elasticsearch _bulk", "Loki push", "Prometheus remote_write", "OTLP"]
)
def test_basic_with_a_token_is_accepted_on_every_ingest_protocol(
    client: httpx.Client, tenant: dict[str, Any], protocol: str
) -> None:
    stream = unique("basic").replace("-", "_")
    method, path, kwargs = _requests(stream)[protocol]
    headers = {**kwargs.pop("headers", {}), **basic("any-user-name", tenant["token"])}
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code in (200, 202, 204), response.text
    drain_ingest()
    landed = landed_rows(tenant["org"], "otel_logs" if protocol == "OTLP" else stream)
    assert any("over basic" in str(row.values()) or row.get("metric") == "up" for row in landed), landed


@pytest.mark.parametrize("user", ["", "molesignal", "someone@example.com"])
def test_the_user_name_is_not_checked(client: httpx.Client, tenant: dict[str, Any], user: str) -> None:
    response = client.post("/api/v1/ingest/anyuser", json=[{"a": 1}], headers=basic(user, tenant["token"]))
    assert response.status_code == 202, response.text


def test_an_mtk_ingest_token_works_over_basic_on_otlp(client: httpx.Client, tenant: dict[str, Any]) -> None:
    admin = tenant["admin"]
    made = client.post("/api/v1/tokens", json={"name": "otel", "role": "ingest", "kind": "mtk"}, headers=admin.headers)
    assert made.status_code == 201, made.text
    response = client.post("/v1/logs", json=_otlp_logs(), headers=basic("org", made.json()["token"]))
    assert response.status_code == 202, response.text


def test_a_login_password_is_refused_over_basic(client: httpx.Client, tenant: dict[str, Any]) -> None:
    refused = client.post("/api/v1/ingest/pw", json=[{"a": 1}], headers=basic(ADMIN_USER, ADMIN_PASSWORD))
    assert_core_error(refused, 401, "invalid_token")
    assert "API token" in refused.json()["error"]


@pytest.mark.parametrize(
    ("what", "header"),
    [
        ("not base64", "Basic %%%"),
        ("no colon", "Basic " + base64.b64encode(b"just-a-token").decode()),
        ("a revoked-looking token", "Basic " + base64.b64encode(b"u:ms_abcdefghij_" + b"x" * 40).decode()),
    ],
)
def test_malformed_or_unknown_basic_credentials_are_401(client: httpx.Client, what: str, header: str) -> None:
    response = client.post("/api/v1/ingest/bad", json=[{"a": 1}], headers={"Authorization": header})
    assert_core_error(response, 401, "invalid_token")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/streams"), ("GET", "/api/v1/tokens")]
)
def test_basic_is_refused_outside_the_ingest_protocols(
    client: httpx.Client, tenant: dict[str, Any], method: str, path: str
) -> None:
    response = client.request(method, path, headers=basic("u", tenant["token"]))
    assert_core_error(response, 401, "invalid_scheme")
    # the same token as a bearer is accepted there
    assert client.request(method, path, headers=bearer(tenant["token"])).status_code != 401


def test_python_logging_loki_with_basic_auth(base_url: str, tenant: dict[str, Any]) -> None:
    import logging_loki

    stream = unique("pyloki").replace("-", "_")
    handler = logging_loki.LokiHandler(
        url=f"{base_url}/api/v1/loki/api/v1/push?stream={stream}",
        tags={"app": "billing"},
        auth=("molesignal", tenant["token"]),  # what its README shows: a (user, password) tuple
        version="1",
    )
    failures: list[str] = []
    handler.handleError = lambda record: failures.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(unique("loki-basic"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for i in range(3):
        logger.error("invoice %s failed", i)
    assert failures == []
    drain_ingest()
    assert [r["message"] for r in landed_rows(tenant["org"], stream)] == [f"invoice {i} failed" for i in range(3)]


# --- rsyslog omelasticsearch -------------------------------------------------
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
OMELASTICSEARCH = Path("/usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rsyslog_config(work: Path, port: int, base_url: str, index: str, token: str) -> str:
    # Only a URL and a credential: omelasticsearch's uid/pwd are sent as HTTP Basic.
    return f"""
global(workDirectory="{work}")
module(load="imtcp")
module(load="omelasticsearch")
template(name="doc" type="string"
         string="{{\\"message\\":\\"%msg:2:$:json%\\",\\"app\\":\\"%programname:::json%\\",\\"severity\\":\\"%syslogseverity-text%\\"}}")
ruleset(name="toMolesignal") {{
  action(type="omelasticsearch" server="{base_url}/api/v1/es" searchIndex="{index}" searchType=""
         template="doc" bulkmode="on" uid="rsyslog" pwd="{token}" errorFile="{work}/es-errors.json")
}}
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="toMolesignal")
"""


def test_rsyslog_omelasticsearch_ships_over_basic(tmp_path: Path, base_url: str, tenant: dict[str, Any]) -> None:
    assert OMELASTICSEARCH.exists(), "rsyslog-elasticsearch is not installed: run `make rsyslog` (as root)"
    index = unique("rsyslog")
    port = _free_port()
    config = tmp_path / "rsyslog.conf"
    config.write_text(_rsyslog_config(tmp_path, port, base_url, index, tenant["token"]))
    daemon = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(config), "-i", str(tmp_path / "rsyslogd.pid")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sender = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert daemon.poll() is None, daemon.stdout.read() if daemon.stdout else "rsyslogd exited"
                assert time.monotonic() < deadline, "rsyslogd did not listen"
                time.sleep(0.1)
        with sender:
            for i in range(5):
                sender.sendall(f"<11>Dec  6 12:00:0{i} web01 checkout: order {i} failed\n".encode())
        messages: list[str] = []
        deadline = time.monotonic() + 30
        while len(messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.3)
            drain_ingest()
            messages = sorted(r["message"] for r in landed_rows(tenant["org"], index))
        errors = tmp_path / "es-errors.json"
        assert messages == [f"order {i} failed" for i in range(5)], errors.read_text() if errors.exists() else ""
        rows = landed_rows(tenant["org"], index)
        assert {(r["app"], r["severity"]) for r in rows} == {("checkout", "err")}
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
