"""What one query may allocate, return and take in time, over real HTTP (issue 11, items 4 and 8).

Each test lowers the limit it proves (engine address space, result bytes, stream rows, the
timeout) for its own duration, so nothing here allocates more than a few hundred megabytes:
the engine process's cap makes a huge allocation fail at once instead of being made.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from molesignal.query.engine_pool import POOL
from molesignal.web.envelopes import STREAM_ABORTED_KEY
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
MiB = 1024 * 1024
# Enough for an engine process with DuckDB, pyarrow and httpfs loaded (about 570 MB at its
# peak), with some room for a query: a huge allocation fails at this cap without being made.
SMALL_ENGINE = {"query_worker_memory_bytes": 800 * MiB, "query_memory_limit": "128MB"}
# One DuckDB vector (2048 rows) of this takes seconds, and DuckDB looks for an interrupt only
# between vectors: the old timer-and-interrupt let such a query run far past its limit.
SLOW_VALUE = "levenshtein(repeat('a', 6000 + (i % 2)::INTEGER), repeat('b', 6000))"


@pytest.fixture(scope="module")
def viewer(base_url: str) -> Session:
    """A viewer of an org with a small stream on the lake (so the engine reads S3 with httpfs)."""
    from tests.support.api import ROOT_PASSWORD, ensure_setup, login

    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        org = create_org(client, root)
        admin = create_user(client, root, "admin", org_id=org)
        ingest = bearer(create_api_token(client, admin, role="ingest"))
        records = [{"_timestamp": T0 + i, "level": "info", "msg": f"m{i}"} for i in range(50)]
        assert client.post("/api/v1/ingest/app", json=records, headers=ingest).status_code == 202
        drain_ingest()
        return create_user(client, admin, "viewer")


def _query(client: httpx.Client, who: Session, sql: str, *, ndjson: bool = False) -> httpx.Response:
    body = {"sql": sql, "time_range": {"start": T0, "end": T0 + HOUR}}
    accept = "application/x-ndjson" if ndjson else "application/json"
    return client.post("/api/v1/query", json=body, headers={**who.headers, "accept": accept})


def _sql(client: httpx.Client, who: Session, sql: str) -> httpx.Response:
    return client.post("/v1/api/sql", json={"sql": sql}, headers=who.headers)


def _refused_everywhere(client: httpx.Client, who: Session, sql: str, status: int, code: str) -> None:
    """The same refusal in each route family's envelope, NDJSON included (nothing was streamed)."""
    assert_core_error(_query(client, who, sql), status, code)
    assert_core_error(_query(client, who, sql, ndjson=True), status, code)
    assert_sql_error(_sql(client, who, sql), status, code)


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def _works(client: httpx.Client, who: Session) -> None:
    response = _query(client, who, "SELECT count(*) AS n FROM app")
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [{"n": 50}]


def test_a_query_over_the_engine_memory_cap_fails_in_its_own_process(
    client: httpx.Client, viewer: Session, use_env: Callable[..., None]
) -> None:
    """Hostile input: 1,500 copies of a 1 MB value from a CTE column, concatenated (no literal
    says how big it gets, so nothing refuses it before it runs), and a list of 60 million
    elements sized by a column. Before the fix such values grew the server's own process by
    gigabytes. Now the engine process hits its address-space cap and the answer is a 400."""
    use_env(**SMALL_ENGINE)
    copies = ", ".join(["x"] * 1500)
    concat = f"WITH v AS (SELECT repeat('x', 1000000) AS x) SELECT length(concat({copies})) AS n FROM v"
    scalar_range = "WITH k AS (SELECT 60000000 AS n) SELECT length(range(n)) AS n FROM k"
    before_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for sql in (concat, scalar_range):
        _refused_everywhere(client, viewer, sql, 400, "QUERY_MEMORY_EXCEEDED")
    # This process (the gateway and the handlers) did not take the allocation.
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before_self
    assert grown < 200 * MiB, grown
    _works(client, viewer)  # a fresh engine process took the retired one's place
    # The engine processes run under the cap, as the kernel sees it.
    assert POOL._idle
    for engine in POOL._idle:
        limits_text = Path(f"/proc/{engine.process.pid}/limits").read_text()
        [line] = [x for x in limits_text.splitlines() if x.startswith("Max address space")]
        assert line.split()[3:5] == [str(SMALL_ENGINE["query_worker_memory_bytes"])] * 2, line


def test_amplifying_functions_with_literal_sizes_are_refused_before_they_run(
    client: httpx.Client, viewer: Session
) -> None:
    """Hostile input from the report: repeat('x', 1.5e9) answered 200 with 1.5 GB after 72 s;
    unnest(range(1e8)) took the server from 6.4 to 15.3 GB. Refused at once, default limits."""
    for sql in (
        "SELECT repeat('x', 1500000000) AS s",
        "SELECT count(*) AS n FROM unnest(range(100000000))",
        "SELECT printf('%01500000000d', 1) AS s",
    ):
        started = time.perf_counter()
        _refused_everywhere(client, viewer, sql, 400, "QUERY_MEMORY_EXCEEDED")
        assert time.perf_counter() - started < 20  # refused by the guard: no engine time spent
    assert "repeat()" in _query(client, viewer, "SELECT repeat('x', 1500000000) AS s").json()["error"]


