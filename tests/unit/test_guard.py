"""The tenant-safe rewrite and the engine's last line, checked without HTTP or AWS.

The integration corpus (tests/integration/test_hostile_sql.py) proves nothing leaks end to
end; these pin the rules it relies on, each against what DuckDB itself does."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from molesignal.errors import DomainError
from molesignal.query.deadline import Deadline
from molesignal.query.duck import DuckEngine
from molesignal.query.errors import InvalidSql, PermissionDenied, TableNotFound
from molesignal.query.guard import GuardedQuery, StreamScan, analyze_query, rewrite_query

ORG = "org-attacker"
STREAMS = {"app"}
FILE = "s3://lake/lake/org=org-attacker/stream=app/f.parquet"


def _rewrite(sql: str, params: tuple[Any, ...] = ()) -> GuardedQuery:
    def scan_for(stream: str) -> StreamScan:
        return StreamScan(stream=stream, uris=(FILE,), columns={"msg": "string"})

    return rewrite_query(
        sql, org_id=ORG, known_streams=STREAMS, scan_for=scan_for, start_us=0, end_us=10, params=params
    )


def _stream_references(sql: str) -> int:
    """How many times the rewrite scans the stream (each reference becomes one scan)."""
    return _rewrite(sql).sql.count(FILE)


# --- CTE visibility: exactly DuckDB's, so no name is left for its catalog --------------
@pytest.mark.parametrize(
    ("sql", "scans"),
    [
        pytest.param("WITH x AS (SELECT 1 AS a) SELECT * FROM x", 0, id="main-body-sees-cte"),
        pytest.param("WITH x AS MATERIALIZED (SELECT 1 AS a) SELECT * FROM x", 0, id="materialized"),
        pytest.param("WITH X AS (SELECT 1 AS a) SELECT * FROM x", 0, id="ascii-case-insensitive"),
        pytest.param("WITH app AS (SELECT * FROM app) SELECT * FROM app", 1, id="own-body-is-the-stream"),
        pytest.param("WITH a AS (SELECT 1 AS n), b AS (SELECT * FROM a) SELECT * FROM b", 0, id="earlier-cte"),
        pytest.param(
            "WITH app AS (SELECT 1 AS a) SELECT * FROM (WITH x AS (SELECT * FROM app) SELECT * FROM x)",
            0,
            id="outer-cte-inside-inner-body",
        ),
        pytest.param(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
            0,
            id="recursive-term",
        ),
        pytest.param(
            "WITH RECURSIVE app(m) AS (SELECT msg FROM app UNION ALL SELECT m FROM app WHERE false) SELECT * FROM app",
            1,
            id="recursive-anchor-is-the-stream",
        ),
        pytest.param(
            "WITH RECURSIVE app AS (SELECT * FROM app) SELECT * FROM app", 1, id="recursive-without-union-is-the-stream"
        ),
        pytest.param(
            "WITH t AS (SELECT 'x' AS level) SELECT * FROM (PIVOT t ON level USING count(*))", 0, id="pivot-over-cte"
        ),
        pytest.param("SELECT * FROM (PIVOT app ON level USING count(*))", 1, id="pivot-over-stream"),
        pytest.param("SELECT * FROM app a, app b", 2, id="self-join"),
        pytest.param("SELECT 1 AS x", 0, id="no-table"),
    ],
)
def test_cte_references_are_told_from_streams(sql: str, scans: int) -> None:
    assert _stream_references(sql) == scans


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("WITH pg_settings AS (SELECT * FROM pg_settings) SELECT * FROM pg_settings", id="own-body"),
        pytest.param(
            "WITH a AS (SELECT * FROM sqlite_master), sqlite_master AS (SELECT 1) SELECT * FROM a", id="forward"
        ),
        pytest.param(
            "WITH RECURSIVE pg_settings(n) AS (SELECT name FROM pg_settings UNION ALL "
            "SELECT n FROM pg_settings WHERE false) SELECT * FROM pg_settings",
            id="recursive-anchor",
        ),
        pytest.param("(WITH p AS (SELECT 1) SELECT * FROM p) UNION ALL (SELECT * FROM p)", id="other-union-branch"),
        pytest.param('WITH "\u00c4" AS (SELECT 1) SELECT * FROM "\u00e4"', id="non-ascii-case-differs"),
        pytest.param("SELECT * FROM (PIVOT duckdb_tables ON a USING count(*))", id="pivot-target"),
    ],
)
def test_names_the_engine_would_find_in_its_catalogue_are_streams(sql: str) -> None:
    """Each of these binds to a DuckDB catalogue view, not a CTE: the guard must not let it through."""
    with pytest.raises(TableNotFound):
        _rewrite(sql)


def test_the_cases_above_match_duckdb() -> None:
    """The premise of the two tests above, asked of DuckDB itself."""
    con = duckdb.connect()
    own_body = "WITH pg_settings AS (SELECT 1 AS n) SELECT count(*) FROM pg_settings"
    assert con.execute(own_body).fetchall() == [(1,)]  # the CTE shadows the view in the main body
    in_body = "WITH pg_settings AS (SELECT count(*) AS n FROM pg_settings) SELECT n > 1 FROM pg_settings"
    assert con.execute(in_body).fetchall() == [(True,)]  # ...but its own body reads the view
    anchor = (
        "WITH RECURSIVE pg_settings(name) AS (SELECT name FROM pg_settings UNION ALL SELECT 'x') "
        "SELECT count(*) > 1 FROM pg_settings"
    )
    assert con.execute(anchor).fetchall() == [(True,)]  # so does a recursive CTE's anchor term
    with pytest.raises(duckdb.CatalogException):
        con.execute('WITH "\u00c4" AS (SELECT 1) SELECT * FROM "\u00e4"')  # only ASCII case folds


# --- refusals -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sql", "error"),
    [
        pytest.param("SELECT * FROM (SUMMARIZE 's3://lake/other.parquet')", PermissionDenied, id="summarize-literal"),
        pytest.param("WITH t AS (FROM (SUMMARIZE t)) FROM t", PermissionDenied, id="summarize-in-cte"),
        pytest.param("SELECT 'abc", InvalidSql, id="unterminated-string"),
        pytest.param('SELECT "abc', InvalidSql, id="unterminated-identifier"),
        pytest.param("SELECT 1 /* ; ATTACH ':memory:' AS x", InvalidSql, id="unterminated-comment"),
        pytest.param("SELECT $$abc", InvalidSql, id="unterminated-dollar-string"),
        pytest.param("SELECT '\ud800' AS x", InvalidSql, id="lone-surrogate"),
        pytest.param("SELECT 'a\x00' || (SELECT 1) AS x", InvalidSql, id="nul"),
        pytest.param("SELECT $victim AS x", InvalidSql, id="named-parameter"),
    ],
)
def test_refused(sql: str, error: type[DomainError]) -> None:
    with pytest.raises(error):
        _rewrite(sql)


@pytest.mark.parametrize("value", ["\udfff", "a\x00b"])
def test_params_the_engine_would_misread_are_refused(value: str) -> None:
    with pytest.raises(InvalidSql):
        _rewrite("SELECT $1 AS x", params=(value,))


def test_boolean_connectors_are_operators_not_functions() -> None:
    guarded = _rewrite("SELECT * FROM app WHERE msg = 'a' OR msg = 'b' AND NOT msg = 'c' OR (msg = 'd' AND true)")
    assert guarded.streams == ("app",)


# --- parameters ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        pytest.param("SELECT $2 AS b, $1 AS a", ("A", "B"), "SELECT 'B' AS b, 'A' AS a", id="numbered"),
        pytest.param("SELECT $1 AS a, $1 AS again", ("A",), "SELECT 'A' AS a, 'A' AS again", id="reused"),
        pytest.param("SELECT ? AS a, ? AS b", ("A", "B"), "SELECT 'A' AS a, 'B' AS b", id="positional"),
        pytest.param("SELECT $1 AS a", ("x' OR '1'='1",), "SELECT 'x'' OR ''1''=''1' AS a", id="quoted"),
    ],
)
def test_params_bind_by_number(sql: str, params: tuple[Any, ...], expected: str) -> None:
    assert analyze_query(sql, org_id=ORG, params=params).tree.sql(dialect="duckdb") == expected


@pytest.mark.parametrize(("sql", "params"), [("SELECT $2 AS x", ("A",)), ("SELECT $0 AS x", ("A",)), ("SELECT ?", ())])
def test_params_without_a_value_are_refused(sql: str, params: tuple[Any, ...]) -> None:
    with pytest.raises(InvalidSql):
        analyze_query(sql, org_id=ORG, params=params)


# --- the engine runs one SELECT and nothing else -----------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH ':memory:' AS x",  # needs no external access, so only this check stops it
        "SELECT 1; ATTACH ':memory:' AS x",
        "SELECT 1 AS a; SELECT 2 AS b",
        "CREATE TYPE e AS ENUM ('a'); SELECT 1",
        "SET threads = 1",
        "",
    ],
)
def test_engine_refuses_anything_but_one_select(sql: str) -> None:
    with pytest.raises(PermissionDenied):
        DuckEngine().execute(sql, (), max_rows=10, deadline=Deadline(5))


def test_engine_runs_a_pivot_over_values_from_the_data() -> None:
    """DuckDB expands it into a generated CREATE TYPE (no source text) before the SELECT."""
    sql = "WITH t AS (SELECT 'a' AS k, 1 AS v UNION ALL SELECT 'b', 2) SELECT * FROM (PIVOT t ON k USING sum(v))"
    assert DuckEngine().execute(sql, (), max_rows=10, deadline=Deadline(5)).rows == [(1, 2)]


def test_engine_resolves_no_python_variable_as_a_table() -> None:
    result = DuckEngine().execute(
        "SELECT current_setting('python_enable_replacements') AS v", (), max_rows=1, deadline=Deadline(5)
    )
    assert result.rows == [(False,)]


def test_engine_stream_fails_before_the_response_starts() -> None:
    """A refused or broken statement raises on the call, not while a 200 is being streamed."""
    with pytest.raises(InvalidSql):
        DuckEngine().stream("SELECT no_such_column", (), deadline=Deadline(5))
    with pytest.raises(PermissionDenied):
        DuckEngine().stream("ATTACH ':memory:' AS x", (), deadline=Deadline(5))
    chunks = DuckEngine().stream("SELECT 1 AS one", (), deadline=Deadline(5))
    assert b"".join(chunks) == b'{"one":1}\n'


def test_regexp_full_match_is_allowed_though_sqlglot_types_it() -> None:
    from molesignal.query.guard import analyze_query

    assert analyze_query("SELECT regexp_full_match(msg, 'a.*') FROM app", org_id="o").streams == ("app",)
