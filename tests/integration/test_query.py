"""Querying ingested data over HTTP through both SQL endpoints, checked against an
independent computation on the records that were sent."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.support.api import (
    Session,
    assert_core_error,
    assert_sql_error,
    bearer,
    create_api_token,
    create_org,
    create_user,
)
from tests.support.lake import drain_ingest

T0 = 1_800_000_000_000_000
HOUR = 3_600_000_000
LEVELS = ["debug", "info", "info", "info", "warn", "error"]


@pytest.fixture(scope="module")
def dataset() -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "_timestamp": T0 + i * 1_000_003 % (3 * HOUR),
            "level": rng.choice(LEVELS),
            "service": f"svc-{rng.randint(1, 5)}",
            "user": f"u{rng.randint(1, 40)}",
            "latency_ms": round(rng.uniform(1, 900), 3),
            "msg": rng.choice(["payment ok", "payment declined", "cache miss", "timeout talking to db"]),
        }
        for i in range(3000)
    ]


@pytest.fixture
def tenant(client: httpx.Client, root: Session, dataset: list[dict[str, Any]]) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    ingest = bearer(create_api_token(client, admin, role="ingest"))
    for start in range(0, len(dataset), 1000):
        assert client.post("/api/v1/ingest/app", json=dataset[start : start + 1000], headers=ingest).status_code == 202
    drain_ingest()
    viewer = create_user(client, admin, "viewer")
    return {"org": org, "admin": admin, "viewer": viewer, "ingest": ingest}


def _query(
    client: httpx.Client,
    who: Session,
    sql: str,
    start: int = T0,
    end: int = T0 + 3 * HOUR,
    accept: str = "application/json",
) -> httpx.Response:
    body = {"sql": sql, "time_range": {"start": start, "end": end}}
    return client.post("/api/v1/query", json=body, headers={**who.headers, "accept": accept})


def test_count_by_level_matches_an_independent_count(
    client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    response = _query(client, tenant["viewer"], "SELECT level, count(*) AS n FROM app GROUP BY level ORDER BY level")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["level", "n"]
    assert {r["level"]: r["n"] for r in body["rows"]} == dict(Counter(r["level"] for r in dataset))
    assert body["scanned_rows"] == len(dataset)
    assert body["cache_hit"] is False
    assert body["took_ms"] >= 0


def test_time_range_is_applied_in_microseconds(
    client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    start, end = T0 + HOUR // 2, T0 + HOUR + 17
    body = _query(client, tenant["viewer"], "SELECT count(*) AS n, min(_timestamp) AS lo FROM app", start, end).json()
    expected = [r["_timestamp"] for r in dataset if start <= r["_timestamp"] < end]
    assert body["rows"] == [{"n": len(expected), "lo": min(expected)}]


def test_a_range_with_whole_and_cut_files_counts_each_row_once(
    client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    # Hour 0's files straddle the start (filtered row by row); hours 1 and 2 lie wholly
    # inside (read without a row filter): both halves of the scan, in one query.
    start, end = T0 + HOUR // 2, T0 + 3 * HOUR
    sql = "SELECT level, count(*) AS n, min(_timestamp) AS lo FROM app GROUP BY level ORDER BY level"
    rows = _query(client, tenant["viewer"], sql, start, end).json()["rows"]
    inside = [r for r in dataset if start <= r["_timestamp"] < end]
    expected = {
        level: (n, min(r["_timestamp"] for r in inside if r["level"] == level))
        for level, n in Counter(r["level"] for r in inside).items()
    }
    assert {r["level"]: (r["n"], r["lo"]) for r in rows} == expected


def test_cut_and_whole_files_of_different_types_read_as_the_stream_schema(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    # Hour 0 lands `code` as integers, hour 1 as text: the stream's type widens to string.
    early = [{"_timestamp": T0 + i * 60_000_000, "code": 200 + i} for i in range(60)]
    late = [{"_timestamp": T0 + HOUR + i * 60_000_000, "code": f"E{i}"} for i in range(60)]
    for batch in (early, late):
        assert client.post("/api/v1/ingest/evolving", json=batch, headers=tenant["ingest"]).status_code == 202
        drain_ingest()
    start, end = T0 + 30 * 60_000_000, T0 + 2 * HOUR  # cuts hour 0, covers hour 1
    sql = "SELECT code FROM evolving ORDER BY _timestamp"
    rows = _query(client, tenant["viewer"], sql, start, end).json()["rows"]
    expected = [str(r["code"]) for r in early + late if start <= r["_timestamp"] < end]
    assert [r["code"] for r in rows] == expected
    assert len(expected) == 90


def test_substring_filter_and_top_k(
    client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    sql = "SELECT \"user\", count(*) AS n FROM app WHERE msg LIKE '%payment%' GROUP BY 1 ORDER BY n DESC, 1 LIMIT 3"
    rows = _query(client, tenant["viewer"], sql).json()["rows"]
    counts = Counter(r["user"] for r in dataset if "payment" in r["msg"])
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert [(r["user"], r["n"]) for r in rows] == expected


def test_time_histogram_matches_an_independent_count(
    client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    # The bucket's start is grouped by its index inside the engine (query/optimize.py):
    # the answer must be the one the query as written gives, whichever way it is read.
    bucket = 5 * 60_000_000
    expected = sorted(Counter(r["_timestamp"] // bucket * bucket for r in dataset).items())
    sql = f"SELECT _timestamp // {bucket} * {bucket} AS b, count(*) AS n FROM app GROUP BY b ORDER BY b"
    body = _query(client, tenant["viewer"], sql).json()
    assert [(r["b"], r["n"]) for r in body["rows"]] == expected
    by_ordinal = f"SELECT _timestamp // {bucket} * {bucket} AS b, count(*) AS n FROM app GROUP BY 1 ORDER BY 1"
    ndjson = _query(client, tenant["viewer"], by_ordinal, accept="application/x-ndjson")
    assert [(r["b"], r["n"]) for r in map(json.loads, ndjson.text.splitlines())] == expected
    sql_api = client.post("/v1/api/sql", json={"sql": sql, "params": []}, headers=tenant["viewer"].headers)
    assert sql_api.status_code == 200, sql_api.text
    assert [tuple(row) for row in sql_api.json()["results"][0]["rows"]] == expected
    assert len(expected) == 10  # the rows span 50 minutes


def test_second_identical_query_is_a_cache_hit_until_new_data_lands(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    sql = "SELECT count(*) AS n FROM app"
    first = _query(client, tenant["viewer"], sql).json()
    second = _query(client, tenant["viewer"], "select   COUNT(*) as n from app").json()  # same query, other spelling
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert second["rows"] == first["rows"]
    # new data for the stream makes the cached answer unreachable
    client.post("/api/v1/ingest/app", json=[{"_timestamp": T0 + 5, "level": "info"}], headers=tenant["ingest"])
    drain_ingest()
    third = _query(client, tenant["viewer"], sql).json()
    assert third["cache_hit"] is False
    assert third["rows"][0]["n"] == first["rows"][0]["n"] + 1


def test_ndjson_streams_rows_and_bypasses_the_cache(client: httpx.Client, tenant: dict[str, Any]) -> None:
    sql = "SELECT level, count(*) AS n FROM app GROUP BY level ORDER BY level"
    _query(client, tenant["viewer"], sql)
    response = _query(client, tenant["viewer"], sql, accept="application/x-ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == _query(client, tenant["viewer"], sql).json()["rows"]


def test_v1_api_sql_answers_the_spec_004_shape(
    client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]
) -> None:
    response = client.post(
        "/v1/api/sql",
        json={"sql": "SELECT count(*) AS n, max(latency_ms) AS worst FROM app WHERE service = $1", "params": ["svc-2"]},
        headers=tenant["viewer"].headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    result = body["results"][0]
    assert [(f["name"], f["data_type"], f["index"]) for f in result["schema"]] == [
        ("n", "BigInt", 0),
        ("worst", "Double", 1),
    ]
    svc2 = [r for r in dataset if r["service"] == "svc-2"]
    assert result["rows"] == [[len(svc2), max(r["latency_ms"] for r in svc2)]]
    assert result["row_count"] == 1
    assert result["as_user"] == tenant["viewer"].user
    assert body["took"] >= 0


def test_params_never_become_sql(client: httpx.Client, tenant: dict[str, Any]) -> None:
    response = client.post(
        "/v1/api/sql",
        json={"sql": "SELECT count(*) AS n FROM app WHERE level = $1", "params": ["x' OR '1'='1"]},
        headers=tenant["viewer"].headers,
    )
    assert response.json()["results"][0]["rows"] == [[0]]


@pytest.mark.parametrize(
    ("what", "sql", "status", "code"),
    [
        ("not SQL", "SELEKT nothing", 400, "INVALID_SQL"),
        ("a write", "DELETE FROM app", 403, "PERMISSION_DENIED"),
        ("unknown stream", "SELECT * FROM nope", 404, "TABLE_NOT_FOUND"),
        ("file function", "SELECT * FROM read_parquet('s3://x/y.parquet')", 403, "PERMISSION_DENIED"),
        ("unknown column", "SELECT no_such_column FROM app", 400, "INVALID_SQL"),
    ],
)
def test_sql_errors_in_both_envelopes(
    client: httpx.Client, tenant: dict[str, Any], what: str, sql: str, status: int, code: str
) -> None:
    assert_sql_error(client.post("/v1/api/sql", json={"sql": sql}, headers=tenant["viewer"].headers), status, code)
    assert_core_error(_query(client, tenant["viewer"], sql), status, code)


def test_two_statements_are_two_results_on_the_sql_endpoint_only(client: httpx.Client, tenant: dict[str, Any]) -> None:
    """Spec 000's query takes one statement; spec 004's answers one result per statement."""
    assert_core_error(_query(client, tenant["viewer"], "SELECT 1; SELECT 2"), 400, "INVALID_SQL")
    both = client.post("/v1/api/sql", json={"sql": "SELECT 1 AS a; SELECT 2 AS b"}, headers=tenant["viewer"].headers)
    assert both.status_code == 200, both.text
    assert [r["rows"] for r in both.json()["results"]] == [[[1]], [[2]]]


def test_query_request_validation(client: httpx.Client, tenant: dict[str, Any]) -> None:
    backwards = client.post(
        "/api/v1/query",
        json={"sql": "SELECT 1", "time_range": {"start": 10, "end": 5}},
        headers=tenant["viewer"].headers,
    )
    assert "time_range.start must be < end" in assert_core_error(backwards, 400, "invalid_argument")["error"]
    assert_core_error(client.post("/api/v1/query", json={"sql": "SELECT 1"}, headers=tenant["viewer"].headers), 400)
    assert_sql_error(
        client.post("/v1/api/sql", json={"query": "SELECT 1"}, headers=tenant["viewer"].headers), 400, "INVALID_REQUEST"
    )
    assert_sql_error(
        client.post(
            "/v1/api/sql", content=b"SELECT 1", headers={**tenant["viewer"].headers, "content-type": "text/plain"}
        ),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )


def test_ingest_tokens_cannot_query_and_other_orgs_see_nothing(
    client: httpx.Client, tenant: dict[str, Any], root: Session
) -> None:
    assert_sql_error(
        client.post("/v1/api/sql", json={"sql": "SELECT 1"}, headers=tenant["ingest"]), 403, "PERMISSION_DENIED"
    )
    other = create_user(client, root, "admin", org_id=create_org(client, root))
    assert_sql_error(
        client.post("/v1/api/sql", json={"sql": "SELECT count(*) FROM app"}, headers=other.headers),
        404,
        "TABLE_NOT_FOUND",
    )
    qualified = client.post(
        "/v1/api/sql", json={"sql": f'SELECT count(*) FROM "{tenant["org"]}".app'}, headers=other.headers
    )
    assert_sql_error(qualified, 404, "TABLE_NOT_FOUND")


def test_streams_api(client: httpx.Client, tenant: dict[str, Any], dataset: list[dict[str, Any]]) -> None:
    listing = client.get("/api/v1/streams", headers=tenant["viewer"].headers)
    assert listing.status_code == 200
    assert [s["name"] for s in listing.json()["streams"]] == ["app"]
    one = client.get("/api/v1/streams/app", headers=tenant["viewer"].headers).json()
    assert {"name": "latency_ms", "type": "float64"} in one["schema"]
    assert one["stats"]["rows"] >= len(dataset)
    assert_core_error(
        client.patch("/api/v1/streams/app", json={"retention_days": 7}, headers=tenant["viewer"].headers), 403
    )
    patched = client.patch(
        "/api/v1/streams/app", json={"retention_days": 7, "field_cap": 50}, headers=tenant["admin"].headers
    )
    assert patched.json()["settings"] == {"retention_days": 7, "field_cap": 50}
    assert_core_error(
        client.patch("/api/v1/streams/app", json={"retention_days": 0}, headers=tenant["admin"].headers), 400
    )
    assert_core_error(client.get("/api/v1/streams/nope", headers=tenant["viewer"].headers), 404)
    deleted = client.delete("/api/v1/streams/app", headers=tenant["admin"].headers)
    assert deleted.status_code == 200
    assert deleted.json()["deleted_files"] >= 1
    assert_core_error(_query(client, tenant["viewer"], "SELECT count(*) FROM app"), 404, "TABLE_NOT_FOUND")
