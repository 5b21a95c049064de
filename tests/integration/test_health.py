"""Health, metrics and the merged OpenAPI document, over HTTP through the gateway."""

from __future__ import annotations

import re

import httpx
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi import APIRouter
from fastapi.testclient import TestClient

import registry
from molesignal import cluster_health
from molesignal.resources import RESOURCES
from molesignal.storage.table import Table
from molesignal.web.app import create_app
from tests.support.api import Session


def test_healthz_is_public(client: httpx.Client) -> None:
    response = client.get("/api/v1/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health_and_healthcheck_answer_the_spec_004_shape(client: httpx.Client) -> None:
    for path in ("/health", "/v1/api/healthcheck"):
        body = client.get(path).json()
        assert body["status"] == "healthy"
        assert body["api_version"] == "v1"
        assert set(body) == {"status", "version", "api_version", "build_date"}


def test_metrics_is_prometheus_text_without_tenant_data(client: httpx.Client, admin: Session) -> None:
    # Given some tenant activity (a login with a distinctive org and user)
    client.post("/api/v1/auth/login", json={"user": "admin", "password": "wrong-password"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    # Every sample line is `name{labels} value`, every metric has HELP and TYPE
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples
    for line in samples:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*(\{[a-z_]+=\"[^\"]*\"\})? -?\d+(\.\d+)?", line), line
        name = line.split("{")[0].split(" ")[0]
        assert f"# TYPE {name} " in text
    assert "molesignal_up 1" in text
    assert re.search(r"^molesignal_auth_logins_total [1-9]\d*$", text, re.M)
    assert re.search(r"^molesignal_auth_login_failures_total [1-9]\d*$", text, re.M)
    # Then no tenant identifiers leak into the platform metrics
    assert admin.org_id not in text
    assert admin.user_id not in text
    assert "admin" not in text


def test_openapi_lists_every_registry_route(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for route, _function in registry.REGISTRY.all_routes():
        if route.path == registry.DEFAULT_ROUTE:
            continue
        assert route.path in paths, route.key
        operation = paths[route.path][route.method.lower()]
        assert ("security" in operation) == route.auth, route.key
    assert "bearer" in document["components"]["securitySchemes"]


def test_cluster_health_reports_each_backing_store(client: httpx.Client) -> None:
    response = client.get("/v1/api/cluster/health")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] in ("healthy", "degraded")  # degraded only while a DLQ holds messages
    services = {(s["kind"], s["name"]): s for s in report["services"]}
    expected = {("table", "table")} | {("bucket", b.logical) for b in RESOURCES.buckets}
    expected |= {("queue", q.logical) for q in RESOURCES.queues} | {("dlq", q.dlq_logical) for q in RESOURCES.queues}
    assert set(services) == expected
    for service in services.values():
        assert service["status"] in ("healthy", "degraded") and service["latency_ms"] >= 0, service
    for kind, _ in expected:
        if kind in ("queue", "dlq"):
            assert all(isinstance(s["depth"], int) for k, s in services.items() if k[0] == kind)


def test_cluster_health_says_which_store_is_unreachable(system: object) -> None:
    """A table that does not exist stands for an unreachable one: the report names it, nothing raises."""
    report = cluster_health.check(Table("no-such-table"))
    assert report["status"] == "unavailable"
    (table,) = (s for s in report["services"] if s["kind"] == "table")
    assert table["status"] == "unavailable" and "ResourceNotFound" in table["error"]
    assert all(s["status"] != "unavailable" for s in report["services"] if s["kind"] != "table")


def test_a_store_outage_is_503_cluster_unavailable_not_a_500() -> None:
    """A route whose store cannot be reached (connection refused past the SDK's retries)."""
    router = APIRouter()

    @router.get("/v1/api/outage")
    @router.get("/api/v1/outage")
    def outage() -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    @router.get("/v1/api/bug")
    def bug() -> None:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "x"}}, "Query")

    client = TestClient(create_app("outage-test", [router]), raise_server_exceptions=False)
    sql = client.get("/v1/api/outage")
    assert sql.status_code == 503 and sql.headers["retry-after"] == "1"
    assert sql.json()["error"]["code"] == "CLUSTER_UNAVAILABLE"
    core = client.get("/api/v1/outage")
    assert core.status_code == 503 and core.json()["code"] == "store_unavailable"
    assert client.get("/v1/api/bug").status_code == 500  # a request the store refused is still a bug