def test_an_answer_larger_than_the_result_cap_is_refused(
    client: httpx.Client, viewer: Session, use_env: Callable[..., None]
) -> None:
    """Hostile input: a 100 kB value, with the result cap lowered to 64 kB (the default, 5 MiB,
    keeps answers under Lambda's 6 MB response payload)."""
    use_env(query_max_result_bytes=64 * 1024, query_stream_batch_rows=1000)
    _refused_everywhere(client, viewer, "SELECT repeat('x', 100000) AS s", 400, "QUERY_RESULT_TOO_LARGE")
    small = _query(client, viewer, "SELECT repeat('x', 1000) AS s")
    assert small.status_code == 200 and small.json()["rows"] == [{"s": "x" * 1000}]
    # Many rows that are each small, on the route that has no row cap of its own.
    many = _query(client, viewer, "SELECT range AS i, 'some text' AS s FROM range(5000)", ndjson=True)
    rows, last = _lines(many)[:-1], _lines(many)[-1]
    assert last["code"] == "QUERY_RESULT_TOO_LARGE" and last[STREAM_ABORTED_KEY] is True, last
    assert 0 < len(rows) < 5000 and len(many.content) <= 64 * 1024 + 1024
    assert [r["i"] for r in rows] == list(range(len(rows)))


def test_a_stream_over_its_row_cap_ends_with_an_error_line(
    client: httpx.Client, viewer: Session, use_env: Callable[..., None]
) -> None:
    """Hostile input: 100,000 rows streamed with the stream row cap at 25,000. The rows sent
    are complete lines; the last line is the documented error line, not a plain-text 500."""
    use_env(query_max_stream_rows=25_000, query_stream_batch_rows=10_000)
    lines = _lines(_query(client, viewer, "SELECT range AS i FROM range(100000)", ndjson=True))
    *rows, last = lines
    assert [r["i"] for r in rows] == list(range(20_000))
    assert set(last) == {"error", "code", STREAM_ABORTED_KEY}
    assert last["code"] == "QUERY_LIMIT_EXCEEDED" and "25000" in last["error"]


def test_a_stream_interrupted_by_the_timeout_ends_with_an_error_line(
    client: httpx.Client, viewer: Session, use_env: Callable[..., None]
) -> None:
    """Hostile input: a stream whose first 200,000 rows are cheap and whose later rows take
    seconds each, under a 2 s timeout. Before the fix the timer's interrupt surfaced as pyarrow's
    ``OSError: INTERRUPT`` and the client got a plain-text 500."""
    use_env(query_timeout_s=2)
    # DuckDB computes about 1 MB of result ahead of the reader: the cheap rows fill more than that.
    sql = f"SELECT i, CASE WHEN i < 200000 THEN 0 ELSE {SLOW_VALUE} END AS d FROM range(1000000) t(i)"
    started = time.perf_counter()
    lines = _lines(_query(client, viewer, sql, ndjson=True))
    elapsed = time.perf_counter() - started
    *rows, last = lines
    assert rows and [r["i"] for r in rows] == list(range(len(rows)))
    assert last["code"] == "QUERY_TIMEOUT" and last[STREAM_ABORTED_KEY] is True, last
    assert elapsed < 2 + 10, elapsed  # at the deadline (generous for a loaded machine), not minutes later
    _works(client, viewer)


def test_a_query_the_engine_cannot_interrupt_is_stopped_at_the_deadline(
    client: httpx.Client, viewer: Session, use_env: Callable[..., None]
) -> None:
    """Hostile input: 100 rows of a scalar that takes seconds per row, all in one DuckDB vector,
    under a 2 s timeout. The report saw QUERY_TIMEOUT after 36-50 s with a 25 s limit."""
    use_env(query_timeout_s=2)
    sql = f"SELECT max({SLOW_VALUE}) AS d FROM range(100) t(i)"
    for send, check in ((_query, assert_core_error), (_sql, assert_sql_error)):
        started = time.perf_counter()
        check(send(client, viewer, sql), 400, "QUERY_TIMEOUT")
        assert time.perf_counter() - started < 2 + 10
    _works(client, viewer)


def test_concurrent_queries_wait_for_an_engine_process_within_their_deadline(
    client: httpx.Client, viewer: Session, use_env: Callable[..., None]
) -> None:
    """Hostile input: three slow queries at once against one engine process. They do not add
    up: one runs, the others wait for it, and each answer comes by its deadline."""
    use_env(query_timeout_s=2, query_workers=1)
    sql = f"SELECT max({SLOW_VALUE}) AS d FROM range(100) t(i)"
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: _query(client, viewer, sql), range(3)))
    codes = sorted(r.json()["code"] for r in answers)
    assert set(codes) <= {"QUERY_TIMEOUT", "QUERY_BUSY"} and "QUERY_TIMEOUT" in codes, codes
    for response in answers:
        assert response.status_code == (503 if response.json()["code"] == "QUERY_BUSY" else 400)
    _works(client, viewer)
