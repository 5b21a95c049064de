"""Health, metrics and the merged OpenAPI document, over HTTP through the gateway."""

from __future__ import annotations

import re

import httpx

import registry
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
