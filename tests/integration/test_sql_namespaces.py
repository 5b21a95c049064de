"""Spec 004's roles and namespaces over HTTP: who may change the catalog, USE and
``namespace_id``, one namespace set per org, and the ingest streams in ``default``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.api import (
    Session,
    assert_sql_error,
    bearer,
    create_api_token,
    create_org,
    create_user,
    rows_of,
    run_sql,
    sql_ok,
    unique,
)
from tests.support.lake import drain_ingest


@pytest.fixture
def org(client: httpx.Client, root: Session) -> dict[str, Any]:
    org_id = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org_id)
    ingest = bearer(create_api_token(client, admin, role="ingest"))
    assert client.post("/api/v1/ingest/logs", json=[{"level": "info", "msg": "hi"}], headers=ingest).status_code == 202
    drain_ingest()
    people = {role: create_user(client, admin, role) for role in ("dba", "service", "editor", "viewer")}
    return {"id": org_id, "admin": admin, **people}


def _namespaces(client: httpx.Client, who: Session) -> list[str]:
    return [str(r["namespace_id"]) for r in rows_of(sql_ok(client, who, "SHOW NAMESPACES")[0])]


def _within_quota(client: httpx.Client, who: Session, sql: str) -> list[dict[str, Any]]:
    """``sql_ok``, waiting out the query quota: test_admin leaves the setup org at 3 per second."""
    for _ in range(20):
        response = run_sql(client, who, sql)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("retry-after", "1")))
    assert response.status_code == 200, f"{sql}: {response.text}"
    return list(response.json()["results"])


def test_setup_admin_is_the_spec_004_dba(client: httpx.Client, admin: Session) -> None:
    """Setup's first user (admin of the default org) changes the catalog like a dba."""
    name = unique("ns").replace("-", "_")
    assert _within_quota(client, admin, f"CREATE NAMESPACE {name}")[0]["message"] == f"namespace {name} created"
    shown = rows_of(_within_quota(client, admin, "SHOW NAMESPACES")[0])
    assert name in [r["namespace_id"] for r in shown]
    _within_quota(client, admin, f"DROP NAMESPACE {name}")
    shown = rows_of(_within_quota(client, admin, "SHOW NAMESPACES")[0])
    assert name not in [r["namespace_id"] for r in shown]


def test_only_dba_and_above_change_namespaces(client: httpx.Client, org: dict[str, Any]) -> None:
    for role in ("viewer", "editor", "service"):
        denied = run_sql(client, org[role], "CREATE NAMESPACE nope")
        assert "needs role dba" in assert_sql_error(denied, 403, "PERMISSION_DENIED")["error"]["message"]  # type: ignore[index]
    sql_ok(client, org["dba"], "CREATE NAMESPACE app")
    assert_sql_error(run_sql(client, org["viewer"], "DROP NAMESPACE app"), 403, "PERMISSION_DENIED")
    assert "app" in _namespaces(client, org["viewer"])  # viewers see the namespaces
    results = sql_ok(client, org["dba"], "CREATE NAMESPACE IF NOT EXISTS app; DROP NAMESPACE IF EXISTS gone")
    assert [r["message"] for r in results] == ["namespace app already exists", "namespace gone does not exist"]
    assert_sql_error(run_sql(client, org["dba"], "CREATE NAMESPACE app"), 409, "CONFLICT")
    for reserved in ("default", "system", "main", "information_schema"):
        assert_sql_error(run_sql(client, org["dba"], f"CREATE NAMESPACE {reserved}"), 409, "CONFLICT")
    assert_sql_error(run_sql(client, org["dba"], "DROP NAMESPACE default"), 409, "CONFLICT")


def test_namespaces_belong_to_their_org(client: httpx.Client, org: dict[str, Any], root: Session) -> None:
    sql_ok(client, org["dba"], "CREATE NAMESPACE private_ns")
    other = create_user(client, root, "admin", org_id=create_org(client, root))
    assert "private_ns" not in _namespaces(client, other)
    assert_sql_error(run_sql(client, other, "USE private_ns"), 404, "NAMESPACE_NOT_FOUND")
    assert_sql_error(run_sql(client, other, "SELECT 1", namespace="private_ns"), 404, "NAMESPACE_NOT_FOUND")
    assert_sql_error(run_sql(client, other, "DROP NAMESPACE private_ns"), 404, "NAMESPACE_NOT_FOUND")
    # the other org may hold a namespace of the same name: a different one
    sql_ok(client, other, "CREATE NAMESPACE private_ns")
    sql_ok(client, other, "DROP NAMESPACE private_ns")
    assert "private_ns" in _namespaces(client, org["dba"])


