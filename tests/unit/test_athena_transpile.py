"""Tenant SQL → Athena (Trino) SQL: confined to the manifest's files, transpiled, parseable.

Every case goes through the real guard (``analyze_query``) and the Athena renderer, then
checks the output three ways: it parses back as Athena SQL; every table it reads is the
stream's Glue table, inside a SELECT whose WHERE names exactly that stream's manifest files
in ``"$path" IN (...)`` together with the org and time predicates; and the DuckDB-only
constructs came out in their Trino spelling.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlglot import exp

from molesignal.lake import glue
from molesignal.query.athena import (
    MAX_QUERY_BYTES,
    athena_sql,
    convert,
    engine_type,
    partitions_of,
    to_athena_sql,
)
from molesignal.query.duck import Column
from molesignal.query.errors import InvalidSql, QueryLimitExceeded, TableNotFound
from molesignal.query.guard import StreamScan, analyze_query

ORG = "org-acme"
DB = "molesignal"
START, END = 1_795_460_400_000_000, 1_795_471_200_000_000
LAKE = "s3://ms-lake/lake/org=org-acme"
URIS = {
    "app": (
        f"{LAKE}/stream=app/date=2026-11-23/hour=09/req-1-0.parquet",
        f"{LAKE}/stream=app/date=2026-11-23/hour=10/req-1-1.parquet",
        f"{LAKE}/stream=app/date=2026-11-24/hour=00/req-2-0.parquet",
    ),
    "spans": (f"{LAKE}/stream=spans/date=2026-11-23/hour=09/req-3-0.parquet",),
}
SCHEMAS = {
    "app": {
        "level": "string",
        "msg": "string",
        "user": "string",
        "latency_ms": "float64",
        "code": "int64",
        "ok": "bool",
        "date": "string",  # a field named like the lake's partition directories
        "org_id": "string",
        "_stream": "string",
    },
    "spans": {"trace_id": "string", "duration_ms": "float64", "name": "string", "org_id": "string"},
}


def transpile(
    sql: str,
    *,
    params: tuple[object, ...] = (),
    uris: dict[str, tuple[str, ...]] | None = None,
    start: int | None = START,
    end: int | None = END,
) -> str:
    analysis = analyze_query(sql, org_id=ORG, params=params)
    files = URIS if uris is None else uris
    scans = {s: StreamScan(s, files.get(s, ()), SCHEMAS[s]) for s in analysis.streams if s in SCHEMAS}
    return athena_sql(
        analysis,
        org_id=ORG,
        known_streams=set(SCHEMAS),
        scans=scans,
        start_us=start,
        end_us=end,
        database=DB,
        table_for=lambda scan: glue.table_name(ORG, scan.stream),
    )


def _values(where: exp.Expr, column: str) -> list[set[str]]:
    return [
        {str(v.this) for v in node.expressions}
        for node in where.find_all(exp.In)
        if isinstance(node.this, exp.Column) and node.this.name == column
    ]


def assert_confined(out: str, *, streams: dict[str, int], start: int | None = START, end: int | None = END) -> None:
    """``streams``: how many times each stream is read. Every read is of its Glue table, confined."""
    tree = sqlglot.parse_one(out, read="athena")
    assert '"$path" IN (' in out  # a quoted identifier in Trino, never a bare $path
    tables = {glue.table_name(ORG, s): s for s in SCHEMAS}
    read: dict[str, int] = {}
    for table in tree.find_all(exp.Table):
        if not table.db:
            continue  # a CTE name
        assert table.db == DB
        stream = tables[table.name]
        read[stream] = read.get(stream, 0) + 1
        select = table.find_ancestor(exp.Select)
        assert select is not None
        where = select.args["where"].this
        assert _values(where, "$path") == [set(URIS[stream])]
        assert any(
            isinstance(eq.this, exp.Column) and eq.this.name == "org_id" and eq.expression.this == ORG
            for eq in where.find_all(exp.EQ)
        )
        lower = [n for n in where.find_all(exp.GTE) if isinstance(n.this, exp.Column) and n.this.name == "_timestamp"]
        upper = [n for n in where.find_all(exp.LT) if isinstance(n.this, exp.Column) and n.this.name == "_timestamp"]
        assert [int(n.expression.this) for n in lower] == ([] if start is None else [start])
        assert [int(n.expression.this) for n in upper] == ([] if end is None else [end])
        dates, hours = partitions_of(URIS[stream])
        assert _values(where, glue.PARTITION_DATE) == [set(dates)]
        assert _values(where, glue.PARTITION_HOUR) == [set(hours)]
        projected = [c.name for c in select.expressions]
        assert projected[0] == "_timestamp" and "$path" not in projected
        assert glue.PARTITION_DATE not in projected
    assert read == streams
    assert "read_parquet" not in out.lower()


CASES: list[tuple[str, str, list[str]]] = [
    (
        "count_by_level",
        "SELECT level, count(*) AS n FROM app GROUP BY level ORDER BY n DESC LIMIT 3",
        ['COUNT(*) AS "n"', 'GROUP BY "level"', "LIMIT 3"],
    ),
    (
        "date_trunc_epoch_us",
        "SELECT date_trunc('hour', to_timestamp(_timestamp / 1000000)) AS h, count(*) FROM app GROUP BY 1",
        ["DATE_TRUNC('HOUR', FROM_UNIXTIME(CAST(\"_timestamp\" AS DOUBLE) / 1000000))"],
    ),
    ("regexp_matches", "SELECT count(*) FROM app WHERE regexp_matches(msg, 'pay(ment)?')", ['REGEXP_LIKE("msg"']),
    ("approx_distinct", 'SELECT approx_count_distinct("user") AS users FROM app', ['APPROX_DISTINCT("user")']),
    (
        "strftime",
        "SELECT strftime(to_timestamp(_timestamp / 1e6), '%Y-%m-%d %H:%M') AS minute FROM app",
        ["DATE_FORMAT(FROM_UNIXTIME(", "'%Y-%m-%d %H:%i'"],
    ),
    ("make_timestamp", "SELECT max(make_timestamp(_timestamp)) FROM app", ["FROM_UNIXTIME(", "POW(10, 6)"]),
    (
        "epoch_us_round_trip",
        "SELECT epoch_us(to_timestamp(_timestamp / 1e6)) AS us FROM app",
        ['CAST(ROUND(TO_UNIXTIME(FROM_UNIXTIME(CAST("_timestamp" AS DOUBLE) / 1e6)) * 1000000) AS BIGINT)'],
    ),
    (
        "percentiles",
        "SELECT quantile_cont(latency_ms, 0.95) AS p95, median(latency_ms) AS p50 FROM app",
        ['APPROX_PERCENTILE("latency_ms", 0.95)', 'APPROX_PERCENTILE("latency_ms", 0.5)'],
    ),
    (
        "string_agg",
        "SELECT string_agg(DISTINCT level, '|') AS levels FROM app",
        ["ARRAY_JOIN(ARRAY_AGG(DISTINCT \"level\"), '|')"],
    ),
    ("ilike", "SELECT count(*) FROM app WHERE msg ILIKE '%TIMEOUT%'", ["LOWER(\"msg\") LIKE LOWER('%TIMEOUT%')"]),
    (
        "filter_clause",
        "SELECT count(*) FILTER (WHERE level = 'error') AS errors, count(*) AS total FROM app",
        ["COUNT(*) FILTER(WHERE \"level\" = 'error')"],
    ),
    (
        "qualify",
        'SELECT "user", msg FROM app QUALIFY row_number() OVER (PARTITION BY "user" ORDER BY _timestamp DESC) = 1',
        ['ROW_NUMBER() OVER (PARTITION BY "user" ORDER BY "_timestamp" DESC)'],
    ),
    ("arg_max", "SELECT arg_max(msg, _timestamp) AS last_msg FROM app", ['MAX_BY("msg", "_timestamp")']),
    (
        "time_bucket",
        "SELECT time_bucket(INTERVAL '5 minutes', to_timestamp(_timestamp / 1e6)) AS b, count(*) FROM app GROUP BY 1",
        ["FROM_UNIXTIME(FLOOR(", "/ 300) * 300)"],
    ),
    (
        "date_part",
        "SELECT date_part('hour', to_timestamp(_timestamp / 1e6)) AS h, count(*) FROM app GROUP BY 1",
        ["EXTRACT(HOUR FROM FROM_UNIXTIME("],
    ),
    ("any_value", "SELECT any_value(level) AS l FROM app", ['ARBITRARY("level") AS "l"']),
    (
        "regexp_extract_replace",
        "SELECT regexp_extract(msg, 'id=([0-9]+)', 1) AS id, regexp_replace(msg, '[0-9]', '#') AS m FROM app",
        ["REGEXP_EXTRACT(\"msg\", 'id=([0-9]+)', 1)", "REGEXP_REPLACE(\"msg\", '[0-9]', '#')"],
    ),
    (
        "conditionals_and_casts",
        "SELECT CASE WHEN ok THEN 'y' ELSE 'n' END AS flag, coalesce(\"user\", '-') AS u, "
        "try_cast(code AS DOUBLE) AS c FROM app",
        ["CASE WHEN \"ok\" THEN 'y' ELSE 'n' END", "COALESCE(\"user\", '-')", 'TRY_CAST("code" AS DOUBLE)'],
    ),
    (
        "string_functions",
        "SELECT split_part(msg, ' ', 1) AS w, starts_with(msg, 'pay') AS p, length(msg) AS n FROM app",
        ["SPLIT_PART(\"msg\", ' ', 1)", "STARTS_WITH(\"msg\", 'pay')", 'LENGTH("msg")'],
    ),
    (
        "window_lag",
        "SELECT _timestamp - lag(_timestamp) OVER (ORDER BY _timestamp) AS gap FROM app",
        ['LAG("_timestamp") OVER (ORDER BY "_timestamp")'],
    ),
    (
        "reserved_word_columns",
        "SELECT date, \"user\" FROM app WHERE date = '2026-11-23'",
        ['SELECT "date", "user" FROM', "\"date\" = '2026-11-23'"],
    ),
]


@pytest.mark.parametrize(("name", "sql", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_representative_queries_transpile_confined(name: str, sql: str, fragments: list[str]) -> None:
    out = transpile(sql)
    assert_confined(out, streams={"app": 1})
    for fragment in fragments:
        assert fragment in out, (name, fragment, out)


def test_enough_representative_queries() -> None:
    assert len(CASES) >= 15


def test_cte_join_of_two_streams_confines_each_to_its_own_files() -> None:
    out = transpile(
        "WITH slow AS (SELECT trace_id FROM spans WHERE duration_ms > 500) "
        "SELECT a.level, count(*) AS n FROM app a JOIN slow s ON a.msg = s.trace_id GROUP BY 1"
    )
    assert_confined(out, streams={"app": 1, "spans": 1})
    assert out.startswith('WITH "slow" AS (')


def test_self_join_and_subqueries_confine_every_reference() -> None:
    out = transpile(
        "SELECT count(*) FROM app a JOIN app b ON a._timestamp = b._timestamp "
        "WHERE a.msg IN (SELECT name FROM spans) UNION ALL SELECT count(*) FROM main.app"
    )
    assert_confined(out, streams={"app": 3, "spans": 1})


def test_org_namespace_and_params_are_literals() -> None:
    out = transpile('SELECT count(*) FROM "org-acme".app WHERE level = $1 AND code > $2', params=("x' OR 1=1 --", 499))
    assert_confined(out, streams={"app": 1})
    assert "\"level\" = 'x'' OR 1=1 --' AND \"code\" > 499" in out


def test_no_time_range_means_no_time_predicates() -> None:
    out = transpile("SELECT count(*) FROM app", start=None, end=None)
    assert_confined(out, streams={"app": 1}, start=None, end=None)


def test_a_stream_without_files_in_range_reads_no_table() -> None:
    out = transpile("SELECT count(*) AS n, max(latency_ms) AS m FROM app", uris={"app": ()})
    tree = sqlglot.parse_one(out, read="athena")
    assert [t for t in tree.find_all(exp.Table) if t.db] == []
    assert "$path" not in out
    assert "WHERE FALSE" in out
    assert 'CAST(NULL AS DOUBLE) AS "latency_ms"' in out


def test_hidden_columns_are_not_selected_from_the_athena_table() -> None:
    analysis = analyze_query("SELECT * FROM app", org_id=ORG)
    scan = StreamScan("app", URIS["app"], SCHEMAS["app"], hidden=frozenset({"msg"}))
    out = athena_sql(
        analysis,
        org_id=ORG,
        known_streams=set(SCHEMAS),
        scans={"app": scan},
        start_us=START,
        end_us=END,
        database=DB,
        table_for=lambda s: glue.table_name(ORG, s.stream),
    )
    assert '"level"' in out and '"msg"' not in out


def test_duckdb_only_spellings_are_adapted_for_trino() -> None:
    def trino(sql: str) -> str:
        out = to_athena_sql(sqlglot.parse_one(sql, read="duckdb"))
        sqlglot.parse_one(out, read="athena")
        return out

    assert trino("SELECT regexp_full_match(s, 'a+') FROM t") == (
        "SELECT REGEXP_LIKE(\"s\", '^(?:' || 'a+' || ')$') FROM \"t\""
    )
    assert "DATE_BIN" in trino("SELECT time_bucket(INTERVAL 7 DAY, ts) FROM t")  # not a divisor of a day: as is
    assert trino("SELECT strlen(s), printf('%s-%d', s, 1), epoch_ns(ts) FROM t") == (
        'SELECT LENGTH("s"), FORMAT(\'%s-%d\', "s", 1), '
        'CAST(ROUND(TO_UNIXTIME("ts") * 1000000) AS BIGINT) * 1000 FROM "t"'
    )
    assert trino("SELECT date_part('epoch', ts), date_part('doy', ts) FROM t") == (
        'SELECT TO_UNIXTIME("ts"), EXTRACT(DAY_OF_YEAR FROM "ts") FROM "t"'
    )


def test_star_exclude_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidSql, match="EXCLUDE/REPLACE"):
        transpile("SELECT * EXCLUDE (msg) FROM app")


def test_unknown_stream_is_table_not_found() -> None:
    with pytest.raises(TableNotFound):
        transpile("SELECT * FROM nope")


def test_query_string_over_athenas_limit_is_refused() -> None:
    many = tuple(f"{LAKE}/stream=app/date=2026-11-23/hour=09/req-{i:06d}-0.parquet" for i in range(4000))
    with pytest.raises(QueryLimitExceeded, match=f"limit is {MAX_QUERY_BYTES}"):
        transpile("SELECT count(*) FROM app", uris={"app": many})
    fits = many[:1500]
    assert len(transpile("SELECT count(*) FROM app", uris={"app": fits}).encode()) < MAX_QUERY_BYTES


def test_files_outside_the_projection_range_are_refused_not_skipped() -> None:
    ahead = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=400)
    future = (f"{LAKE}/stream=app/date={ahead:%Y-%m-%d}/hour=00/r-0.parquet",)
    with pytest.raises(QueryLimitExceeded, match="outside the Athena engine's partition range"):
        transpile("SELECT count(*) FROM app", uris={"app": future})
    with pytest.raises(QueryLimitExceeded):
        partitions_of((f"{LAKE}/stream=app/date=1969-12-31/hour=23/r-0.parquet",))
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    assert partitions_of((f"{LAKE}/stream=app/date={soon:%Y-%m-%d}/hour=07/r-0.parquet",)) == (
        [f"{soon:%Y-%m-%d}"],
        ["07"],
    )


def test_local_lake_files_cannot_go_to_athena() -> None:
    with pytest.raises(RuntimeError, match="from S3 only"):
        partitions_of(("/data/lake/org=o/stream=app/date=2026-11-23/hour=09/r-0.parquet",))


# --- Glue table definitions --------------------------------------------------------------
def test_table_names_follow_glue_rules_and_never_collide() -> None:
    assert glue.table_name("org-acme", "app") == "o_org_acme__app"
    assert glue.table_name("acme", "app_logs") == "o_acme__app_logs"
    names = {
        glue.table_name(org, stream)
        for org, stream in [
            ("org-acme", "app.logs"),
            ("org-acme", "app-logs"),
            ("org-acme", "app_logs"),
            ("org-acme-x", "y"),
            ("org-acme", "x__y"),
            ("org", "acme__x__y"),
        ]
    }
    assert len(names) == 6
    long = glue.table_name("o" * 40, "s" * 128)
    for name in [*names, long]:
        assert len(name) <= 255
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")


def test_table_input_projects_partitions_and_widens_never_narrows() -> None:
    schema = {"level": "string", "code": "int64", "date": "string", "__ms_x": "string", "org_id": "string"}
    existing = [{"Name": "code", "Type": "double"}, {"Name": "gone_field", "Type": "boolean"}]
    table = glue.table_input("org-acme", "app", schema, bucket="ms-lake", existing=existing)
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [
        ("code", "double"),  # the table was already wider: kept
        ("gone_field", "boolean"),  # a column this caller does not know: kept
        ("_timestamp", "bigint"),
        ("level", "string"),
        ("date", "string"),  # a field, not the partition key
        ("org_id", "string"),
        ("_stream", "string"),
    ]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["__ms_date", "__ms_hour"]
    assert table["StorageDescriptor"]["Location"] == "s3://ms-lake/lake/org=org-acme/stream=app/"
    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["storage.location.template"] == (
        "s3://ms-lake/lake/org=org-acme/stream=app/date=${__ms_date}/hour=${__ms_hour}/"
    )
    assert params["projection.__ms_hour.digits"] == "2"


# --- result values -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("athena_type", "text", "value", "data_type"),
    [
        ("bigint", "9007199254740993", 9007199254740993, "BigInt"),
        ("integer", "-4", -4, "Int"),
        ("double", "1.5E10", 1.5e10, "Double"),
        ("real", "0.25", 0.25, "Float"),
        ("boolean", "false", False, "Boolean"),
        ("varchar", "héllo", "héllo", "Text"),
        ("timestamp", "2026-11-23 10:15:00.123", dt.datetime(2026, 11, 23, 10, 15, 0, 123000), "Timestamp"),
        (
            "timestamp with time zone",
            "2026-11-23 10:15:00.000 UTC",
            dt.datetime(2026, 11, 23, 10, 15, tzinfo=dt.UTC),
            "Timestamp",
        ),
        ("date", "2026-11-23", dt.date(2026, 11, 23), "Date"),
        ("decimal", "12.50", 12.5, "Decimal"),
        ("array", "[1, 2]", "[1, 2]", "ARRAY"),
    ],
)
def test_values_convert_by_athena_column_type(athena_type: str, text: str, value: object, data_type: str) -> None:
    info = {"Name": "c", "Type": athena_type, "Precision": 4, "Scale": 2}
    assert convert({"VarCharValue": text}, info) == value
    assert convert({}, info) is None
    assert Column("c", engine_type(info)).data_type == data_type
