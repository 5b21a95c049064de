"""The Athena engine against the emulator, over HTTP.

moto's Athena runs no SQL: it records each query and answers with whatever results were
queued through ``/moto-api/static/athena/query-results``. So these tests check what the
engine *sends* (the confined, transpiled SQL, database, workgroup, result location), the
Glue table it keeps, and how the answer Athena gives comes back through both SQL
endpoints. Paging, polling and timeouts beyond what moto does are driven with a stub client.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlglot
from sqlglot import exp

from molesignal import aws
from molesignal.clock import now_us
from molesignal.lake import glue as glue_module
from molesignal.lake.layout import HOUR_US, file_key, hour_of
from molesignal.lake.streams import Streams
from molesignal.query import athena as athena_module
from molesignal.query.athena import AthenaEngine
from molesignal.query.errors import InvalidSql, QueryLimitExceeded, QueryTimeout
from molesignal.query.service import lake_uri
from molesignal.settings import get_settings
from molesignal.storage.table import Table
from tests.support.api import Session, assert_core_error, assert_sql_error, bearer, create_api_token, create_org
from tests.support.api import create_user as new_user
from tests.support.lake import drain_ingest

T0 = hour_of(now_us()) - 3 * HOUR_US  # three whole hours ago: two partitions of data below
RANGE = (T0, T0 + 3 * HOUR_US)


# --- fixtures and helpers ----------------------------------------------------------------
@pytest.fixture
def tenant(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = new_user(client, root, "admin", org_id=org)
    ingest = bearer(create_api_token(client, admin, role="ingest"))
    records = [
        {"_timestamp": T0 + i * 90_000_000, "level": ["info", "error"][i % 2], "latency_ms": i * 1.5, "ok": i % 3 == 0}
        for i in range(60)  # 90 s apart: 40 in the first hour, 20 in the second
    ]
    assert client.post("/api/v1/ingest/app", json=records, headers=ingest).status_code == 202
    drain_ingest()
    viewer = new_user(client, admin, "viewer")
    return {"org": org, "viewer": viewer, "ingest": ingest, "records": records}


def moto_api(path: str, body: dict[str, Any]) -> None:
    endpoint = get_settings().aws_endpoint_url
    assert endpoint, "these tests run against the emulator"
    response = httpx.post(f"{endpoint}/moto-api/{path}", json=body)
    assert response.status_code in (200, 201), response.text


def inject(columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """Queue one Athena result (header row first, as Athena pages a SELECT) for the next query."""

    def row(cells: list[str | None]) -> dict[str, Any]:
        return {"Data": [{} if c is None else {"VarCharValue": c} for c in cells]}

    info = [{"Name": n, "Label": n, "Type": t, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN"} for n, t in columns]
    header = row([n for n, _ in columns])
    moto_api("static/athena/query-results", {"results": [{"rows": [header, *map(row, rows)], "column_info": info}]})


def execution_ids() -> list[str]:
    return list(aws.client("athena").list_query_executions()["QueryExecutionIds"])


def executions_since(before: list[str]) -> list[dict[str, Any]]:
    athena = aws.client("athena")
    return [
        athena.get_query_execution(QueryExecutionId=q)["QueryExecution"] for q in execution_ids() if q not in before
    ]


def manifest_uris(org: str, stream: str, start: int | None = None, end: int | None = None) -> set[str]:
    return {lake_uri(f["key"]) for f in Streams(Table()).manifest(org, stream, start_us=start, end_us=end)}


def in_list(sql: str, column: str) -> list[set[str]]:
    """The literal values of every ``<column> IN (...)`` in the Athena SQL, one set per scan."""
    tree = sqlglot.parse_one(sql, read="athena")
    return [
        {v.this for v in node.expressions}
        for node in tree.find_all(exp.In)
        if isinstance(node.this, exp.Column) and node.this.name == column
    ]


def query(client: httpx.Client, who: Session, sql: str, start: int = RANGE[0], end: int = RANGE[1]) -> httpx.Response:
    return client.post(
        "/api/v1/query", json={"sql": sql, "time_range": {"start": start, "end": end}}, headers=who.headers
    )


# --- the query Athena receives -----------------------------------------------------------
def test_query_reads_exactly_the_manifest_files_of_the_org_and_range(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    org = tenant["org"]
    # A file under the stream's prefix that no manifest lists: left by compaction, or by a
    # write whose commit never happened. A prefix scan would read it; this query must not.
    stray = file_key(org, "app", T0, "uncommitted-or-compacted-away")
    aws.client("s3").put_object(Bucket=get_settings().resource_name("lake"), Key=stray, Body=b"PAR1")
    use_env(query_engine="athena")
    before = execution_ids()
    inject([("level", "varchar"), ("n", "bigint")], [["error", "30"], ["info", "30"]])

    response = query(client, tenant["viewer"], "SELECT level, count(*) AS n FROM app GROUP BY level ORDER BY level")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["level", "n"]
    assert body["rows"] == [{"level": "error", "n": 30}, {"level": "info", "n": 30}]
    assert body["scanned_rows"] == 60
    (execution,) = executions_since(before)
    sql = execution["Query"]
    expected = manifest_uris(org, "app", *RANGE)
    assert len(expected) == 2  # one file per hour
    assert in_list(sql, "$path") == [expected]
    assert f"s3://{get_settings().resource_name('lake')}/{stray}" not in sql
    assert f"\"org_id\" = '{org}'" in sql
    assert f'"_timestamp" >= {RANGE[0]}' in sql
    assert f'"_timestamp" < {RANGE[1]}' in sql
    day = dt.datetime.fromtimestamp(T0 / 1e6, tz=dt.UTC)
    hours = {f"{(day + dt.timedelta(hours=h)):%H}" for h in (0, 1)}
    dates = {f"{(day + dt.timedelta(hours=h)):%Y-%m-%d}" for h in (0, 1)}
    assert in_list(sql, glue_module.PARTITION_DATE) == [dates]
    assert in_list(sql, glue_module.PARTITION_HOUR) == [hours]
    table = glue_module.table_name(org, "app")
    assert f'FROM "{get_settings().athena_database}"."{table}"' in sql
    assert "read_parquet" not in sql.lower()
    sqlglot.parse_one(sql, read="athena")
    assert execution["QueryExecutionContext"]["Database"] == get_settings().athena_database
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{get_settings().resource_name('exports')}/athena-results/"
    )


def test_v1_api_sql_converts_athena_values_by_column_type(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    use_env(query_engine="athena")
    before = execution_ids()
    columns = [
        ("n", "bigint"),
        ("worst", "double"),
        ("level", "varchar"),
        ("ok", "boolean"),
        ("at", "timestamp"),
        ("day", "date"),
        ("ratio", "decimal"),
        ("missing", "varchar"),
    ]
    inject(columns, [["60", "88.5", "info", "true", "2026-11-23 10:15:00.250", "2026-11-23", "0.50", None]])
    sql = (
        "SELECT count(*) AS n, max(latency_ms) AS worst, any_value(level) AS level, bool_or(ok) AS ok, "
        "max(to_timestamp(_timestamp / 1e6)) AS at, max(CAST(to_timestamp(_timestamp / 1e6) AS DATE)) AS day, "
        "CAST(0.5 AS DECIMAL(4, 2)) AS ratio, NULL AS missing FROM app WHERE level = $1"
    )
    response = client.post("/v1/api/sql", json={"sql": sql, "params": ["info"]}, headers=tenant["viewer"].headers)

    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert [(f["name"], f["data_type"]) for f in result["schema"]] == [
        ("n", "BigInt"),
        ("worst", "Double"),
        ("level", "Text"),
        ("ok", "Boolean"),
        ("at", "Timestamp"),
        ("day", "Date"),
        ("ratio", "Decimal"),
        ("missing", "Text"),
    ]
    assert result["rows"] == [[60, 88.5, "info", True, "2026-11-23T10:15:00.250000Z", "2026-11-23", 0.5, None]]
    (execution,) = executions_since(before)
    text = execution["Query"]
    # No time range on this endpoint: every file of the stream, and the param as a literal.
    assert in_list(text, "$path") == [manifest_uris(tenant["org"], "app")]
    assert f"\"org_id\" = '{tenant['org']}'" in text
    assert '"_timestamp" >=' not in text
    assert "\"level\" = 'info'" in text


def test_each_reference_of_a_stream_is_confined(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    use_env(query_engine="athena")
    before = execution_ids()
    inject([("n", "bigint")], [["1"]])
    sql = (
        "WITH errors AS (SELECT * FROM app WHERE level = 'error') "
        "SELECT count(*) AS n FROM errors e JOIN app a ON e._timestamp = a._timestamp"
    )
    assert query(client, tenant["viewer"], sql).status_code == 200
    (execution,) = executions_since(before)
    expected = manifest_uris(tenant["org"], "app", *RANGE)
    assert in_list(execution["Query"], "$path") == [expected, expected]
    assert execution["Query"].count(f"\"org_id\" = '{tenant['org']}'") == 2


def test_a_range_without_files_reads_no_table(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    use_env(query_engine="athena")
    before = execution_ids()
    inject([("n", "bigint")], [["0"]])
    response = query(client, tenant["viewer"], "SELECT count(*) AS n FROM app", T0 - 10 * HOUR_US, T0 - 9 * HOUR_US)
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [{"n": 0}]
    (execution,) = executions_since(before)
    assert "$path" not in execution["Query"]
    assert glue_module.table_name(tenant["org"], "app") not in execution["Query"]
    assert "WHERE FALSE" in execution["Query"]


# --- the Glue table ----------------------------------------------------------------------
def test_glue_table_projects_partitions_and_follows_the_schema(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    use_env(query_engine="athena")
    inject([("n", "bigint")], [["60"]])
    assert query(client, tenant["viewer"], "SELECT count(*) AS n FROM app").status_code == 200
    settings = get_settings()
    glue = aws.client("glue")
    name = glue_module.table_name(tenant["org"], "app")
    table = glue.get_table(DatabaseName=settings.athena_database, Name=name)["Table"]
    lake = settings.resource_name("lake")
    location = f"s3://{lake}/lake/org={tenant['org']}/stream=app/"
    assert table["StorageDescriptor"]["Location"] == location
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [
        ("__ms_date", "string"),
        ("__ms_hour", "string"),
    ]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns == {
        "_timestamp": "bigint",
        "level": "string",
        "latency_ms": "double",
        "ok": "boolean",
        "org_id": "string",
        "_stream": "string",
    }
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.__ms_date.type"] == "date"
    assert parameters["projection.__ms_date.format"] == "yyyy-MM-dd"
    assert parameters["projection.__ms_date.range"] == "1970-01-01,NOW+1YEARS"
    assert parameters["projection.__ms_hour.type"] == "integer"
    assert parameters["projection.__ms_hour.range"] == "0,23"
    assert parameters["projection.__ms_hour.digits"] == "2"
    assert parameters["storage.location.template"] == f"{location}date=${{__ms_date}}/hour=${{__ms_hour}}/"

    # A new field, and a field widening from int64 to float64: the table follows.
    records = [{"_timestamp": T0 + 7, "level": "warn", "region": "eu", "latency_ms": 3, "code": 1}]
    assert client.post("/api/v1/ingest/app", json=records, headers=tenant["ingest"]).status_code == 202
    drain_ingest()
    records = [{"_timestamp": T0 + 8, "code": 2.5}]
    assert client.post("/api/v1/ingest/app", json=records, headers=tenant["ingest"]).status_code == 202
    drain_ingest()
    inject([("n", "bigint")], [["62"]])
    assert query(client, tenant["viewer"], "SELECT count(*) AS n FROM app WHERE region = 'eu'").status_code == 200
    table = glue.get_table(DatabaseName=settings.athena_database, Name=name)["Table"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns["region"] == "string"
    assert columns["code"] == "double"
    assert columns["latency_ms"] == "double"


# --- failures ----------------------------------------------------------------------------
class _FailingAthena:
    """The emulator's client, except that every query ends FAILED as Athena reports it."""

    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved or requester is not authorized"

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.real.get_query_execution(**kwargs)
        answer["QueryExecution"]["Status"] = {
            "State": "FAILED",
            "StateChangeReason": self.reason,
            "AthenaError": {"ErrorCategory": 2, "ErrorType": 1006, "Retryable": False, "ErrorMessage": self.reason},
        }
        return answer