def test_streams_live_in_the_default_namespace(client: httpx.Client, org: dict[str, Any]) -> None:
    """Queries written before namespaces keep working, qualified or not, whatever namespace is in use."""
    sql_ok(client, org["dba"], "CREATE NAMESPACE app")
    viewer = org["viewer"]
    for sql in (
        "SELECT count(*) AS n FROM logs",
        "SELECT count(*) AS n FROM default.logs",
        "SELECT count(*) AS n FROM main.logs",
    ):
        assert sql_ok(client, viewer, sql)[0]["rows"] == [[1]]
    assert sql_ok(client, viewer, "SELECT count(*) AS n FROM logs", namespace="app")[0]["rows"] == [[1]]
    assert sql_ok(client, viewer, "SELECT count(*) AS n FROM logs", namespace="default")[0]["rows"] == [[1]]
    assert sql_ok(client, viewer, f'SELECT count(*) AS n FROM "{org["id"]}".logs')[0]["rows"] == [[1]]
    tables = rows_of(sql_ok(client, viewer, "SHOW TABLES")[0])
    assert tables == [{"namespace_id": "default", "table_name": "logs", "table_type": "INGEST"}]
    described = {r["column_name"]: r["data_type"] for r in rows_of(sql_ok(client, viewer, "DESCRIBE logs")[0])}
    assert described["level"] == "string" and described["_timestamp"] == "int64"
    assert_sql_error(run_sql(client, viewer, "SELECT * FROM app.logs"), 404, "TABLE_NOT_FOUND")  # app holds no stream


def test_use_applies_to_the_statements_after_it(client: httpx.Client, org: dict[str, Any]) -> None:
    dba = org["dba"]
    results = sql_ok(client, dba, "CREATE NAMESPACE app; USE app; CREATE TABLE t (id BIGINT PRIMARY KEY); SHOW TABLES")
    assert results[1]["rows"] == [["app"]] and results[1]["message"] == "namespace app in use"
    assert rows_of(results[3]) == [{"namespace_id": "app", "table_name": "t", "table_type": "USER"}]
    # USE lasts for its request only: the client sends namespace_id again (spec 004)
    assert rows_of(sql_ok(client, dba, "SHOW TABLES")[0])[0]["namespace_id"] == "default"
    assert rows_of(sql_ok(client, dba, "SHOW TABLES", namespace="app")[0])[0]["table_name"] == "t"
    assert_sql_error(run_sql(client, dba, "USE nowhere"), 404, "NAMESPACE_NOT_FOUND")
    assert_sql_error(run_sql(client, dba, "SELECT 1", namespace="bad name!"), 400, "INVALID_SQL")


def test_namespace_id_in_a_multipart_body(client: httpx.Client, org: dict[str, Any]) -> None:
    sql_ok(client, org["dba"], "CREATE NAMESPACE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY)")
    response = client.post(
        "/v1/api/sql",
        files={"sql": (None, "SHOW TABLES"), "namespace_id": (None, "app")},
        headers=org["viewer"].headers,
    )
    assert response.status_code == 200, response.text
    assert rows_of(response.json()["results"][0]) == [{"namespace_id": "app", "table_name": "t", "table_type": "USER"}]


def test_a_failed_statement_says_which_it_was(client: httpx.Client, org: dict[str, Any]) -> None:
    """No transaction across statements: the first ones stay done, the error names the one that failed."""
    failed = run_sql(client, org["dba"], "CREATE NAMESPACE first_ns; SELECT * FROM nowhere; CREATE NAMESPACE never")
    body = assert_sql_error(failed, 404, "TABLE_NOT_FOUND")
    assert body["error"]["details"] == {"statement": 2, "completed_statements": 1}  # type: ignore[index]
    assert "first_ns" in _namespaces(client, org["dba"]) and "never" not in _namespaces(client, org["dba"])
    batch = run_sql(client, org["dba"], "SELECT $1 AS a; SELECT 2", params=[1])
    assert_sql_error(batch, 400, "PARAMS_WITH_BATCH")


def test_dba_service_and_system_users_are_managed_like_the_others(client: httpx.Client, org: dict[str, Any]) -> None:
    """The admin API creates them; /me reports the role; a dba cannot create users."""
    for role in ("dba", "service", "system"):
        who = create_user(client, org["admin"], role)
        me = client.get("/v1/api/auth/me", headers=who.headers).json()
        assert me["role"] == role
    denied = client.post(
        "/api/v1/users",
        json={"user": unique("x"), "password": "UserPass123!", "role": "viewer"},
        headers=org["dba"].headers,
    )
    assert denied.status_code == 403
