"""Hostile SQL: a corpus of attempts by one org to read, list or write beyond its own data.

Two orgs share a stream name (``app``); only the victim has ``secrets``. Every victim row
carries a marker no attacker query contains, in several fields. Each attack is sent by an
attacker org viewer through ``POST /v1/api/sql``, ``POST /api/v1/query`` and its NDJSON form.
Each must be refused with a 4xx in that route's envelope, or succeed without a byte of the
victim: no marker, no ``org=<victim>`` path, no victim file key in the raw response.
Nothing may be written: no local file, no S3 object, no DynamoDB item of the victim's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.lake.streams import Streams
from molesignal.settings import get_settings, reset_settings
from molesignal.storage.table import Table
from tests.integration.conftest import fresh_deployment
from tests.support.api import (
    ROOT_PASSWORD,
    Session,
    bearer,
    create_api_token,
    create_org,
    create_user,
    ensure_setup,
    login,
)
from tests.support.lake import drain_ingest

T0 = 1_800_000_000_000_000
HOUR = 3_600_000_000
ATTACKER_ROWS = 12
ATTACKER_TIMESTAMP_SUM = sum(T0 + i * 1000 for i in range(ATTACKER_ROWS - 1)) + T0 + 99_000  # as ingested below
QUERY_TIMEOUT_S = "2"  # resource attacks run alone, under this engine timeout instead of the 25 s default
# Memory attacks run alone with the engine process's address space capped this low (the
# default is 2 GiB): a huge allocation then fails at once instead of being made, so the corpus
# proves the bound without allocating gigabytes.
SMALL_ENGINE = {"QUERY_WORKER_MEMORY_BYTES": str(800 * 1024 * 1024), "QUERY_MEMORY_LIMIT": "128MB"}


@dataclass
class World:
    attacker: str  # org ids
    victim: str
    viewer: Session  # a viewer in the attacker org
    attacker_marker: str
    victim_marker: str
    bucket: str
    attacker_keys: list[str]
    victim_keys: list[str]
    tmp: Path  # where write attacks aim

    def fill(self, text: str) -> str:
        return text.format(
            attacker=self.attacker,
            victim=self.victim,
            VICTIM=self.victim.upper(),
            bucket=self.bucket,
            attacker_key=self.attacker_keys[0],
            victim_key=self.victim_keys[0],
            tmp=self.tmp,
        )


def _victim_items(victim: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every DynamoDB item in the victim's namespace (its id is unique, so `contains` is exact)."""
    client = aws.client("dynamodb")
    items: dict[tuple[str, str], dict[str, Any]] = {}
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(
        TableName=get_settings().resource_name("table"),
        FilterExpression="contains(pk, :org) OR contains(sk, :org)",
        ExpressionAttributeValues={":org": {"S": victim}},
    ):
        for item in page["Items"]:
            items[(item["pk"]["S"], item["sk"]["S"])] = item
    return items


def _s3_objects() -> set[tuple[str, str, str]]:
    """Every object in this test process's buckets (a shared emulator may hold others' too)."""
    s3 = aws.client("s3")
    found: set[tuple[str, str, str]] = set()
    ours = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(get_settings().resource_prefix)]
    assert get_settings().resource_name("lake") in ours
    for bucket in ours:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            found |= {(bucket, o["Key"], o["ETag"]) for o in page.get("Contents", [])}
    return found


