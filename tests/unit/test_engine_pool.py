"""The engine processes: capped, stopped at the deadline, replaced when they die, shared fairly."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import pickle
import signal
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from molesignal.query.deadline import Deadline
from molesignal.query.duck import DuckEngine
from molesignal.query.engine_pool import POOL, EngineCall, load_rows
from molesignal.query.engine_process import portable
from molesignal.query.errors import (
    InvalidSql,
    QueryBusy,
    QueryLimitExceeded,
    QueryMemoryExceeded,
    QueryResultTooLarge,
    QueryTimeout,
)

SLOW = "SELECT max(levenshtein(repeat('a', 6000 + (i % 2)::INTEGER), repeat('b', 6000))) FROM range(100) t(i)"


def run(sql: str, budget_s: float = 30, **limits: int) -> list[tuple[object, ...]]:
    return DuckEngine().execute(sql, (), max_rows=limits.get("max_rows", 100), deadline=Deadline(budget_s)).rows


def engine_pids() -> set[int]:
    return {engine.process.pid for engine in POOL._idle}


def test_a_process_answers_query_after_query() -> None:
    assert run("SELECT 1 AS a") == [(1,)]
    pids = engine_pids()
    assert run("SELECT 2 AS a") == [(2,)]
    assert engine_pids() == pids  # reused, not started again


def test_values_cross_the_pipe_as_the_engine_made_them() -> None:
    sql = (
        "SELECT 1.5::DECIMAL(4, 2) AS d, DATE '2020-01-02' AS day, TIMESTAMP '2020-01-02 03:04:05.6' AS ts, "
        "INTERVAL 2 HOUR AS iv, '\\x01'::BLOB AS b, uuid '00000000-0000-0000-0000-000000000001' AS u, "
        "[1, NULL] AS l, {'k': 'v'} AS s, NULL AS n, 'nan'::DOUBLE AS nan"
    )
    [row] = run(sql)
    assert row[:6] == (
        decimal.Decimal("1.50"),
        dt.date(2020, 1, 2),
        dt.datetime(2020, 1, 2, 3, 4, 5, 600000),
        dt.timedelta(hours=2),
        b"\x01",
        uuid.UUID(int=1),
    )
    assert row[6:9] == ([1, None], {"k": "v"}, None) and row[9] != row[9]


def test_zoned_times_cross_with_a_fixed_offset() -> None:
    """DuckDB hands TIMESTAMPTZ values to Python with a pytz zone; the pipe carries the instant."""
    [(moment,)] = run("SELECT TIMESTAMPTZ '2020-01-02 03:04:05+00' AS t")
    assert moment == dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert type(moment.tzinfo) is dt.timezone


def test_rows_and_bytes_are_capped_in_the_engine_process() -> None:
    with pytest.raises(QueryLimitExceeded, match="more than 100 rows"):
        run("SELECT * FROM range(1000)")
    with pytest.raises(QueryResultTooLarge, match="larger than 1,024 bytes"):
        DuckEngine().execute("SELECT repeat('x', 5000) AS s", (), max_rows=10, deadline=Deadline(30), max_bytes=1024)


def test_a_query_past_its_deadline_is_killed_and_its_process_replaced(use_env: Callable[..., None]) -> None:
    use_env(query_workers=1)
    POOL.shutdown()
    run("SELECT 1")
    [before] = engine_pids()
    started = time.perf_counter()
    with pytest.raises(QueryTimeout, match="longer than 1 s"):
        run(SLOW, budget_s=1)
    assert time.perf_counter() - started < 10  # the query alone would take minutes
    assert engine_pids() == set()  # killed, not put back
    assert run("SELECT 3") == [(3,)]
    assert engine_pids() != {before}


def test_an_allocation_over_the_cap_fails_in_the_engine_process(use_env: Callable[..., None]) -> None:
    use_env(query_worker_memory_bytes=800 * 1024 * 1024, query_memory_limit="128MB")
    with pytest.raises(QueryMemoryExceeded, match="more memory than one query may use"):
        run("SELECT length(repeat('x', k)) AS n FROM (SELECT 1500000000 AS k)")
    assert run("SELECT 4") == [(4,)]


def test_a_process_that_dies_mid_query_is_reported_and_replaced() -> None:
    run("SELECT 1")

    def kill_the_busy_one() -> None:
        time.sleep(1.0)
        for pid in busy:
            os.kill(pid, signal.SIGKILL)

    busy = {e.process.pid for e in POOL._idle}
    killer = threading.Thread(target=kill_the_busy_one)
    killer.start()
    with pytest.raises(QueryMemoryExceeded, match=r"stopped \(signal 9\)"):
        run(SLOW, budget_s=60)
    killer.join()
    assert run("SELECT 5") == [(5,)]


def test_engine_errors_keep_their_codes_and_the_process() -> None:
    run("SELECT 1")
    pids = engine_pids()
    with pytest.raises(InvalidSql, match="no_such_column"):
        run("SELECT no_such_column")
    assert engine_pids() == pids


def test_queries_wait_for_a_free_process_and_give_up_at_their_deadline(use_env: Callable[..., None]) -> None:
    use_env(query_workers=1)
    held = EngineCall(Deadline(30), size=1, address_space_bytes=2 * 1024**3)
    try:
        with pytest.raises(QueryBusy, match="all 1 query engine processes stayed busy"):
            EngineCall(Deadline(0.3), size=1, address_space_bytes=2 * 1024**3)
        released = threading.Timer(0.3, held.close)
        released.start()
        waiting = EngineCall(Deadline(30), size=1, address_space_bytes=2 * 1024**3)
        assert waiting.engine is held.engine  # handed over, not a second process
        waiting.close()
    finally:
        held.close()


def test_a_changed_cap_starts_processes_with_the_new_cap(use_env: Callable[..., None]) -> None:
    run("SELECT 1")
    use_env(query_worker_memory_bytes=900 * 1024 * 1024)
    run("SELECT 1")
    assert {e.address_space_bytes for e in POOL._idle} == {900 * 1024 * 1024}


def test_rows_from_the_engine_process_unpickle_plain_values_only() -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system|os\.system"):
        load_rows(pickle.dumps({"columns": [], "rows": [(Evil(),)]}))
    plain = {"columns": [["a", "INTEGER"]], "rows": [(1, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), uuid.UUID(int=2))]}
    assert load_rows(pickle.dumps(plain, 5)) == plain


def test_portable_values_drop_foreign_classes() -> None:
    zoned = dt.datetime(2020, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2), "X"))
    assert portable(zoned) == zoned and portable(zoned).tzinfo == dt.timezone(dt.timedelta(hours=2))
    assert portable({1: [bytearray(b"a"), object]}) == {1: [b"a", str(object)]}