def test_a_failed_athena_query_is_invalid_sql_in_both_envelopes(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(query_engine="athena")
    monkeypatch.setattr(athena_module, "_athena", lambda: _FailingAthena(aws.client("athena")))
    body = assert_sql_error(
        client.post("/v1/api/sql", json={"sql": "SELECT level FROM app"}, headers=tenant["viewer"].headers),
        400,
        "INVALID_SQL",
    )
    assert "COLUMN_NOT_FOUND" in str(body["error"])
    error = assert_core_error(query(client, tenant["viewer"], "SELECT level, 1 AS x FROM app"), 400, "INVALID_SQL")
    assert "cannot be resolved" in str(error["error"])


def test_a_query_past_the_time_budget_is_stopped(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    # The budget counts from the request's arrival (ADR 0018): leave the planning its share.
    use_env(query_engine="athena", query_timeout_s=3)
    before = execution_ids()
    # Executions stay QUEUED until advanced 1000 times: the engine's budget runs out first.
    moto_api(
        "state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 1000}},
    )
    try:
        response = query(client, tenant["viewer"], "SELECT count(*) AS slow FROM app")
    finally:
        moto_api("state-manager/unset-transition", {"model_name": "athena::execution"})
    assert_core_error(response, 400, "QUERY_TIMEOUT")
    (execution,) = executions_since(before)
    assert execution["Status"]["State"] == "CANCELLED"


def test_more_rows_than_allowed_is_refused(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    use_env(query_engine="athena", query_max_rows=2)
    inject([("level", "varchar")], [["a"], ["b"], ["c"]])
    assert_core_error(query(client, tenant["viewer"], "SELECT level FROM app"), 400, "QUERY_LIMIT_EXCEEDED")


# --- choosing the engine -----------------------------------------------------------------
def test_auto_sends_big_scans_to_athena_and_small_ones_to_duckdb(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None]
) -> None:
    use_env(query_engine="auto", query_max_scan_bytes=1)
    before = execution_ids()
    inject([("n", "bigint")], [["60"]])
    assert query(client, tenant["viewer"], "SELECT count(*) AS n FROM app").json()["rows"] == [{"n": 60}]
    assert len(executions_since(before)) == 1

    use_env(query_engine="auto", query_max_scan_bytes=10**12)
    before = execution_ids()
    response = query(client, tenant["viewer"], "SELECT count(*) AS n, sum(latency_ms) AS total FROM app")
    expected = sum(r["latency_ms"] for r in tenant["records"])
    assert response.json()["rows"] == [{"n": 60, "total": pytest.approx(expected)}]  # DuckDB's own answer
    assert executions_since(before) == []


# --- the engine with a stub client: paging, polling --------------------------------------
class StubAthena:
    """Answers like Athena: QUEUED, RUNNING, then a final state; results in pages of ``page``."""

    class exceptions:  # mirrors boto3's client.exceptions
        class InvalidRequestException(Exception):
            pass

    def __init__(self, rows: int, *, states: list[str] | None = None, page: int = 1000) -> None:
        self.rows, self.page = rows, page
        self.states = states or ["QUEUED", "RUNNING", "SUCCEEDED"]
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("start", kwargs))
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get", kwargs))
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"Status": {"State": state, "StateChangeReason": "SYNTAX_ERROR: bad"}}}

    def stop_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("stop", kwargs))
        return {}

    def get_query_results(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("results", kwargs))
        assert kwargs["MaxResults"] == 1000
        start = int(kwargs.get("NextToken", "0"))
        first = start == 0
        values = [[{"VarCharValue": str(i)}, {"VarCharValue": f"r{i}"}] for i in range(start, self.rows)][: self.page]
        rows = [{"Data": d} for d in values]
        if first:
            rows = [{"Data": [{"VarCharValue": "i"}, {"VarCharValue": "s"}]}, *rows]
        answer: dict[str, Any] = {
            "ResultSet": {
                "Rows": rows,
                "ResultSetMetadata": {
                    "ColumnInfo": [{"Name": "i", "Label": "i", "Type": "integer"}, {"Name": "s", "Type": "varchar"}]
                },
            }
        }
        if start + self.page < self.rows:
            answer["NextToken"] = str(start + self.page)
        return answer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _engine(stub: StubAthena, clock: FakeClock | None = None) -> AthenaEngine:
    clock = clock or FakeClock()
    return AthenaEngine(client=stub, sleep=clock.sleep, clock=clock)


