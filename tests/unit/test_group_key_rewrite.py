"""Time buckets grouped by their index (query/optimize.py): which keys are rewritten, which
are left alone, and that DuckDB gives the same answer either way."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molesignal.query.guard import StreamScan, analyze_query, confine, duckdb_renderer, duckdb_sql

ORG = "o1"


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StreamScan]:
    root = tmp_path_factory.mktemp("lake")
    # Negative and positive times, a bucket edge on both sides, nulls in another column.
    timestamps = [-7_000_001, -300, -1, 0, 1, 299, 300, 301, 59_999_999, 60_000_000, 3_600_000_123, 86_399_999_999]
    table = pa.table(
        {
            "_timestamp": pa.array(timestamps, pa.int64()),
            "org_id": [ORG] * len(timestamps),
            "level": ["info", "warn", None, "info", "error", "info", "warn", "info", "info", "error", "warn", "info"],
            "code": pa.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], pa.int64()),
        }
    )
    path = root / "a.parquet"
    pq.write_table(table, path)
    other = root / "b.parquet"
    pq.write_table(pa.table({"_timestamp": pa.array([5, 6], pa.int64()), "org_id": [ORG] * 2}), other)
    columns = {"level": "string", "code": "int64", "bucket": "int64"}
    return {
        "logs": StreamScan("logs", (str(path),), columns, inside=frozenset({str(path)})),
        "other": StreamScan("other", (str(other),), {}, inside=frozenset({str(other)})),
    }


def _engine_sql(sql: str, scans: dict[str, StreamScan], *, optimise: bool) -> str:
    analysis = analyze_query(sql, org_id=ORG)
    if optimise:
        return duckdb_sql(analysis, org_id=ORG, known_streams=set(scans), scans=scans, start_us=None, end_us=None)
    return confine(analysis, known_streams=set(scans), scans=scans, render=duckdb_renderer(ORG, None, None))


def _group_keys(sql: str, scans: dict[str, StreamScan]) -> str:
    engine_sql = _engine_sql(sql, scans, optimise=True)
    return engine_sql[engine_sql.rindex("GROUP BY") :]


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("SELECT _timestamp // 300 * 300 AS b, count(*) FROM logs GROUP BY b", "GROUP BY _timestamp // 300"),
        ("SELECT _timestamp // 300 * 300, count(*) FROM logs GROUP BY 1", "GROUP BY _timestamp // 300"),
        ("SELECT count(*) FROM logs GROUP BY _timestamp // 300 * 300", "GROUP BY _timestamp // 300"),
        ("SELECT 60 * (_timestamp // 60) AS b, count(*) FROM logs GROUP BY b", "GROUP BY _timestamp // 60"),
        ("SELECT (_timestamp // 60) * 60 + 7 AS b FROM logs GROUP BY b", "GROUP BY _timestamp // 60"),
        ("SELECT l._timestamp // 9 * 9 AS b FROM logs AS l GROUP BY b", "GROUP BY l._timestamp // 9"),
        ("SELECT 5 - _timestamp % 7 AS b FROM logs GROUP BY b", "GROUP BY _timestamp % 7"),
        ("SELECT _timestamp // 60 * -60 AS b FROM logs GROUP BY b, level", "GROUP BY _timestamp // 60, level"),
    ],
)
def test_a_scaled_time_bucket_is_grouped_by_its_index(sql: str, key: str, scans: dict[str, StreamScan]) -> None:
    assert _group_keys(sql, scans) == key


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT _timestamp / 300 * 300 AS b FROM logs GROUP BY b", "/ is float division"),
        ("SELECT _timestamp // 300 * 0 AS b FROM logs GROUP BY b", "times zero is not injective"),
        ("SELECT _timestamp // 300 * 1.5 AS b FROM logs GROUP BY b", "a non-integer factor"),
        ("SELECT code // 3 * 3 AS b FROM logs GROUP BY b", "only the time column's type is certain"),
        ("SELECT _timestamp // 300 * 300 AS bucket FROM logs GROUP BY bucket", "alias shadowed by a stream column"),
        (
            "WITH t AS (SELECT 1.5 AS _timestamp) SELECT _timestamp // 1 * 3 AS b FROM t GROUP BY b",
            "not a stream: its _timestamp may be a float",
        ),
        (
            "SELECT l._timestamp // 60 * 60 AS b FROM logs AS l JOIN other AS o ON true GROUP BY b",
            "a join",
        ),
        ("SELECT o._timestamp // 60 * 60 AS b FROM logs AS l GROUP BY b", "another relation's column"),
        ("SELECT _timestamp // 60 * 60 AS b FROM logs GROUP BY ROLLUP (b)", "grouping sets"),
        ("SELECT _timestamp // 60 * 60 AS b, count(*) FROM logs GROUP BY ALL", "GROUP BY ALL"),
        ("SELECT *, _timestamp // 60 * 60 FROM logs GROUP BY 2", "an ordinal next to a star"),
        ("SELECT _timestamp * 60 AS b FROM logs GROUP BY _timestamp // 60 * 60 + code", "a column in the key"),
        ("SELECT _timestamp // 60 * 60 AS _stream FROM logs GROUP BY _stream", "a column the writer adds"),
        (
            "SELECT _timestamp // 60 * 60 AS b, (SELECT count(*) FROM other) FROM logs GROUP BY b",
            "a nested query may refer to the key",
        ),
    ],
)
def test_other_keys_are_left_as_written(sql: str, why: str, scans: dict[str, StreamScan]) -> None:
    assert _engine_sql(sql, scans, optimise=True) == _engine_sql(sql, scans, optimise=False), why


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT _timestamp // 300 * 300 AS b, count(*) AS n FROM logs GROUP BY b ORDER BY b",
        "SELECT _timestamp // 300 * 300, count(*) FROM logs GROUP BY 1 ORDER BY 1",
        "SELECT _timestamp // 60000000 * 60000000 AS b, level, count(*) AS n, sum(code) AS s FROM logs "
        "GROUP BY b, level ORDER BY b, level NULLS FIRST",
        "SELECT _timestamp // 300 * 300 AS b, count(*) AS n FROM logs GROUP BY b HAVING count(*) > 1 ORDER BY b",
        "SELECT _timestamp // 300 * 300 AS b, count(*) AS n FROM logs GROUP BY b "
        "HAVING _timestamp // 300 * 300 > 0 ORDER BY _timestamp // 300 * 300 DESC",
        "SELECT (_timestamp // 300 * 300) / 2 AS half, max(_timestamp) AS m FROM logs "
        "GROUP BY _timestamp // 300 * 300 ORDER BY half",
        "SELECT _timestamp // 300 * 300 AS b, count(*) AS n, "
        "sum(count(*)) OVER (ORDER BY _timestamp // 300 * 300) AS run FROM logs GROUP BY b ORDER BY b",
        "SELECT 5 - _timestamp % 7 AS b, count(*) AS n FROM logs GROUP BY b ORDER BY b",
        "SELECT _timestamp // 60 * -60 + 1 AS b, count(*) AS n FROM logs GROUP BY b ORDER BY b",
        "SELECT count(*) AS buckets FROM (SELECT _timestamp // 3600000000 * 3600000000 AS h FROM logs GROUP BY h)",
        "WITH per AS (SELECT _timestamp // 300 * 300 AS b, count(*) AS n FROM logs GROUP BY b) "
        "SELECT b, n FROM per ORDER BY b",
        "SELECT DISTINCT _timestamp // 1000 * 1000 AS b FROM logs GROUP BY b ORDER BY b",
    ],
)
def test_duckdb_gives_the_same_answer_either_way(sql: str, scans: dict[str, StreamScan]) -> None:
    optimised = _engine_sql(sql, scans, optimise=True)
    assert optimised != _engine_sql(sql, scans, optimise=False)  # the rewrite did apply
    expected = duckdb.sql(_engine_sql(sql, scans, optimise=False)).fetchall()
    assert expected  # a non-empty answer to compare
    assert duckdb.sql(optimised).fetchall() == expected