@contextmanager
def query_settings(**values: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(f"MOLESIGNAL_{name}", value)
        reset_settings()
        try:
            yield
        finally:
            patch.undo()
            reset_settings()


@pytest.fixture(scope="module")
def world(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # A deployment of its own: the checks before and after the attacks scan every item and
    # object in it, and the drain below waits for its queue only, not for what the test
    # process's other modules left (90 s of set-up, seen in a loaded full run).
    with fresh_deployment():
        yield _world(base_url, tmp_path_factory)


def _world(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> World:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        attacker, victim = create_org(client, root), create_org(client, root)
        # The corpus is fired faster than the default 20 queries/s: let every attack reach the guard.
        quotas = client.get(f"/api/v1/orgs/{attacker}/quotas", headers=root.headers).json()
        raised = {"ingest_qps": quotas["ingest_qps"], "query_qps": 100_000, "storage_bytes": quotas["storage_bytes"]}
        assert client.put(f"/api/v1/orgs/{attacker}/quotas", json=raised, headers=root.headers).status_code == 200

        attacker_marker, victim_marker = f"ATTACKER-{uuid.uuid4().hex}", f"VICTIM-{uuid.uuid4().hex}"
        mine = [
            {"_timestamp": T0 + i * 1000, "level": "info", "msg": f"{attacker_marker} {i}", "user": f"a{i}"}
            for i in range(ATTACKER_ROWS - 1)
        ]
        # A row that claims to be the victim's: ingest renames the field, the engine trusts only its own.
        mine.append({"_timestamp": T0 + 99_000, "org_id": victim, "level": "spoof", "msg": attacker_marker})
        theirs = [
            {
                "_timestamp": T0 + i * 1000,
                "level": "error",
                "msg": f"{victim_marker} {i}",
                "user": victim_marker,
                "password": f"{victim_marker}-pw",
            }
            for i in range(20)
        ]
        for org, streams in ((attacker, {"app": mine}), (victim, {"app": theirs, "secrets": theirs[:5]})):
            admin = create_user(client, root, "admin", org_id=org)
            ingest = bearer(create_api_token(client, admin, role="ingest"))
            for stream, records in streams.items():
                assert client.post(f"/api/v1/ingest/{stream}", json=records, headers=ingest).status_code == 202
            if org == attacker:
                viewer = create_user(client, admin, "viewer")
        drain_ingest()

    streams = Streams(Table())
    attacker_keys = [f["key"] for f in streams.manifest(attacker, "app")]
    victim_keys = [f["key"] for name in ("app", "secrets") for f in streams.manifest(victim, name)]
    assert attacker_keys and len(victim_keys) >= 2
    tmp = tmp_path_factory.mktemp("hostile")
    return World(
        attacker=attacker,
        victim=victim,
        viewer=viewer,
        attacker_marker=attacker_marker,
        victim_marker=victim_marker,
        bucket=get_settings().resource_name("lake"),
        attacker_keys=attacker_keys,
        victim_keys=victim_keys,
        tmp=tmp,
    )


@pytest.fixture(scope="module")
def before(world: World) -> dict[str, Any]:
    """What exists before any attack runs, to prove afterwards that nothing was written."""
    return {"s3": _s3_objects(), "items": _victim_items(world.victim)}


# --- the corpus ---------------------------------------------------------------
Rows = list[dict[str, Any]]
Check = Callable[[World, Rows], None]


def only_attacker_rows(world: World, rows: Rows) -> None:
    """The query ran over real data, and all of it is the attacker's."""
    assert rows, "expected the attacker's own rows"
    orgs = {v for row in rows for k, v in row.items() if k.endswith("org_id") or k.endswith("org")}
    assert orgs == {world.attacker}, orgs


def no_rows(world: World, rows: Rows) -> None:
    assert rows == []


def single_value(expected: Any) -> Check:
    def check(world: World, rows: Rows) -> None:
        assert [list(r.values()) for r in rows] == [[expected]]

    return check


def own_columns(world: World, rows: Rows) -> None:
    """DESCRIBE lists the columns of the caller's own stream (only the victim's has a password)."""
    names = {row["column_name"] for row in rows}
    assert {"_timestamp", "level", "msg"} <= names, names
    assert "password" not in names, names


def row_count(expected: int) -> Check:
    def check(world: World, rows: Rows) -> None:
        assert len(rows) == expected, rows

    return check


def spoofed_row_stays_the_attackers(world: World, rows: Rows) -> None:
    assert rows == [{"org_id": world.attacker, "org_id_field": world.victim}], rows


def self_join_is_attacker_squared(world: World, rows: Rows) -> None:
    assert rows == [{"a_org": world.attacker, "b_org": world.attacker, "n": ATTACKER_ROWS**2}], rows


def window_sees_attacker_rows(world: World, rows: Rows) -> None:
    assert rows == [{"org_id": world.attacker, "n": ATTACKER_ROWS}], rows


def pivot_of_attacker_levels(world: World, rows: Rows) -> None:
    assert rows == [{"org_id": world.attacker, "info": ATTACKER_ROWS - 1, "spoof": 1}], rows


@dataclass(frozen=True)
class Attack:
    id: str
    what: str
    sql: str  # placeholders: {attacker} {victim} {VICTIM} {bucket} {attacker_key} {victim_key} {tmp}
    status: int = 200  # 200: the query may run, confined; otherwise the refusal's status
    code: str | None = None  # the refusal's code (both envelopes carry the same one)
    check: Check | None = None  # for a query that runs: what its rows must be
    params: tuple[Any, ...] = ()  # /v1/api/sql only; the other routes have no params
    resource: bool = False  # runs until a time or row limit: fired alone, JSON only
    memory: bool = False  # allocates until the engine's cap: fired alone, under SMALL_ENGINE
    writes: tuple[str, ...] = field(default=())  # files under {tmp} that must not appear
    # /v1/api/sql only, where it differs: spec 004's SQL runs several statements, DDL and DML
    # (docs/sql.md). (status, code) of a refusal, or a check of the rows it answers.
    on_sql: tuple[int, str] | Check | None = None


NOT_FOUND, DENIED, INVALID = (404, "TABLE_NOT_FOUND"), (403, "PERMISSION_DENIED"), (400, "INVALID_SQL")
MEMORY = (400, "QUERY_MEMORY_EXCEEDED")
COPIES = ", ".join(["x"] * 1500)
VICTIM_FILES = "s3://{bucket}/lake/org={victim}/**/*.parquet"

ATTACKS: list[Attack] = [
    # --- naming the other org's data -----------------------------------------------
    Attack("victim-schema", "the victim's org id as a schema", 'SELECT * FROM "{victim}".app', *NOT_FOUND),
    Attack("victim-schema-quoted", "fully quoted", 'SELECT * FROM "{victim}"."app"', *NOT_FOUND),
    Attack("victim-schema-upper", "other case", 'SELECT * FROM "{VICTIM}".APP', *NOT_FOUND),
    Attack("catalog-qualified", "memory catalog", "SELECT * FROM memory.main.app", *NOT_FOUND),
    Attack("victim-catalog", "victim as catalog", 'SELECT * FROM "{victim}"."{victim}".app', *NOT_FOUND),
    Attack("victim-only-stream", "a stream only the victim has", "SELECT * FROM secrets", *NOT_FOUND),
    Attack("victim-only-main", "…qualified with main", "SELECT * FROM main.secrets", *NOT_FOUND),
    Attack("dotted-identifier", "schema and table in one quoted name", 'SELECT * FROM "{victim}.app"', *NOT_FOUND),
    Attack(
        "comment-in-qualified-name",
        "comments between the name's parts",
        'SELECT * FROM "{victim}"/**/./**/app',
        *NOT_FOUND,
    ),
    Attack(
        "own-schema",
        "the attacker's own org id as schema reads only its own stream",
        'SELECT org_id, msg FROM "{attacker}".app',
        check=only_attacker_rows,
    ),
    Attack(
        "union-victim",
        "union with the victim's stream",
        'SELECT org_id, msg FROM app UNION ALL SELECT org_id, msg FROM "{victim}".app',
        *NOT_FOUND,
    ),
    Attack(
        "union-victim-only-stream",
        "union with a stream only the victim has",
        "SELECT msg FROM app UNION ALL SELECT msg FROM secrets",
        *NOT_FOUND,
    ),
    Attack("join-victim", "join", 'SELECT b.msg FROM app a JOIN "{victim}".app b ON true', *NOT_FOUND),
    Attack("positional-join-victim", "DuckDB positional join", "SELECT * FROM app POSITIONAL JOIN secrets", *NOT_FOUND),
    Attack("scalar-subquery", "scalar subquery", 'SELECT (SELECT max(msg) FROM "{victim}".app) AS x', *NOT_FOUND),
    Attack(
        "exists-subquery",
        "EXISTS over the victim's stream",
        'SELECT count(*) FROM app WHERE EXISTS (SELECT 1 FROM "{victim}".secrets)',
        *NOT_FOUND,
    ),
    Attack(
        "in-subquery",
        "IN over a victim-only stream",
        "SELECT 1 FROM app WHERE msg IN (SELECT msg FROM secrets)",
        *NOT_FOUND,
    ),
    Attack(
        "concat-subquery",
        "string concatenation with a subquery",
        "SELECT 'a' || (SELECT max(msg) FROM \"{victim}\".app) AS x",
        *NOT_FOUND,
    ),
    Attack(
        "lateral-subquery",
        "lateral join",
        'SELECT v.msg FROM app, LATERAL (SELECT msg FROM "{victim}".app) v',
        *NOT_FOUND,
    ),
    Attack(
        "unnest-query", "unnest of a query", 'SELECT * FROM unnest((SELECT list(msg) FROM "{victim}".app))', *NOT_FOUND
    ),
    Attack(
        "table-function-arg",
        "an allowed table function fed by a subquery",
        'SELECT * FROM generate_series(1, (SELECT count(*) FROM "{victim}".app))',
        *NOT_FOUND,
    ),
    Attack(
        "lambda-over-subquery",
        "a lambda over a subquery's list",
        "SELECT list_filter((SELECT list(msg) FROM secrets), x -> true) AS l",
        *NOT_FOUND,
    ),
    # --- widening the tenant predicate -------------------------------------------------
    Attack(
        "or-true",
        "OR 1=1 after naming the victim",
        "SELECT org_id, msg FROM app WHERE org_id = '{victim}' OR 1=1",
        check=only_attacker_rows,
    ),
    Attack(
        "victim-org-filter", "filter on the victim's id", "SELECT * FROM app WHERE org_id = '{victim}'", check=no_rows
    ),
    Attack(
        "spoofed-org-field",
        "a row ingested claiming the victim's org id",
        "SELECT org_id, org_id_field FROM app WHERE org_id_field IS NOT NULL",
        check=spoofed_row_stays_the_attackers,
    ),
    Attack(
        "self-join",
        "a self-join does not widen the scope",
        "SELECT a.org_id AS a_org, b.org_id AS b_org, count(*) AS n FROM app a, app b GROUP BY ALL",
        check=self_join_is_attacker_squared,
    ),
    Attack(
        "window",
        "a window over the whole stream counts only the attacker's rows",
        "SELECT DISTINCT org_id, count(*) OVER () AS n FROM app",
        check=window_sees_attacker_rows,
    ),
    Attack(
        "alias-as-victim",
        "alias the stream as the victim",
        'SELECT org_id FROM app AS "{victim}"',
        check=only_attacker_rows,
    ),
    Attack("time-travel", "AT (VERSION => 1)", "SELECT org_id FROM app AT (VERSION => 1)", check=only_attacker_rows),
    Attack("sample", "USING SAMPLE", "SELECT org_id FROM app USING SAMPLE 100%", check=only_attacker_rows),
    Attack("struct-row", "the whole row as a struct", "SELECT app FROM app", check=row_count(ATTACKER_ROWS)),
    Attack(
        "pivot",
        "PIVOT over the stream",
        "SELECT * FROM (PIVOT app ON level USING count(*) GROUP BY org_id)",
        check=pivot_of_attacker_levels,
    ),
    # --- CTE and subquery shadowing ----------------------------------------------------
    Attack(
        "cte-shadow-read-parquet",
        "a CTE named like the stream reading the victim's files",
        f"WITH app AS (SELECT * FROM read_parquet('{VICTIM_FILES}')) SELECT * FROM app",
        *DENIED,
    ),
    Attack(
        "cte-named-victim-stream",
        "a CTE named like the victim's stream is just a CTE",
        "WITH secrets AS (SELECT * FROM app) SELECT org_id, msg FROM secrets",
        check=only_attacker_rows,
    ),
    Attack(
        "cte-self-reference",
        "a CTE's own name inside its body is the stream",
        "WITH app AS (SELECT * FROM app WHERE org_id = '{victim}' OR true) SELECT org_id FROM app",
        check=only_attacker_rows,
    ),
    Attack(
        "cte-then-qualified",
        "a CTE, then a qualified name",
        'WITH x AS (SELECT 1) SELECT * FROM "{victim}".x',
        *NOT_FOUND,
    ),
    Attack(
        "cte-own-body-catalog",
        "CTE named like a catalog view reading that view in its own body",
        "WITH pg_settings AS (SELECT name, setting FROM pg_settings) SELECT * FROM pg_settings",
        *NOT_FOUND,
    ),
    Attack(
        "cte-materialized-catalog",
        "…as MATERIALIZED",
        "WITH sqlite_master AS MATERIALIZED (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master",
        *NOT_FOUND,
    ),
    Attack(
        "cte-summarize-catalog",
        "…through SUMMARIZE, which the scope walk does not see into",
        "WITH duckdb_tables AS (FROM (SUMMARIZE duckdb_tables)) FROM duckdb_tables",
        *DENIED,
    ),
    Attack(
        "cte-forward-reference",
        "a CTE naming a later CTE binds to the catalog",
        "WITH a AS (SELECT * FROM duckdb_databases), duckdb_databases AS (SELECT 1 AS x) SELECT * FROM a",
        *NOT_FOUND,
    ),
    Attack(
        "recursive-cte-anchor",
        "a recursive CTE's anchor term naming itself binds to the catalog",
        "WITH RECURSIVE pg_settings(name) AS (SELECT name FROM pg_settings UNION ALL "
        "SELECT name FROM pg_settings WHERE false) SELECT * FROM pg_settings",
        *NOT_FOUND,
    ),
    Attack(
        "summarize-file-literal",
        "SUMMARIZE of a bare file path",
        "SELECT * FROM (SUMMARIZE 's3://{bucket}/{victim_key}')",
        *DENIED,
    ),
    Attack(
        "values-named-like-stream",
        "a VALUES list aliased as the stream",
        "SELECT * FROM (VALUES ('x')) AS app(msg)",
        check=single_value("x"),
    ),
    # --- files, globs and other readers -------------------------------------------------
    Attack("read-parquet-glob", "read_parquet with a glob", f"SELECT * FROM read_parquet('{VICTIM_FILES}')", *DENIED),
    Attack(
        "read-parquet-list",
        "read_parquet with a list of manifest files",
        "SELECT * FROM read_parquet(['s3://{bucket}/{victim_key}', 's3://{bucket}/{attacker_key}'])",
        *DENIED,
    ),
    Attack(
        "own-file-directly",
        "even the attacker's own file may not be read by path",
        "SELECT * FROM read_parquet('s3://{bucket}/{attacker_key}')",
        *DENIED,
    ),
    Attack("parquet-scan", "parquet_scan", "SELECT * FROM parquet_scan('s3://{bucket}/{victim_key}')", *DENIED),
    Attack(
        "parquet-metadata", "parquet_metadata", "SELECT * FROM parquet_metadata('s3://{bucket}/{victim_key}')", *DENIED
    ),
    Attack(
        "schema-qualified-reader",
        "system.main.read_parquet",
        f"SELECT * FROM system.main.read_parquet('{VICTIM_FILES}')",
        *DENIED,
    ),
    Attack(
        "file-as-table", "a victim file path as a table name", "SELECT * FROM 's3://{bucket}/{victim_key}'", *NOT_FOUND
    ),
    Attack("file-as-identifier", "…as a quoted identifier", 'SELECT * FROM "s3://{bucket}/{victim_key}"', *NOT_FOUND),
    Attack("read-csv", "read_csv of a local file", "SELECT * FROM read_csv('/etc/passwd')", *DENIED),
    Attack("read-json", "read_json_auto", "SELECT * FROM read_json_auto('/etc/hostname')", *DENIED),
    Attack("read-text", "read_text", "SELECT * FROM read_text('/etc/passwd')", *DENIED),
    Attack("glob", "glob", "SELECT * FROM glob('*')", *DENIED),
    Attack("sniff-csv", "sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", *DENIED),
    Attack("query-function", "query()", "SELECT * FROM query('SELECT 1')", *DENIED),
    Attack("query-table", "query_table()", "SELECT * FROM query_table('app')", *DENIED),
    Attack(
        "lateral-reader", "a reader in a lateral join", "SELECT * FROM app, LATERAL read_csv('/etc/passwd')", *DENIED
    ),
    # --- statements other than SELECT --------------------------------------------------
    Attack("attach", "ATTACH", "ATTACH ':memory:' AS x", *DENIED),
    Attack("attach-s3", "ATTACH a database in the lake", "ATTACH 's3://{bucket}/x.duckdb' AS x", *DENIED),
    Attack("copy-to", "COPY a stream to a file", "COPY app TO '{tmp}/copy.csv'", *DENIED, writes=("copy.csv",)),
    Attack(
        "copy-query-to",
        "COPY a query to parquet",
        "COPY (SELECT * FROM app) TO '{tmp}/copy.parquet' (FORMAT parquet)",
        *DENIED,
        writes=("copy.parquet",),
    ),
    Attack("export-database", "EXPORT DATABASE", "EXPORT DATABASE '{tmp}/export'", *INVALID, writes=("export",)),
    Attack("pragma-tables", "PRAGMA show_tables", "PRAGMA show_tables", *DENIED),
    Attack("pragma-databases", "PRAGMA database_list", "PRAGMA database_list", *DENIED),
    Attack("set-external-access", "SET", "SET enable_external_access = true", *DENIED),
    Attack("reset", "RESET", "RESET allowed_paths", *DENIED),
    Attack("load", "LOAD an extension", "LOAD httpfs", *DENIED),
    Attack("install", "INSTALL an extension", "INSTALL httpfs", *INVALID),
    Attack("create-table", "CREATE TABLE AS", "CREATE TABLE t AS SELECT * FROM app", *DENIED),
    Attack("create-macro", "CREATE MACRO", "CREATE MACRO m(a) AS a", *DENIED),
    Attack("create-secret", "CREATE SECRET", "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')", *DENIED),
    Attack("insert", "INSERT", "INSERT INTO app (msg) VALUES ('x')", *DENIED),
    Attack("update", "UPDATE", "UPDATE app SET msg = 'x'", *DENIED),
    Attack("delete", "DELETE", "DELETE FROM app", *DENIED),
    Attack("drop", "DROP", "DROP TABLE app", *INVALID, on_sql=DENIED),  # a viewer changes no catalog
    Attack("select-into", "SELECT INTO", "SELECT * INTO t FROM app", *DENIED),
    Attack("call", "CALL", "CALL pragma_version()", *DENIED),
    Attack("explain", "EXPLAIN (plans name files)", "EXPLAIN SELECT * FROM app", *DENIED),
    Attack("describe", "DESCRIBE", "DESCRIBE app", *DENIED, on_sql=own_columns),
    Attack("summarize", "SUMMARIZE", "SUMMARIZE app", *DENIED),
    Attack("show", "SHOW TABLES in FROM", "SELECT * FROM (SHOW TABLES)", *NOT_FOUND),
    Attack("use", "USE the victim's schema", 'USE "{victim}"', *DENIED, on_sql=INVALID),  # no such namespace name
    Attack("prepare", "PREPARE", "PREPARE p AS SELECT * FROM secrets", *DENIED),
    # --- the catalogue and the environment ---------------------------------------------
    Attack("information-schema", "information_schema", "SELECT * FROM information_schema.tables", *NOT_FOUND),
    Attack("pg-catalog", "pg_catalog", "SELECT * FROM pg_catalog.pg_class", *NOT_FOUND),
    Attack("pg-settings", "an unqualified catalog view", "SELECT * FROM pg_settings", *NOT_FOUND),
    Attack("sqlite-master", "sqlite_master", "SELECT * FROM sqlite_master", *NOT_FOUND),
    Attack("duckdb-tables-view", "duckdb_tables as a view", "SELECT * FROM duckdb_tables", *NOT_FOUND),
    Attack("duckdb-settings", "duckdb_settings()", "SELECT * FROM duckdb_settings()", *DENIED),
    Attack("duckdb-secrets", "duckdb_secrets()", "SELECT * FROM duckdb_secrets()", *DENIED),
    Attack("pragma-function", "pragma_database_list()", "SELECT * FROM pragma_database_list()", *DENIED),
    Attack("current-setting", "current_setting", "SELECT current_setting('allowed_paths') AS p", *DENIED),
    Attack("getenv", "getenv", "SELECT getenv('AWS_SECRET_ACCESS_KEY') AS k", *DENIED),
    Attack("which-secret", "which_secret", "SELECT * FROM which_secret('s3://{bucket}/x', 's3')", *DENIED),
    Attack("columns-star", "COLUMNS()", "SELECT COLUMNS(*) FROM app", *DENIED),
    # --- more than one statement, comments, quoting ------------------------------------
    Attack("two-statements", "a second statement", "SELECT 1; ATTACH ':memory:' AS x", *INVALID, on_sql=DENIED),
    Attack(
        "two-selects",
        "a second SELECT",
        'SELECT * FROM "app"; SELECT * FROM "{victim}".app',
        *INVALID,
        on_sql=NOT_FOUND,
    ),
    Attack(
        "cr-comment",
        "a CR ends a line comment",
        "SELECT 1 AS one --\r; ATTACH ':memory:' AS x",
        *INVALID,
        on_sql=DENIED,
    ),
    Attack("line-comment", "a trailing line comment", "SELECT 1 AS one -- ; DROP TABLE app", check=single_value(1)),
    Attack(
        "comment-closer-in-line-comment",
        "*/ inside a line comment the rewrite turns into a block comment",
        "SELECT 1 AS one -- */ ; ATTACH ':memory:' AS x",
        check=single_value(1),
    ),
    Attack(
        "nested-block-comment",
        "nested block comments",
        "SELECT 1 AS one /* outer /* inner */ ; ATTACH ':memory:' AS x */",
        check=single_value(1),
    ),
    Attack("comment-in-keyword", "a comment inside a keyword", "SEL/**/ECT 1", *INVALID),
    Attack(
        "hint-comment",
        "an optimizer hint comment",
        "SELECT /*+ read_parquet('{victim_key}') */ org_id FROM app",
        check=only_attacker_rows,
    ),
    Attack("unterminated-string", "an unterminated string", "SELECT 'abc", *INVALID),
    Attack("unterminated-comment", "an unterminated comment", "SELECT 1 /* ; ATTACH ':memory:' AS x", *INVALID),
    Attack(
        "e-string-escape",
        "an escaped quote in an E'' string",
        "SELECT E'it\\'s; ATTACH '':memory:'' AS x' AS s",
        check=single_value("it's; ATTACH ':memory:' AS x"),
    ),
    Attack(
        "dollar-quoted",
        "a dollar-quoted string",
        "SELECT $q$'; ATTACH ':memory:' AS x; --$q$ AS s",
        check=single_value("'; ATTACH ':memory:' AS x; --"),
    ),
    Attack("backslash", "a backslash is not an escape", "SELECT 'a\\' AS s", check=single_value("a\\")),
    Attack("fullwidth-lookalike", "a full-width lookalike letter", 'SELECT * FROM "\uff41pp"', *NOT_FOUND),
    Attack("cyrillic-lookalike", "a Cyrillic lookalike letter", 'SELECT * FROM "s\u0435crets"', *NOT_FOUND),
    Attack("zero-width", "a zero-width space", 'SELECT * FROM "app\u200b"', *NOT_FOUND),
    Attack("lone-surrogate", "text that is not valid Unicode (refused as JSON)", "SELECT '\ud800' AS s", 400),
    Attack("nul-byte", "a NUL, where DuckDB's parser stops reading", "SELECT 'a\x00' || (SELECT 1) AS s", *INVALID),
    Attack(
        "deep-nesting",
        "parentheses nested past the parser's recursion",
        "SELECT " + "(" * 3000 + "1" + ")" * 3000,
        *INVALID,
    ),
    Attack(
        "long-predicate",
        "a long but legitimate predicate",
        "SELECT org_id FROM app WHERE " + " OR ".join(f"msg = '{i}'" for i in range(500)) + " OR true",
        check=only_attacker_rows,
    ),
    # --- parameters and reserved names ------------------------------------------------------
    Attack(
        "param-injection",
        "a $1 value carrying SQL",
        "SELECT org_id, msg FROM app WHERE msg = $1",
        check=no_rows,
        params=('x\' UNION ALL SELECT org_id, msg FROM "{victim}".app --',),
    ),
    Attack(
        "param-tautology",
        "a $1 value that would be a tautology if spliced",
        "SELECT org_id FROM app WHERE level = $1",
        check=no_rows,
        params=("' OR '1'='1",),
    ),
    Attack("param-missing", "more placeholders than params", "SELECT $2 AS x", *INVALID, params=("a",)),
    Attack("param-named", "a named parameter", "SELECT $victim AS x", *INVALID),
    Attack("param-surrogate", "a param that is not valid Unicode", "SELECT $1 AS x", 400, params=("\udfff",)),
    Attack("reserved-alias", "the reserved __ms_ prefix", "SELECT 1 AS __ms_scan", *DENIED),
    Attack("reserved-cte", "…as a CTE", "WITH __ms_scan AS (SELECT 1) SELECT * FROM __ms_scan", *DENIED),
    # --- values beyond 64 bits: exact (decimal text past what a 64-bit integer holds), or 400 ----
    Attack(
        "sum-beyond-64-bits",
        "a HUGEINT sum over the stream past 2^64",
        "SELECT sum(_timestamp) * 10000 AS s FROM app",
        check=single_value(str(ATTACKER_TIMESTAMP_SUM * 10000)),
    ),
    Attack(
        "sum-of-int64-max",
        "sum(9223372036854775807) over three rows",
        "SELECT sum(9223372036854775807) AS s FROM range(3)",
        check=single_value("27670116110564327421"),
    ),
    Attack(
        "hugeint-literal",
        "the largest HUGEINT literal",
        "SELECT 170141183460469231731687303715884105727 AS h",
        check=single_value("170141183460469231731687303715884105727"),
    ),
    Attack(
        "hugeint-negative-literal",
        "a negative 128-bit literal",
        "SELECT -170141183460469231731687303715884105727 AS h",
        check=single_value("-170141183460469231731687303715884105727"),
    ),
    Attack(
        "hugeint-overflow",
        "HUGEINT arithmetic past 2^127",
        "SELECT 170141183460469231731687303715884105727 + 1 AS h",
        *INVALID,
    ),
    Attack(
        "uint64-max",
        "the largest UBIGINT stays a JSON number",
        "SELECT 18446744073709551615::UBIGINT AS u",
        check=single_value(18446744073709551615),
    ),
    Attack(
        "int64-min-minus-one",
        "one below the smallest BIGINT",
        "SELECT -9223372036854775808::HUGEINT - 1 AS h",
        check=single_value("-9223372036854775809"),
    ),
    Attack(
        "decimal-38-digits",
        "a DECIMAL(38, 0) no float holds",
        "SELECT 12345678901234567890123456789012345678::DECIMAL(38, 0) AS d",
        check=single_value("12345678901234567890123456789012345678"),
    ),
    Attack(
        "decimal-fraction",
        "a DECIMAL(38, 2) with more digits than a float keeps",
        "SELECT 1234567890123456789.25::DECIMAL(38, 2) AS d",
        check=single_value("1234567890123456789.25"),
    ),
    Attack(
        "param-beyond-64-bits",
        "a $1 of 2^100",
        "SELECT $1 AS p",
        check=single_value(str(2**100)),
        params=(2**100,),
    ),
    Attack(
        "param-below-int64",
        "a $1 of -2^63 - 1",
        "SELECT $1 AS p",
        check=single_value(str(-(2**63) - 1)),
        params=(-(2**63) - 1,),
    ),
    Attack(
        "param-beyond-128-bits",
        "a $1 of 2^200 (the engine reads it as a DOUBLE)",
        "SELECT $1 AS p",
        check=single_value(float(2**200)),
        params=(2**200,),
    ),
    Attack(
        "param-in-filter-beyond-64-bits",
        "a filter comparing the stream's BIGINT to 2^100",
        "SELECT count(*) AS n FROM app WHERE _timestamp < $1",
        check=single_value(ATTACKER_ROWS),
        params=(2**100,),
    ),
    # --- resources: bounded, not crashed ----------------------------------------------------
    Attack(
        "huge-range", "a billion rows", "SELECT * FROM range(1000000000)", 400, "QUERY_LIMIT_EXCEEDED", resource=True
    ),
    Attack(
        "infinite-recursion",
        "a recursive CTE that never ends",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
        400,
        "QUERY_TIMEOUT",
        resource=True,
    ),
    # --- memory: values that would grow past what one query may use (issue 11, item 4) ---------
    # Sizes written as literals are refused before the engine runs, with the function named.
    Attack("repeat-huge", "repeat() of 1.5e9: a 1.5 GB answer before", "SELECT repeat('x', 1500000000) AS s", *MEMORY),
    Attack("lpad-huge", "lpad to 1.5e9 characters", "SELECT lpad('a', 1500000000, 'x') AS s", *MEMORY),
    Attack("rpad-huge", "rpad to 1.5e9 characters", "SELECT rpad('a', 1500000000, 'x') AS s", *MEMORY),
    Attack("printf-width", "a printf width of 1.5e9", "SELECT printf('%01500000000d', 1) AS s", *MEMORY),
    Attack(
        "printf-star", "a printf width taken from an argument", "SELECT printf('%0*d', 1500000000, 1) AS s", *MEMORY
    ),
    Attack("format-width", "a format width of 1.5e9", "SELECT format('{{:>1500000000}}', 'x') AS s", *MEMORY),
    Attack(
        "format-nested", "a format width from an argument", "SELECT format('{{:>{{}}}}', 'x', 1500000000) AS s", *MEMORY
    ),
    Attack(
        "unnest-range",
        "unnest of a 1e8-element list: 15 GB RSS before",
        "SELECT count(*) FROM unnest(range(100000000))",
        *MEMORY,
    ),
    Attack("scalar-range", "a scalar range of 3e7 elements", "SELECT length(range(30000000)) AS n", *MEMORY),
    Attack(
        "timestamp-range",
        "a list of every second of 130 years",
        "SELECT length(range(TIMESTAMP '1970-01-01', TIMESTAMP '2100-01-01', INTERVAL 1 SECOND)) AS n",
        *MEMORY,
    ),
    Attack(
        "replace-amplification",
        "replace() nested to grow a value tenfold per level",
        "SELECT length(" + "replace(" * 8 + "repeat('x', 1000)" + ", 'x', 'xxxxxxxxxx')" * 8 + ") AS n",
        *MEMORY,
    ),
    Attack(
        "concat-literal-copies",
        "concat() of 1,500 copies of a 1 MB literal value",
        "SELECT length(concat(" + ", ".join(["repeat('x', 1000000)"] * 1500) + ")) AS n",
        *MEMORY,
    ),
    Attack("list-repeat", "repeat() of a list", "SELECT length(repeat([1, 2, 3], 100000000)) AS n", *MEMORY),
    # Sizes that come from data: nothing refuses them up front; the engine process's cap holds.
    Attack(
        "concat-column-copies",
        "concat() of 1,500 copies of a 1 MB column value",
        f"WITH v AS (SELECT repeat('x', 1000000) AS x) SELECT length(concat({COPIES})) AS n FROM v",
        *MEMORY,
        memory=True,
    ),
    Attack(
        "repeat-from-column",
        "repeat() with its count from a column",
        "SELECT length(repeat('x', k)) AS n FROM (SELECT 1500000000 AS k)",
        *MEMORY,
        memory=True,
    ),
    Attack(
        "lpad-from-column",
        "lpad() with its length from a column",
        "SELECT length(lpad('a', k, 'x')) AS n FROM (SELECT 1500000000 AS k)",
        *MEMORY,
        memory=True,
    ),
    Attack(
        "range-from-column",
        "a scalar range sized by a column",
        "SELECT length(range(k)) AS n FROM (SELECT 100000000 AS k)",
        *MEMORY,
        memory=True,
    ),
    Attack(
        "format-from-data",
        "a format string built from data",
        "SELECT length(format(p, 'x')) AS n FROM (SELECT '{{:>' || 1500000000 || '}}' AS p)",
        *MEMORY,
        memory=True,
    ),
    Attack(
        "replace-from-column",
        "replace() amplification through a column",
        "WITH v AS (SELECT repeat('x', 10000000) AS x) SELECT length(replace(replace(x, 'x', "
        "'xxxxxxxxxx'), 'x', 'xxxxxxxxxx')) AS n FROM v",
        *MEMORY,
        memory=True,
    ),
]

assert len({a.id for a in ATTACKS}) == len(ATTACKS) >= 40, "attack ids are unique, and there are at least 40"


# --- firing them -------------------------------------------------------------------------
# /v1/api/sql and /api/v1/query for every attack; /api/v1/query as NDJSON for those that run
# (a refusal happens in the same plan step, before any streaming starts) and for the memory
# attacks (they fail before their first row, so the stream answers with a 4xx, not a row).
ROUTES = ("sql", "query", "ndjson")
CASES = [
    pytest.param(attack, route, id=f"{attack.id}-{route}")
    for attack in ATTACKS
    for route in ROUTES
    if route != "ndjson" or (attack.status == 200 and not attack.resource) or attack.code == MEMORY[1]
]


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def answers(
    request: pytest.FixtureRequest, http: httpx.Client, world: World, before: dict[str, Any]
) -> dict[tuple[str, str], Future[httpx.Response]]:
    """Every selected case, fired once (each case then judges its own answer): the corpus
    concurrently, then the resource attacks one by one under a short engine timeout, then the
    memory attacks one by one under a small engine address space."""
    selected: list[tuple[Attack, str]] = [
        (item.callspec.params["attack"], item.callspec.params["route"])
        for item in request.session.items
        if item.module is request.module and "attack" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = {
            (a.id, route): pool.submit(_send, http, world, a, route)
            for a, route in selected
            if not (a.resource or a.memory)
        }
    with query_settings(QUERY_TIMEOUT_S=QUERY_TIMEOUT_S), ThreadPoolExecutor(max_workers=1) as alone:
        for a, route in selected:
            if a.resource:
                answers[(a.id, route)] = alone.submit(_send, http, world, a, route)
    with query_settings(**SMALL_ENGINE), ThreadPoolExecutor(max_workers=1) as alone:
        for a, route in selected:
            if a.memory:
                answers[(a.id, route)] = alone.submit(_send, http, world, a, route)
    return answers


def _send(client: httpx.Client, world: World, attack: Attack, route: str) -> httpx.Response:
    body: dict[str, Any] = {"sql": world.fill(attack.sql)}
    if route == "sql":
        body["params"] = [world.fill(p) if isinstance(p, str) else p for p in attack.params]
        path, accept = "/v1/api/sql", "application/json"
    else:
        body["time_range"] = {"start": T0 - HOUR, "end": T0 + 2 * HOUR}  # covers every row of both orgs
        path = "/api/v1/query"
        accept = "application/x-ndjson" if route == "ndjson" else "application/json"
    # Serialised here (ASCII-escaped): httpx's own encoder cannot send a lone surrogate.
    headers = {**world.viewer.headers, "content-type": "application/json", "accept": accept}
    return client.post(path, content=json.dumps(body).encode(), headers=headers)


def _rows(route: str, response: httpx.Response) -> Rows:
    if route == "ndjson":
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.text.splitlines() if line]
    body = response.json()
    if route == "query":
        return list(body["rows"])
    result = body["results"][0]
    names = [f["name"] for f in result["schema"]]
    return [dict(zip(names, row, strict=True)) for row in result["rows"]]


def _assert_no_leak(world: World, attack: Attack, response: httpx.Response) -> None:
    """Nothing of the victim's in the raw answer, whatever its status.

    The marker is in no attack; a victim path or key is only checked for when the attack did
    not itself spell it out (an error may quote the caller's own SQL back)."""
    text = response.text
    assert world.victim_marker not in text, f"victim rows leaked: {text[:2000]}"
    sent = world.fill(attack.sql + json.dumps(attack.params)).lower()
    for secret in (f"org={world.victim}", *world.victim_keys):
        if secret.lower() not in sent:
            assert secret.lower() not in text.lower(), f"victim path leaked: {text[:2000]}"


def _assert_refused(route: str, response: httpx.Response, status: int, code: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if route == "sql":  # spec 004's envelope
        assert body["status"] == "error" and body["results"] == [], body
        assert body["error"]["message"] and "details" in body["error"], body
        found = body["error"]["code"]
    else:  # spec 000's envelope
        assert isinstance(body["error"], str) and body["error"], body
        found = body["code"]
    if code is not None:
        assert found == code, body


@pytest.mark.parametrize(("attack", "route"), CASES)
def test_attack_is_refused_or_confined(
    answers: dict[tuple[str, str], Future[httpx.Response]], world: World, attack: Attack, route: str
) -> None:
    response = answers[(attack.id, route)].result()
    assert response.status_code < 500, f"{attack.what}: {response.status_code} {response.text[:500]}"
    _assert_no_leak(world, attack, response)
    status, code = attack.status, attack.code
    check = attack.check
    if attack.params and route != "sql":
        status, code = INVALID  # /api/v1/query takes no params: the placeholder stays unbound
    if route == "sql" and isinstance(attack.on_sql, tuple):
        status, code = attack.on_sql
    elif route == "sql" and attack.on_sql is not None:
        status, code, check = 200, None, attack.on_sql
    if status != 200:
        _assert_refused(route, response, status, code)
    else:
        assert response.status_code == 200, f"{attack.what}: {response.text[:500]}"
        assert check is not None
        check(world, _rows(route, response))
    for name in attack.writes:
        assert not (world.tmp / name).exists(), f"{attack.what} wrote {name}"


def test_nothing_was_written(
    answers: dict[tuple[str, str], Future[httpx.Response]], world: World, before: dict[str, Any]
) -> None:
    """After the corpus has run: no file, no S3 object, no victim item appeared."""
    assert all(answer.done() for answer in answers.values())
    assert list(world.tmp.iterdir()) == []
    assert _s3_objects() == before["s3"]
    after = _victim_items(world.victim)
    assert set(after) <= set(before["items"]), set(after) - set(before["items"])
    changed = [key for key in after if after[key] != before["items"][key]]
    assert changed == []
    gone = [before["items"][key] for key in set(before["items"]) - set(after)]
    assert all("expires_at" in item for item in gone), gone  # only TTL'd counters may lapse