def test_results_are_paged_with_next_token_and_the_header_skipped_once() -> None:
    stub = StubAthena(rows=2500)
    result = _engine(stub).results("q-1", max_rows=10_000, deadline=100, timeout_s=100)
    assert [(c.name, c.engine_type, c.data_type) for c in result.columns] == [
        ("i", "INTEGER", "Int"),
        ("s", "VARCHAR", "Text"),
    ]
    assert result.rows == [(i, f"r{i}") for i in range(2500)]
    tokens = [kwargs.get("NextToken") for name, kwargs in stub.calls if name == "results"]
    assert tokens == [None, "1000", "2000"]


def test_paging_stops_as_soon_as_the_row_cap_is_passed() -> None:
    stub = StubAthena(rows=5000)
    with pytest.raises(QueryLimitExceeded, match="more than 1500 rows"):
        _engine(stub).results("q-1", max_rows=1500, deadline=100, timeout_s=100)
    assert len([c for c in stub.calls if c[0] == "results"]) == 2


def test_polling_backs_off_until_the_query_finishes() -> None:
    stub = StubAthena(rows=1, states=["QUEUED", "QUEUED", "RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"])
    clock = FakeClock()
    _engine(stub, clock).wait("q-1", deadline=100, timeout_s=100)
    assert clock.sleeps == pytest.approx([0.1, 0.15, 0.225, 0.3375, 0.50625])


