"""Elasticsearch clients, installed from their registries, work against MoleSignal with only
a URL and a credential: elasticsearch-py 7.17, 8.x and 9.x and the npm client call GET and
HEAD on the base URL *with* a trailing slash (`info()`, `ping()`, and 7.17's product check
before anything else), then `helpers.bulk`. Every answer carries `X-Elastic-Product`."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.support.api import assert_core_error, bearer, unique
from tests.support.clients import new_ingest_tenant, run_node_client, run_python_client
from tests.support.lake import drain_ingest, landed_rows


@pytest.fixture(scope="module")
def tenant(base_url: str) -> dict[str, Any]:
    return new_ingest_tenant(base_url)


def _landed(org: str, index: str) -> list[int]:
    drain_ingest()
    return sorted(r["n"] for r in landed_rows(org, index))


@pytest.mark.parametrize(
    ("install", "scheme"),
    [
        ("elasticsearch7", "basic"),  # 7.17 checks GET / before its first request
        ("elasticsearch8", "apikey"),
        ("elasticsearch8", "apikey-pair"),  # base64("id:key"), the Elastic/Beats form
        (None, "bearer"),  # the venv's 9.x
        (None, "basic"),
    ],
)
def test_python_client_info_ping_and_bulk(
    base_url: str, tenant: dict[str, Any], install: str | None, scheme: str
) -> None:
    index = unique("pyes")
    result = run_python_client(
        install, "elasticsearch_client.py", f"{base_url}/api/v1/es", scheme, tenant["token"], index, "25"
    )
    expected_major = {"elasticsearch7": "7.", "elasticsearch8": "8.", None: "9."}[install]
    assert result["client"].startswith(expected_major)
    assert result["version"] == "9.0.0"
    assert result["ping"] is True
    assert (result["succeeded"], result["errors"]) == (25, [])
    assert _landed(tenant["org"], index) == list(range(25))


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_npm_client_info_ping_and_bulk(base_url: str, tenant: dict[str, Any], scheme: str) -> None:
    index = unique("jses")
    result = run_node_client("elasticsearch.mjs", f"{base_url}/api/v1/es", scheme, tenant["token"], index, "40")
    assert result["version"] == "9.0.0"
    assert result["tagline"] == "You Know, for Search"
    assert result["ping"] is True
    assert result["stats"]["successful"] == 40
    assert result["stats"]["failed"] == 0
    assert _landed(tenant["org"], index) == list(range(40))


@pytest.mark.parametrize("path", ["/api/v1/es", "/api/v1/es/"])
def test_base_url_answers_get_and_head_with_or_without_slash(
    client: httpx.Client, tenant: dict[str, Any], path: str
) -> None:
    headers = bearer(tenant["token"])
    info = client.get(path, headers={**headers, "accept": "application/vnd.elasticsearch+json; compatible-with=9"})
    assert info.status_code == 200, info.text
    assert info.headers["x-elastic-product"] == "Elasticsearch"
    assert info.headers["content-type"].startswith("application/vnd.elasticsearch+json;compatible-with=9")
    assert info.json()["version"]["number"] == "9.0.0"
    head = client.head(path, headers=headers)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["x-elastic-product"] == "Elasticsearch"


def test_refusals_carry_the_product_header_too(client: httpx.Client) -> None:
    # An unauthenticated ping: clients must see a 401 from "Elasticsearch", not an unknown product.
    head = client.head("/api/v1/es/")
    assert head.status_code == 401
    assert head.headers["x-elastic-product"] == "Elasticsearch"
    refused = client.get("/api/v1/es/", headers=bearer("ms_abcdefghij_" + "x" * 40))
    assert_core_error(refused, 401, "invalid_token")
    assert refused.headers["x-elastic-product"] == "Elasticsearch"


def test_cat_health_for_rsyslog(client: httpx.Client, tenant: dict[str, Any]) -> None:
    basic = base64.b64encode(f"rsyslog:{tenant['token']}".encode()).decode()
    text = client.get("/api/v1/es/_cat/health", headers={"Authorization": f"Basic {basic}"})
    assert text.status_code == 200, text.text
    assert text.headers["content-type"].startswith("text/plain")
    assert " green " in text.text
    as_json = client.get("/api/v1/es/_cat/health?format=json", headers=bearer(tenant["token"]))
    assert as_json.json()[0]["status"] == "green"
    assert_core_error(client.get("/api/v1/es/_cat/health"), 401, "missing_token")


def test_ndjson_compatible_with_9_is_accepted_by_bulk(client: httpx.Client, tenant: dict[str, Any]) -> None:
    index = unique("compat")
    response = client.post(
        f"/api/v1/es/{index}/_bulk",
        content=b'{"index": {}}\n{"n": 1}\n',
        headers={
            **bearer(tenant["token"]),
            "content-type": "application/vnd.elasticsearch+x-ndjson; compatible-with=9",
            "accept": "application/vnd.elasticsearch+json; compatible-with=9",
        },
    )
    assert response.status_code == 202, response.text
    assert response.headers["content-type"].startswith("application/vnd.elasticsearch+json;compatible-with=9")
    assert response.json()["errors"] is False
    assert _landed(tenant["org"], index) == [1]
