"""Values sized from literals: refused above the limit, left alone when unknown or small."""

from __future__ import annotations

import pytest
import sqlglot

from molesignal.query.errors import QueryMemoryExceeded
from molesignal.query.value_bounds import check_value_sizes

LIMIT = 64 * 1024 * 1024


def check(sql: str) -> None:
    check_value_sizes(sqlglot.parse_one(sql, read="duckdb"), limit=LIMIT)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT repeat('x', 1500000000)", "repeat()"),
        ("SELECT repeat('xy', 40000000)", "repeat()"),  # 80 MB: the value's size counts, not the count
        ("SELECT repeat(msg, 100000000) FROM app", "repeat()"),  # more copies than bytes allowed
        ("SELECT repeat([1, 2, 3], 10000000)", "repeat()"),
        ("SELECT lpad('a', 1500000000, 'x')", "lpad()"),
        ("SELECT rpad(msg, 1500000000, 'x') FROM app", "rpad()"),
        ("SELECT lpad('a', 40000000, 'é')", "lpad()"),  # 80 MB of a two-byte character
        ("SELECT printf('%01500000000d', 1)", "printf()"),
        ("SELECT printf('%.1500000000f', 1.5)", "printf()"),
        ("SELECT printf('%*d', 5, 1)", "printf()"),
        ("SELECT format('{:>1500000000}', 'x')", "format()"),
        ("SELECT format('{0:>{1}}', 'x', 5)", "format()"),
        ("SELECT range(30000000)", "range()"),
        ("SELECT generate_series(1, 30000000)", "generate_series()"),
        ("SELECT range(TIMESTAMP '1970-01-01', TIMESTAMP '2100-01-01', INTERVAL 1 SECOND)", "range()"),
        ("SELECT range(DATE '1970-01-01', DATE '2100-01-01', INTERVAL '1 minute')", "range()"),
        ("SELECT count(*) FROM unnest(range(100000000))", "range()"),
        (
            "SELECT replace(replace(replace(repeat('x', 1000000), 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx'), 'x', 'xx')",
            "replace()",
        ),
        ("SELECT regexp_replace(repeat('a', 10000000), 'a*', 'bbbbbbbb', 'g')", "regexp_replace()"),
        ("SELECT concat(repeat('x', 40000000), repeat('y', 40000000))", "concat()"),
        ("SELECT repeat('x', 40000000) || repeat('y', 40000000)", "||"),
        ("SELECT upper(repeat(repeat('x', 10000), 10000))", "repeat()"),  # nested amplification
    ],
)
def test_refused_with_the_function_named(sql: str, named: str) -> None:
    with pytest.raises(QueryMemoryExceeded, match=r"QUERY_MEMORY_EXCEEDED: .*" + named.replace("|", r"\|")):
        check(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT repeat('x', 1000), lpad(msg, 20, ' '), rpad('a', 100, 'x') FROM app",
        "SELECT printf('%5d|%-10s|%.3f', 1, 'a', 1.5), printf('%%d'), format('{:>10}|{:.2f}', 'x', 1.5)",
        "SELECT * FROM range(1000000000)",  # a table function: rows stream, bounded by the row limit
        "SELECT x FROM app, range(10) AS r(x)",
        "SELECT range(100), generate_series(1, 10, 2), range(10, 0, -1)",
        "SELECT range(TIMESTAMP '2020-01-01', TIMESTAMP '2020-01-02', INTERVAL 1 HOUR)",
        "SELECT replace(msg, 'a', 'bbbb') FROM app",  # sized by data: the engine's cap holds
        "SELECT replace(repeat('x', 1000), 'x', 'xxxxxxxxxx')",
        "SELECT repeat(msg, n) FROM app",  # both unknown
        "SELECT printf(msg, 1) FROM app",  # a format from data
        "SELECT concat(msg, repeat('x', 1000)) FROM app",
        "SELECT strftime(now(), '%Y-%m-%d %H:%M:%S')",
    ],
)
def test_left_to_the_engine(sql: str) -> None:
    check(sql)


def test_the_limit_is_the_setting_passed() -> None:
    tree = sqlglot.parse_one("SELECT repeat('x', 2000)", read="duckdb")
    check_value_sizes(tree, limit=2000)
    with pytest.raises(QueryMemoryExceeded, match="at most 1,999 bytes"):
        check_value_sizes(tree, limit=1999)