def test_polling_past_the_deadline_stops_the_query() -> None:
    stub = StubAthena(rows=1, states=["RUNNING"])
    clock = FakeClock()
    with pytest.raises(QueryTimeout, match="longer than 2 s"):
        _engine(stub, clock).wait("q-1", deadline=2.0, timeout_s=2.0)
    assert ("stop", {"QueryExecutionId": "q-1"}) in stub.calls
    assert sum(clock.sleeps) == pytest.approx(2.0)
    assert max(clock.sleeps) <= 1.0


def test_a_failed_state_carries_athenas_reason() -> None:
    with pytest.raises(InvalidSql, match="SYNTAX_ERROR: bad"):
        _engine(StubAthena(rows=0, states=["RUNNING", "FAILED"])).wait("q-1", deadline=100, timeout_s=100)


def test_a_refused_submission_is_invalid_sql(use_env: Callable[..., None]) -> None:
    use_env(athena_workgroup="lake-wg", athena_database="lake_db", athena_output="s3://results/here/")

    class Refusing(StubAthena):
        def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
            super().start_query_execution(**kwargs)
            error = self.exceptions.InvalidRequestException("refused")
            error.response = {"Error": {"Message": "Query string too long"}}  # type: ignore[attr-defined]
            raise error

    stub = Refusing(rows=0)
    with pytest.raises(InvalidSql, match="Query string too long"):
        _engine(stub).start("SELECT 1")
    (_, kwargs) = stub.calls[0]
    assert kwargs["WorkGroup"] == "lake-wg"
    assert kwargs["QueryExecutionContext"] == {"Database": "lake_db"}
    assert kwargs["ResultConfiguration"] == {"OutputLocation": "s3://results/here/"}


