"""Alert rules over HTTP: realtime and scheduled CRUD, enable/disable, validation, roles,
other orgs, and hostile SQL refused exactly as the query routes refuse it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import Session, assert_core_error, create_org, create_user, unique
from tests.support.lake import drain_ingest

RULES = "/api/v1/alerts/rules"
DESTINATIONS = "/api/v1/alerts/destinations"


@pytest.fixture
def destination(client: httpx.Client, admin: Session) -> str:
    response = client.post(
        DESTINATIONS,
        json={"name": unique("d"), "type": "webhook", "url": "http://127.0.0.1:9/h"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def realtime(destination: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": unique("errors"),
        "kind": "realtime",
        "stream": unique("app").replace("-", "_"),
        "where": "level = 'error' AND service = 'api'",
        "destinations": [destination],
        "severity": "critical",
        "message": "{{count}} errors from {{service}}: {{msg}}",
        **extra,
    }


def scheduled(destination: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": unique("volume"),
        "kind": "scheduled",
        "query": "SELECT service, count(*) AS errors FROM app WHERE level = 'error' GROUP BY service",
        "interval_s": 300,
        "window_s": 600,
        "condition": {"op": ">", "threshold": 10},
        "group_by": ["service"],
        "for_s": 600,
        "destinations": [destination],
        **extra,
    }


def _create(client: httpx.Client, by: Session, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(RULES, json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_realtime_rule_crud_and_enable_disable(client: httpx.Client, admin: Session, destination: str) -> None:
    created = _create(client, admin, realtime(destination))
    assert created["kind"] == "realtime" and created["enabled"] is True
    assert created["where"] == "level = 'error' AND service = 'api'"
    assert created["resolve_after_s"] == 300 and created["alerts"] == []
    rule_id = created["id"]
    assert client.get(f"{RULES}/{rule_id}", headers=admin.headers).json()["id"] == rule_id
    listed = client.get(RULES, params={"kind": "realtime"}, headers=admin.headers).json()["items"]
    assert rule_id in [r["id"] for r in listed]

    patched = client.patch(f"{RULES}/{rule_id}", json={"where": "level = 'fatal'"}, headers=admin.headers).json()
    assert patched["where"] == "level = 'fatal'" and patched["name"] == created["name"]
    disabled = client.post(f"{RULES}/{rule_id}/disable", headers=admin.headers).json()
    assert disabled["enabled"] is False
    assert rule_id not in [
        r["id"] for r in client.get(RULES, params={"enabled": "true"}, headers=admin.headers).json()["items"]
    ]
    assert client.post(f"{RULES}/{rule_id}/enable", headers=admin.headers).json()["enabled"] is True

    assert client.delete(f"{RULES}/{rule_id}", headers=admin.headers).status_code == 200
    assert_core_error(client.get(f"{RULES}/{rule_id}", headers=admin.headers), 404)


def test_scheduled_rule_is_due_at_once_and_window_defaults_to_interval(
    client: httpx.Client, admin: Session, destination: str
) -> None:
    created = _create(client, admin, scheduled(destination))
    assert created["condition"] == {"op": ">", "threshold": 10.0}
    assert created["group_by"] == ["service"] and created["for_s"] == 600
    assert created["next_run_at"] is not None
    body = scheduled(destination, condition={"op": "no_data"}, group_by=[])
    del body["window_s"]
    no_data = _create(client, admin, body)
    assert no_data["window_s"] == 300 and no_data["condition"] == {"op": "no_data", "threshold": None}
    off = client.post(f"{RULES}/{no_data['id']}/disable", headers=admin.headers).json()
    assert off["next_run_at"] is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"kind": "realtime", "where": None}, "a realtime rule without where"),
        ({"kind": "realtime", "stream": "Not A Stream!"}, "a bad stream name"),
        ({"kind": "realtime", "query": "SELECT 1"}, "a scheduled field on a realtime rule"),
        ({"kind": "realtime", "for_s": 60}, "for_s on a realtime rule"),
        ({"kind": "realtime", "where": "level = "}, "a predicate that does not parse"),
        ({"kind": "realtime", "destinations": ["dst_nope"]}, "a destination the org does not have"),
        ({"kind": "realtime", "labels": {"rule": "x"}}, "a reserved label"),
        ({"kind": "realtime", "group_by": ["a b"]}, "a group_by that is not a column"),
        ({"kind": "scheduled", "interval_s": 90}, "an interval that is not whole minutes"),
        ({"kind": "scheduled", "condition": {"op": ">"}}, "a comparison without threshold"),
        ({"kind": "scheduled", "condition": {"op": "no_data"}}, "no_data with group_by"),
        ({"kind": "scheduled", "where": "x = 1"}, "where on a scheduled rule"),
        ({"kind": "scheduled", "query": "SELECT FROM WHERE"}, "a query that does not parse"),
        ({"kind": "scheduled", "interval_s": 30}, "an interval under a minute"),
        ({"kind": "scheduled", "severity": "apocalyptic"}, "an unknown severity"),
    ],
)
def test_bad_rules_are_400(
    client: httpx.Client, admin: Session, destination: str, change: dict[str, Any], why: str
) -> None:
    base = realtime(destination) if change["kind"] == "realtime" else scheduled(destination)
    body = {k: v for k, v in {**base, **change}.items() if v is not None}
    response = client.post(RULES, json=body, headers=admin.headers)
    assert response.status_code == 400, f"{why}: {response.text}"
    assert_core_error(response, 400)


def test_a_predicate_that_cannot_bind_to_the_stream_is_refused_on_save(
    client: httpx.Client, admin: Session, destination: str
) -> None:
    stream = unique("typed").replace("-", "_")
    response = client.post(
        f"/api/v1/ingest/{stream}", json=[{"status": "500", "level": "error"}], headers=admin.headers
    )
    assert response.status_code == 202, response.text
    drain_ingest()
    bad = client.post(RULES, json=realtime(destination, stream=stream, where="status > 499"), headers=admin.headers)
    body = assert_core_error(bad, 400, "INVALID_SQL")
    assert "does not fit the stream" in str(body["error"])
    ok = client.post(
        RULES, json=realtime(destination, stream=stream, where="CAST(status AS INT) > 499"), headers=admin.headers
    )
    assert ok.status_code == 201, ok.text


# Attempts to read beyond the rule's own rows, or to run something other than a condition.
HOSTILE_PREDICATES = [
    ("x = 1; DROP TABLE app", 400, "INVALID_SQL"),
    ("1 = 1 UNION SELECT * FROM app", 403, "PERMISSION_DENIED"),
    ("level IN (SELECT level FROM other_stream)", 403, "PERMISSION_DENIED"),
    ("EXISTS (SELECT 1 FROM read_parquet('s3://bucket/lake/*'))", 403, "PERMISSION_DENIED"),
    ("getenv('AWS_SECRET_ACCESS_KEY') IS NOT NULL", 403, "PERMISSION_DENIED"),
    ("read_text('/etc/passwd') IS NOT NULL", 403, "PERMISSION_DENIED"),
    ("count(*) > 5", 403, "PERMISSION_DENIED"),
    ("__ms_row = 1", 403, "PERMISSION_DENIED"),
    ("1 = 1 ORDER BY 1", 403, "PERMISSION_DENIED"),
    ("1 = 1 LIMIT 1", 403, "PERMISSION_DENIED"),
    ("x = 1) OR (1 = 1", 400, "INVALID_SQL"),
]


@pytest.mark.parametrize(("where", "status", "code"), HOSTILE_PREDICATES)
def test_hostile_predicates_are_refused(
    client: httpx.Client, admin: Session, destination: str, where: str, status: int, code: str
) -> None:
    response = client.post(RULES, json=realtime(destination, where=where), headers=admin.headers)
    assert_core_error(response, status, code)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_parquet('s3://bucket/lake/org=victim/*')",
        "SELECT getenv('HOME') AS h",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "SELECT * FROM victim.app",
        "ATTACH ':memory:' AS m",
        "SELECT 1; SELECT 2",
    ],
)
def test_hostile_scheduled_queries_are_refused_like_hostile_queries(
    client: httpx.Client, admin: Session, destination: str, query: str
) -> None:
    now = 1_800_000_000_000_000
    as_query = client.post(
        "/api/v1/query", json={"sql": query, "time_range": {"start": 0, "end": now}}, headers=admin.headers
    )
    as_rule = client.post(RULES, json=scheduled(destination, query=query), headers=admin.headers)
    assert as_query.status_code in (400, 403, 404), as_query.text
    assert as_rule.status_code == as_query.status_code, (as_rule.text, as_query.text)
    assert as_rule.json()["code"] == as_query.json()["code"]


def test_viewers_read_rules_but_cannot_create_or_change_them(
    client: httpx.Client, admin: Session, destination: str
) -> None:
    created = _create(client, admin, realtime(destination))
    viewer = create_user(client, admin, "viewer")
    assert client.get(f"{RULES}/{created['id']}", headers=viewer.headers).status_code == 200
    assert_core_error(client.post(RULES, json=realtime(destination), headers=viewer.headers), 403)
    assert_core_error(client.patch(f"{RULES}/{created['id']}", json={"name": "x"}, headers=viewer.headers), 403)
    assert_core_error(client.post(f"{RULES}/{created['id']}/disable", headers=viewer.headers), 403)
    assert_core_error(client.delete(f"{RULES}/{created['id']}", headers=viewer.headers), 403)
    editor = create_user(client, admin, "editor")
    assert client.post(RULES, json=realtime(destination), headers=editor.headers).status_code == 201


def test_another_orgs_rule_is_404_and_its_destinations_cannot_be_named(
    client: httpx.Client, admin: Session, root: Session, destination: str
) -> None:
    created = _create(client, admin, realtime(destination))
    other = create_user(client, root, "admin", org_id=create_org(client, root))
    for method, path in (
        ("GET", f"{RULES}/{created['id']}"),
        ("PATCH", f"{RULES}/{created['id']}"),
        ("DELETE", f"{RULES}/{created['id']}"),
        ("POST", f"{RULES}/{created['id']}/enable"),
        ("POST", f"{RULES}/{created['id']}/disable"),
    ):
        response = client.request(
            method, path, json={"name": "x"} if method == "PATCH" else None, headers=other.headers
        )
        assert_core_error(response, 404)
    assert created["id"] not in [r["id"] for r in client.get(RULES, headers=other.headers).json()["items"]]
    # Naming the first org's destination from the other org is refused.
    assert_core_error(client.post(RULES, json=realtime(destination), headers=other.headers), 400)


def test_a_destination_named_by_a_rule_cannot_be_deleted(
    client: httpx.Client, admin: Session, destination: str
) -> None:
    created = _create(client, admin, realtime(destination))
    assert_core_error(client.delete(f"{DESTINATIONS}/{destination}", headers=admin.headers), 409)
    client.patch(f"{RULES}/{created['id']}", json={"destinations": []}, headers=admin.headers)
    assert client.delete(f"{DESTINATIONS}/{destination}", headers=admin.headers).status_code == 200


def test_a_rule_kind_cannot_change(client: httpx.Client, admin: Session, destination: str) -> None:
    created = _create(client, admin, realtime(destination))
    response = client.patch(f"{RULES}/{created['id']}", json={"query": "SELECT 1"}, headers=admin.headers)
    assert_core_error(response, 400)
