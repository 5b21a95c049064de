"""SQL tables over HTTP: DDL (CREATE/ALTER/DROP/SHOW/DESCRIBE) for the three table types,
types stored and read back exactly, STREAM tables' TTL, and the read-only SYSTEM tables."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from molesignal.lake.table_retention import expire_stream_tables
from molesignal.lake.tables import Tables
from molesignal.storage.table import Table
from tests.support.api import (
    Session,
    assert_sql_error,
    create_org,
    create_user,
    rows_of,
    run_sql,
    sql_ok,
)


@pytest.fixture
def org(client: httpx.Client, root: Session) -> dict[str, Any]:
    org_id = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org_id)
    people = {role: create_user(client, admin, role) for role in ("dba", "editor", "viewer")}
    sql_ok(client, people["dba"], "CREATE NAMESPACE app")
    return {"id": org_id, "admin": admin, **people}


def _tables(client: httpx.Client, who: Session, namespace: str = "app") -> list[dict[str, Any]]:
    return rows_of(sql_ok(client, who, f"SHOW TABLES IN {namespace}")[0])


def test_create_describe_show_and_drop_each_table_type(client: httpx.Client, org: dict[str, Any]) -> None:
    dba = org["dba"]
    results = sql_ok(
        client,
        dba,
        "CREATE TABLE app.messages (id BIGINT PRIMARY KEY, conversation_id BIGINT NOT NULL, content TEXT);"
        "CREATE SHARED TABLE app.config (key TEXT PRIMARY KEY, value JSON);"
        "CREATE STREAM TABLE app.events (event_id TEXT PRIMARY KEY, payload TEXT) WITH (TTL_SECONDS = 30)",
    )
    assert [r["message"] for r in results] == [
        "USER table app.messages created",
        "SHARED table app.config created",
        "STREAM table app.events created",
    ]
    assert _tables(client, org["viewer"]) == [
        {"namespace_id": "app", "table_name": "config", "table_type": "SHARED"},
        {"namespace_id": "app", "table_name": "events", "table_type": "STREAM"},
        {"namespace_id": "app", "table_name": "messages", "table_type": "USER"},
    ]
    described = rows_of(sql_ok(client, org["viewer"], "DESCRIBE TABLE app.messages")[0])
    assert described == [
        {"column_name": "id", "data_type": "BIGINT", "is_nullable": False, "is_primary_key": True},
        {"column_name": "conversation_id", "data_type": "BIGINT", "is_nullable": False, "is_primary_key": False},
        {"column_name": "content", "data_type": "TEXT", "is_nullable": True, "is_primary_key": False},
    ]
    empty = sql_ok(client, org["viewer"], "SELECT * FROM app.messages")[0]
    assert [f["name"] for f in empty["schema"]] == ["id", "conversation_id", "content"] and empty["rows"] == []
    assert_sql_error(run_sql(client, dba, "CREATE TABLE app.messages (id BIGINT)"), 409, "CONFLICT")
    assert sql_ok(client, dba, "CREATE TABLE IF NOT EXISTS app.messages (id BIGINT)")[0]["message"].endswith(
        "already exists"
    )
    sql_ok(client, dba, "DROP TABLE app.config; DROP STREAM TABLE app.events")
    assert [t["table_name"] for t in _tables(client, dba)] == ["messages"]
    assert_sql_error(run_sql(client, dba, "SELECT * FROM app.config"), 404, "TABLE_NOT_FOUND")
    assert_sql_error(run_sql(client, dba, "DROP TABLE app.config"), 404, "TABLE_NOT_FOUND")
    assert sql_ok(client, dba, "DROP TABLE IF EXISTS app.config")[0]["message"] == "table app.config does not exist"


def test_who_may_change_tables(client: httpx.Client, org: dict[str, Any]) -> None:
    for role in ("viewer", "editor"):
        assert_sql_error(run_sql(client, org[role], "CREATE TABLE app.t (id INT)"), 403, "PERMISSION_DENIED")
    sql_ok(client, org["dba"], "CREATE TABLE app.t (id INT)")
    for sql in ("ALTER TABLE app.t ADD COLUMN x INT", "DROP TABLE app.t"):
        assert_sql_error(run_sql(client, org["editor"], sql), 403, "PERMISSION_DENIED")
    # where tables may not go
    assert_sql_error(run_sql(client, org["dba"], "CREATE TABLE default.t (id INT)"), 403, "PERMISSION_DENIED")
    assert_sql_error(run_sql(client, org["dba"], "CREATE TABLE t (id INT)"), 403, "PERMISSION_DENIED")  # default
    assert_sql_error(run_sql(client, org["dba"], "CREATE TABLE system.t (id INT)"), 403, "PERMISSION_DENIED")
    assert_sql_error(run_sql(client, org["dba"], "CREATE TABLE nowhere.t (id INT)"), 404, "NAMESPACE_NOT_FOUND")
    assert_sql_error(run_sql(client, org["dba"], "DROP TABLE system.users"), 403, "PERMISSION_DENIED")


def test_drop_namespace_needs_cascade_while_it_holds_tables(client: httpx.Client, org: dict[str, Any]) -> None:
    dba = org["dba"]
    sql_ok(client, dba, "CREATE TABLE app.a (id INT); CREATE TABLE app.b (id INT); INSERT INTO app.a VALUES (1)")
    assert_sql_error(run_sql(client, dba, "DROP NAMESPACE app"), 409, "CONFLICT")
    assert sql_ok(client, dba, "DROP NAMESPACE app CASCADE")[0]["message"] == "namespace app dropped"
    assert_sql_error(run_sql(client, dba, "SELECT * FROM app.a"), 404, "TABLE_NOT_FOUND")
    assert Tables(Table()).all(org["id"]) == []


def test_every_type_round_trips(client: httpx.Client, org: dict[str, Any]) -> None:
    sql_ok(
        client,
        org["dba"],
        "CREATE SHARED TABLE app.typed (id INT PRIMARY KEY, b BOOLEAN, s SMALLINT, big BIGINT, f FLOAT, d DOUBLE,"
        " t TEXT, j JSON, bytes BYTES, ts TIMESTAMP, day DATE, money DECIMAL(12, 2))",
    )
    sql_ok(
        client,
        org["editor"],
        "INSERT INTO app.typed VALUES (1, true, 7, 9007199254740993, 1.5, 0.1, 'héllo', '{\"a\": [1, 2]}',"
        " '\\x00\\xff'::BLOB, TIMESTAMP '2027-01-15 08:00:00.123456', DATE '2027-01-15', 1234567890.25),"
        " (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    )
    result = sql_ok(client, org["viewer"], "SELECT * FROM app.typed ORDER BY id")[0]
    assert [f["data_type"] for f in result["schema"]] == [
        "Int", "Boolean", "SmallInt", "BigInt", "Float", "Double",
        "Text", "Text", "Bytes", "Timestamp", "Date", "Decimal",
    ]  # fmt: skip
    assert result["rows"] == [
        [1, True, 7, 9007199254740993, 1.5, 0.1, "héllo", '{"a": [1, 2]}', "AP8=", "2027-01-15T08:00:00.123456Z",
         "2027-01-15", 1234567890.25],
        [2, None, None, None, None, None, None, None, None, None, None, None],
    ]  # fmt: skip


def test_add_column_shows_null_for_rows_written_before(client: httpx.Client, org: dict[str, Any]) -> None:
    sql_ok(client, org["dba"], "CREATE SHARED TABLE app.t (id INT PRIMARY KEY, a TEXT)")
    sql_ok(client, org["editor"], "INSERT INTO app.t VALUES (1, 'old')")
    sql_ok(client, org["dba"], "ALTER TABLE app.t ADD COLUMN added BIGINT")
    sql_ok(client, org["editor"], "INSERT INTO app.t (id, a, added) VALUES (2, 'new', 42)")
    rows = rows_of(sql_ok(client, org["viewer"], "SELECT * FROM app.t ORDER BY id")[0])
    assert rows == [{"id": 1, "a": "old", "added": None}, {"id": 2, "a": "new", "added": 42}]
    assert sql_ok(client, org["viewer"], "SELECT count(*) FROM app.t WHERE added IS NULL")[0]["rows"] == [[1]]
    assert_sql_error(run_sql(client, org["dba"], "ALTER TABLE app.t ADD COLUMN a TEXT"), 409, "CONFLICT")


def test_stream_tables_are_append_only_and_forget_rows_past_their_ttl(
    client: httpx.Client, org: dict[str, Any]
) -> None:
    sql_ok(client, org["dba"], "CREATE STREAM TABLE app.pings (id INT PRIMARY KEY, note TEXT) WITH (TTL_SECONDS = 5)")
    sql_ok(client, org["editor"], "INSERT INTO app.pings VALUES (1, 'a'), (2, 'b')")
    assert sql_ok(client, org["editor"], "SELECT count(*) FROM app.pings")[0]["rows"] == [[2]]
    for sql in ("UPDATE app.pings SET note = 'x'", "DELETE FROM app.pings"):
        assert_sql_error(run_sql(client, org["editor"], sql), 403, "PERMISSION_DENIED")
    time.sleep(5.2)  # 5 s: a loaded machine may take over a second between the INSERT and the SELECT
    assert sql_ok(client, org["editor"], "SELECT count(*) FROM app.pings")[0]["rows"] == [[0]]  # exactly, at read
    definition = Tables(Table()).get(org["id"], "app", "pings")
    assert Tables(Table()).state(definition, org["editor"].user_id).file_count == 1
    assert expire_stream_tables(orgs=[org["id"]]) == 1  # the retention job frees the file
    assert Tables(Table()).state(definition, org["editor"].user_id).file_count == 0
    assert expire_stream_tables(orgs=[org["id"]]) == 0


def test_system_tables_are_read_only_views_for_dba_and_above(
    client: httpx.Client, org: dict[str, Any], root: Session
) -> None:
    sql_ok(client, org["dba"], "CREATE TABLE app.messages (id BIGINT PRIMARY KEY, body TEXT)")
    other = create_user(client, root, "admin", org_id=create_org(client, root))
    for name in ("users", "namespaces", "tables", "columns", "streams"):
        for role in ("viewer", "editor"):
            denied = run_sql(client, org[role], f"SELECT * FROM system.{name}")
            assert_sql_error(denied, 403, "PERMISSION_DENIED")
    users = rows_of(sql_ok(client, org["dba"], "SELECT username, role FROM system.users ORDER BY username")[0])
    assert {u["username"] for u in users} == {org[r].user for r in ("admin", "dba", "editor", "viewer")}
    assert other.user not in {u["username"] for u in users}  # only the caller's org
    tables = rows_of(sql_ok(client, org["admin"], "SELECT namespace_id, table_name, table_type FROM system.tables")[0])
    assert {"namespace_id": "app", "table_name": "messages", "table_type": "USER"} in tables
    columns = rows_of(sql_ok(client, org["dba"], "SELECT * FROM system.columns WHERE table_name = 'messages'")[0])
    assert [(c["column_name"], c["is_primary_key"]) for c in columns] == [("id", True), ("body", False)]
    assert "app" in [
        n["namespace_id"] for n in rows_of(sql_ok(client, org["dba"], "SELECT * FROM system.namespaces")[0])
    ]
    assert rows_of(sql_ok(client, other, "SELECT * FROM system.tables")[0]) == []  # the other org has none
    assert_sql_error(run_sql(client, org["dba"], "SELECT * FROM system.nope"), 404, "TABLE_NOT_FOUND")
    for write in (
        "INSERT INTO system.users (user_id) VALUES ('u_x')",
        "UPDATE system.users SET role = 'root'",
        "DELETE FROM system.tables",
    ):
        assert_sql_error(run_sql(client, org["admin"], write), 403, "PERMISSION_DENIED")
    # joined with the caller's own tables like any relation
    joined = sql_ok(
        client,
        org["dba"],
        "SELECT t.table_name, count(c.column_name) AS n FROM system.tables t JOIN system.columns c "
        "USING (namespace_id, table_name) WHERE t.namespace_id = 'app' GROUP BY 1",
    )
    assert joined[0]["rows"] == [["messages", 2]]