def test_a_warm_function_asks_glue_again_only_when_the_schema_changes(
    client: httpx.Client, tenant: dict[str, Any], use_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(query_engine="athena")
    real = glue_module._ensure
    calls: list[str] = []

    def counting(*args: Any) -> str:
        calls.append(args[3])  # the stream
        return str(real(*args))

    monkeypatch.setattr(glue_module, "_ensure", counting)
    for sql in ("SELECT count(*) AS a FROM app", "SELECT count(*) AS b FROM app"):
        inject([("n", "bigint")], [["60"]])
        assert query(client, tenant["viewer"], sql).status_code == 200
    assert calls == ["app"]  # a new org's table: made once, then remembered

    records = [{"_timestamp": T0 + 9, "code": 7}]
    assert client.post("/api/v1/ingest/app", json=records, headers=tenant["ingest"]).status_code == 202
    drain_ingest()
    inject([("c", "bigint")], [["7"]])
    assert query(client, tenant["viewer"], "SELECT max(code) AS c FROM app").json()["rows"] == [{"c": 7}]
    assert calls == ["app", "app"]  # the schema grew: Glue is asked again
    table = aws.client("glue").get_table(
        DatabaseName=get_settings().athena_database, Name=glue_module.table_name(tenant["org"], "app")
    )["Table"]
    assert {"Name": "code", "Type": "bigint"} in table["StorageDescriptor"]["Columns"]
