"""Query benchmark: MoleSignal's query path against DuckDB and chDB run directly on the same
Parquet files, in one process, on a generated 10,000,000-row log stream.

The data (``bench/query/dataset.py``) is written in the lake's layout with the writer's own
``split_by_hour`` and ``encode_parquet``, under a local root; its manifest entries and
stream item are committed with the writer's own ``Lake._commit`` into the embedded moto
emulator (``LocalSystem``), and ``MOLESIGNAL_LAKE_LOCAL_ROOT`` makes the query engine read
the files from disk instead of S3. Then, for four queries (count by level, top-10 users,
a substring filter, a 5-minute histogram):

- **molesignal**: ``QueryService().run(principal, QueryRequest(sql, start, end),
  use_cache=False)`` on a warm instance — sqlglot parse and guard, the stream list and the
  manifest (from the instance's memo, ``query/snapshot.py``, as a warm Lambda has them while
  the stream is unchanged), the confined rewrite, a fresh confined DuckDB connection,
  execution, JSON values;
- **molesignal_no_memo** (diagnostic, not judged): the same with the memo emptied before each
  run, so the stream list and the manifest come from DynamoDB (moto) every time;
- **duckdb**: a fresh ``duckdb.connect()`` with the product's ``threads`` and
  ``memory_limit``, the same SQL over ``read_parquet('<stream dir>/**/*.parquet')``;
- **chdb**: ``chdb.query`` with the equivalent ClickHouse SQL over
  ``file('<stream dir>/**/*.parquet', Parquet)``, ``max_threads`` = the product's threads;
- **duckdb_engine_sql** (diagnostic, not judged): the exact SQL the product hands DuckDB
  (its confined rewrite), on a fresh plain connection: separates what the rewrite costs
  inside the engine from what the code around the engine costs.

Each engine's answer is checked against the others. One unmeasured warm-up per engine and
query, then ``--rounds`` rounds in which every query runs on every engine, the engine order
rotating from round to round; medians. Targets (``--check`` exits 1 on a miss): the product
at most 1.3 times direct DuckDB on every query; faster than chDB on at least two of the four; a cache
hit (``run(..., use_cache=True)`` on a result already cached) under 5 ms. A stage breakdown
(timers around the product's own functions) and a cProfile of one run per query explain
the gap to direct DuckDB.

    .venv/bin/pip install -r bench/query/requirements.txt    # chDB, for the benchmark only
    .venv/bin/python bench/query/run.py                      # 10M rows; table + bench/results/query-<date>.json
    .venv/bin/python bench/query/run.py --rows 1000000 --rounds 3   # quick
    .venv/bin/python bench/query/run.py --check              # exit 1 when a target is missed
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import functools
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import dataset  # noqa: E402
import duckdb  # noqa: E402
from bench.common import git_info, interpreter_info, loadavg, progress, r3, short_path  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
OWN_PREFIXES = ("molesignal/", "query_api/", "bench/")
DEFAULT_ROUNDS = 9
DEFAULT_CACHE_SAMPLES = 200
DEFAULT_BREAKDOWN_RUNS = 5
TARGET_DUCKDB_RATIO = 1.3  # product / direct DuckDB, at most, on every query
TARGET_CHDB_WINS = 2  # queries on which the product is faster than chDB, at least
TARGET_CACHE_HIT_MS = 5.0  # cache hit, median, under


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    molesignal: str  # over the stream by name, as a tenant writes it
    duckdb: str  # {source}: the files
    chdb: str  # {source}: the files; {threads}


QUERIES: list[Query] = [
    Query(
        "count_by_level",
        "count by level",
        "SELECT level, count(*) AS n FROM logs GROUP BY level ORDER BY n DESC, level",
        "SELECT level, count(*) AS n FROM {source} GROUP BY level ORDER BY n DESC, level",
        "SELECT level, count() AS n FROM {source} GROUP BY level ORDER BY n DESC, level "
        "SETTINGS max_threads = {threads}",
    ),
    Query(
        "top_users",
        "top-10 by user_id (high cardinality)",
        "SELECT user_id, count(*) AS n FROM logs WHERE user_id IS NOT NULL "
        "GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10",
        "SELECT user_id, count(*) AS n FROM {source} WHERE user_id IS NOT NULL "
        "GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10",
        "SELECT user_id, count() AS n FROM {source} WHERE user_id IS NOT NULL "
        "GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10 SETTINGS max_threads = {threads}",
    ),
    Query(
        "substring",
        "substring filter (message LIKE '%timeout%'), by service",
        "SELECT service, count(*) AS n FROM logs WHERE message LIKE '%timeout%' "
        "GROUP BY service ORDER BY n DESC, service",
        "SELECT service, count(*) AS n FROM {source} WHERE message LIKE '%timeout%' "
        "GROUP BY service ORDER BY n DESC, service",
        "SELECT service, count() AS n FROM {source} WHERE message LIKE '%timeout%' "
        "GROUP BY service ORDER BY n DESC, service SETTINGS max_threads = {threads}",
    ),
    Query(
        "histogram_5m",
        "5-minute histogram of _timestamp (288 buckets)",
        "SELECT _timestamp // 300000000 * 300000000 AS bucket, count(*) AS n FROM logs GROUP BY bucket ORDER BY bucket",
        "SELECT _timestamp // 300000000 * 300000000 AS bucket, count(*) AS n FROM {source} "
        "GROUP BY bucket ORDER BY bucket",
        "SELECT intDiv(_timestamp, 300000000) * 300000000 AS bucket, count() AS n FROM {source} "
        "GROUP BY bucket ORDER BY bucket SETTINGS max_threads = {threads}",
    ),
]
JUDGED = ("molesignal", "duckdb", "chdb")
ENGINES = (*JUDGED, "molesignal_no_memo", "duckdb_engine_sql")


# ---------------------------------------------------------------- the set-up


@dataclass
class Bench:
    root: Path
    description: dict[str, Any]
    threads: int
    memory_limit: str
    principal: Any = None
    system: Any = None
    engine_sql: dict[str, str] = field(default_factory=dict)  # query name → the product's DuckDB SQL

    @property
    def start_us(self) -> int:
        return int(self.description["start_us"])

    @property
    def end_us(self) -> int:
        return int(self.description["end_us"])

    def glob(self) -> str:
        return dataset.glob_of(self.root)

    def duckdb_source(self) -> str:
        return f"read_parquet('{self.glob()}', hive_partitioning = false)"

    def chdb_source(self) -> str:
        return f"file('{self.glob()}', Parquet)"


def start_system(bench: Bench, quiet: bool) -> None:
    """The embedded emulator with the dataset's manifest and stream committed by the writer."""
    import registry
    from molesignal import aws
    from molesignal.auth.principal import Principal, Role
    from molesignal.lake.streams import Stream
    from molesignal.lake.writer import Lake, LandedFile
    from molesignal.local.system import LocalSystem
    from molesignal.quotas import Limiter, Quota
    from molesignal.settings import get_settings, reset_settings
    from molesignal.storage.table import Table

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbenchq{uuid.uuid4().hex[:6]}"
    os.environ["MOLESIGNAL_LAKE_LOCAL_ROOT"] = str(bench.root)
    reset_settings()
    aws.reset_clients()
    progress("starting the local system (moto emulator)", quiet)
    bench.system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False)
    bench.system.start()
    # Log lines still get formatted, into /dev/null rather than over the table.
    from molesignal.observability import logger

    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[union-attr]  # noqa: SIM115

    settings = get_settings()
    if settings.lake_local_root != str(bench.root):
        raise SystemExit("MOLESIGNAL_LAKE_LOCAL_ROOT did not reach the settings")
    bench.threads, bench.memory_limit = settings.query_threads, settings.query_memory_limit
    if bench.description["parquet_bytes"] > settings.query_max_scan_bytes:
        raise SystemExit(
            f"the dataset ({bench.description['parquet_bytes']} bytes) is over query_max_scan_bytes "
            f"({settings.query_max_scan_bytes}): the product would refuse to scan it"
        )
    table = Table()
    files = [LandedFile(**f) for f in bench.description["landed"]]
    progress(f"committing {len(files)} manifest entries and the stream item (Lake._commit)", quiet)
    Lake(table)._commit(
        dataset.ORG,
        Stream(org_id=dataset.ORG, name=dataset.STREAM),
        ["bench-query-load"],  # request ids: a bare string was read as one id per character
        files,
        bench.description["schema"],
    )
    Limiter(table).set_quota(dataset.ORG, Quota(ingest_qps=10**6, query_qps=10**6, storage_bytes=10**15))
    bench.principal = Principal(dataset.ORG, "bench-user", Role.VIEWER, "jwt", "bench", "bench")


# ---------------------------------------------------------------- the engines


def normal(rows: Any) -> list[tuple[Any, ...]]:
    return [tuple(int(v) if isinstance(v, int) else v for v in row) for row in rows]


def run_molesignal(bench: Bench, q: Query, *, use_cache: bool = False, admit: bool = False) -> list[tuple]:
    from molesignal.query.service import QueryRequest, QueryService

    service = QueryService()
    if admit:
        service.admit(bench.principal)
    outcome = service.run(
        bench.principal, QueryRequest(q.molesignal, bench.start_us, bench.end_us), use_cache=use_cache
    )
    return normal(outcome.rows)


def duck_connection(bench: Bench) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"threads": str(bench.threads), "memory_limit": bench.memory_limit})


def forget_instance_memory() -> None:
    """What a cold instance does not have: the planner's memo of stream lists and manifests,
    and the parsed queries it has seen (query/snapshot.py, query/service.py)."""
    from molesignal.query import service as service_module
    from molesignal.query.snapshot import SNAPSHOTS

    SNAPSHOTS.clear()
    service_module._seen_queries = service_module._SeenQueries()


def run_molesignal_no_memo(bench: Bench, q: Query) -> list[tuple]:
    """The product reading the stream list and the manifest from DynamoDB on every query."""
    forget_instance_memory()
    return run_molesignal(bench, q)


def run_duckdb(bench: Bench, q: Query) -> list[tuple]:
    connection = duck_connection(bench)
    try:
        return normal(connection.execute(q.duckdb.format(source=bench.duckdb_source())).fetchall())
    finally:
        connection.close()


def run_duckdb_engine_sql(bench: Bench, q: Query) -> list[tuple]:
    connection = duck_connection(bench)
    try:
        return normal(connection.execute(bench.engine_sql[q.name]).fetchall())
    finally:
        connection.close()


def run_chdb(bench: Bench, q: Query) -> list[tuple]:
    import chdb

    result = chdb.query(q.chdb.format(source=bench.chdb_source(), threads=bench.threads), "ArrowTable")
    return normal(tuple(row.values()) for row in result.to_pylist())


RUNNERS: dict[str, Callable[[Bench, Query], list[tuple]]] = {
    "molesignal": run_molesignal,
    "molesignal_no_memo": run_molesignal_no_memo,
    "duckdb": run_duckdb,
    "chdb": run_chdb,
    "duckdb_engine_sql": run_duckdb_engine_sql,
}


def capture_engine_sql(bench: Bench) -> None:
    """The SQL the product hands DuckDB for each query (its duckdb_sql() output)."""
    import molesignal.query.service as service_module

    captured: list[str] = []
    original = service_module.duckdb_sql

    def spy(*args: Any, **kwargs: Any) -> str:
        sql = original(*args, **kwargs)
        captured.append(sql)
        return sql

    service_module.duckdb_sql = spy  # type: ignore[assignment]
    try:
        for q in QUERIES:
            captured.clear()
            run_molesignal(bench, q)
            bench.engine_sql[q.name] = captured[-1]
    finally:
        service_module.duckdb_sql = original  # type: ignore[assignment]


# ---------------------------------------------------------------- measuring


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000.0, out


def warm_up_and_check(bench: Bench, quiet: bool) -> dict[str, Any]:
    """One unmeasured run per engine and query; every engine must give the same answer."""
    answers: dict[str, Any] = {}
    for q in QUERIES:
        got = {}
        for engine in ENGINES:
            ms, rows = timed(functools.partial(RUNNERS[engine], bench, q))
            got[engine] = rows
            progress(f"warm-up {q.name:<15} {engine:<18} {ms:9.1f} ms  {len(rows)} rows", quiet)
        reference = got["duckdb"]
        answers[q.name] = {
            "rows": len(reference),
            "first_rows": [list(r) for r in reference[:5]],
            "match": {engine: got[engine] == reference for engine in ENGINES},
        }
        for engine in ENGINES:
            if got[engine] != reference:
                diff = [(a, b) for a, b in zip(got[engine], reference, strict=False) if a != b][:3]
                answers[q.name].setdefault("mismatch", {})[engine] = {
                    "rows": len(got[engine]),
                    "first_differences": [[list(a), list(b)] for a, b in diff],
                }
    return answers


def measure_rounds(bench: Bench, rounds: int, quiet: bool) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {q.name: {e: [] for e in ENGINES} for q in QUERIES}
    for rnd in range(rounds):
        for qi, q in enumerate(QUERIES):
            shift = (rnd + qi) % len(ENGINES)
            for engine in ENGINES[shift:] + ENGINES[:shift]:
                ms, _ = timed(functools.partial(RUNNERS[engine], bench, q))
                samples[q.name][engine].append(ms)
        progress(f"round {rnd + 1}/{rounds} done", quiet)
    return samples


def measure_cache(bench: Bench, count: int) -> dict[str, Any]:
    """``QueryService().run(..., use_cache=True)`` on a result already cached: from this
    instance's memory (a warm Lambda), from DynamoDB only (another instance), and with
    ``admit`` (the QPS check the route makes first) in front of the memory hit."""
    from molesignal.query.cache import ResultCache
    from molesignal.query.service import QueryRequest, QueryService

    out: dict[str, Any] = {}
    for q in QUERIES:
        request = QueryRequest(q.molesignal, bench.start_us, bench.end_us)
        QueryService().run(bench.principal, request, use_cache=True)  # fills the cache

        def hit(request: QueryRequest = request) -> None:
            outcome = QueryService().run(bench.principal, request, use_cache=True)
            if not outcome.cache_hit:
                raise SystemExit("expected a cache hit")

        def ddb_hit(hit: Callable[[], None] = hit) -> None:
            # Another instance: nothing in memory (results, the planner's memo, parsed queries).
            ResultCache.forget_all()  # takes the cache's lock itself
            forget_instance_memory()
            hit()

        def admitted_hit(request: QueryRequest = request) -> None:
            service = QueryService()
            service.admit(bench.principal)
            if not service.run(bench.principal, request, use_cache=True).cache_hit:
                raise SystemExit("expected a cache hit")

        row: dict[str, Any] = {}
        for kind, fn, n in (
            ("memory", hit, count),
            ("dynamodb", ddb_hit, count // 4),
            ("admit_memory", admitted_hit, count // 4),
        ):
            fn()
            row[kind] = [r3(timed(fn)[0]) for _ in range(max(n, 5))]
        out[q.name] = {
            **{f"{k}_ms_median": r3(statistics.median(v)) for k, v in row.items()},
            **{f"{k}_ms_p90": r3(quantile(v, 0.9)) for k, v in row.items()},
            "samples_ms": row,
        }
    return out


# ---------------------------------------------------------------- explaining


class StageTimer:
    """Wall time spent in named product functions while installed (monkeypatched wrappers)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[stage] = self.spent.get(stage, 0.0) + (time.perf_counter() - t0) * 1000.0
                self.calls[stage] = self.calls.get(stage, 0) + 1

        setattr(owner, attr, wrapper)
        self._undo.append(lambda: setattr(owner, attr, original))

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


@contextmanager
def stage_timers() -> Iterator[StageTimer]:
    """Timers around the product's stages. ``aws_parse`` (botocore turning the HTTP response
    into Python, a client-side cost that real DynamoDB has too) is nested inside the two
    DynamoDB stages; the rest of those stages is the HTTP round trip to the emulator and
    moto's own work serving it (which stands in for DynamoDB's latency); ``emulator_action``
    is moto's handling of the action itself, timed in the emulator's server thread."""
    import botocore.parsers
    from botocore.client import BaseClient
    from moto.dynamodb.responses import DynamoHandler

    import molesignal.query.service as service_module
    from molesignal.lake.streams import Streams
    from molesignal.query.cache import ResultCache
    from molesignal.query.duck import DuckEngine

    timer = StageTimer()
    timer.wrap(service_module, "analyze_query", "parse_guard")
    timer.wrap(Streams, "all", "streams_ddb")
    timer.wrap(Streams, "manifest_hours", "manifest_ddb")
    timer.wrap(ResultCache, "get", "cache_get")
    timer.wrap(service_module, "duckdb_sql", "confine_rewrite")
    timer.wrap(DuckEngine, "execute", "engine_process")
    timer.wrap(botocore.parsers.ResponseParser, "parse", "aws_parse")
    timer.wrap(BaseClient, "_make_api_call", "aws_calls_ms")
    # moto's handling of each DynamoDB action, in the emulator's server thread.
    timer.wrap(DynamoHandler, "call_action", "emulator_action")
    try:
        yield timer
    finally:
        timer.restore()


NESTED = ("aws_parse", "aws_calls_ms", "emulator_action", "cache_get")  # inside other stages: not added up
STAGES = (
    ("parse_guard", "sqlglot parse + guard (analyze_query)"),
    ("streams_ddb", "stream list from DynamoDB (Streams.all)"),
    ("manifest_ddb", "manifest from DynamoDB (Streams.manifest_hours)"),
    ("confine_rewrite", "optimised, confined rewrite (duckdb_sql: sqlglot)"),
    (
        "engine_process",
        "the engine process (ADR 0018): request over the pipe, DuckDB connect + confine, execute, "
        "fetch, rows back (DuckEngine.execute)",
    ),
    ("other", "the rest (QueryService(), Plan, jsonable rows, outcome)"),
)


def staged_run(fn: Callable[[], Any]) -> tuple[dict[str, float], dict[str, int]]:
    with stage_timers() as timer:
        total, _ = timed(fn)
    spent = {k: 0.0 for k, _ in STAGES} | {k: 0.0 for k in NESTED} | dict(timer.spent)
    spent["other"] = 0.0
    spent["other"] = total - sum(v for k, v in spent.items() if k not in NESTED)
    spent["total"] = total
    return spent, dict(timer.calls)


def breakdown(bench: Bench, runs: int) -> dict[str, Any]:
    """Median per stage of ``runs`` product runs per query (and of ``runs`` cache hits)."""
    from molesignal.query.service import QueryRequest, QueryService

    out: dict[str, Any] = {}
    for q in QUERIES:
        per_run: list[dict[str, float]] = []
        calls: dict[str, int] = {}
        for _ in range(runs + 1):
            spent, calls = staged_run(functools.partial(run_molesignal, bench, q))
            per_run.append(spent)
        per_run = per_run[1:]  # the first one warms the wrappers
        med = {k: r3(statistics.median(r[k] for r in per_run)) for k in per_run[0]}
        request = QueryRequest(q.molesignal, bench.start_us, bench.end_us)
        QueryService().run(bench.principal, request, use_cache=True)
        hits = [
            staged_run(functools.partial(QueryService().run, bench.principal, request, use_cache=True))[0]
            for _ in range(runs * 4)
        ]
        hit_med = {k: r3(statistics.median(r[k] for r in hits)) for k in ("parse_guard", "streams_ddb", "cache_get")}
        nested = ("aws_parse", "aws_calls_ms", "emulator_action", "total")
        hit_med |= {k: r3(statistics.median(r[k] for r in hits)) for k in nested}
        hit_med["other"] = r3(hit_med["total"] - hit_med["parse_guard"] - hit_med["streams_ddb"] - hit_med["cache_get"])
        admit_ms = [timed(functools.partial(admit_only, bench))[0] for _ in range(runs)]
        out[q.name] = {
            "stages_ms_median": med,
            "aws_calls_per_run": calls.get("aws_calls_ms", 0),
            "cache_hit_stages_ms_median": hit_med,
            "admit_ms_median": r3(statistics.median(admit_ms)),
            "runs": runs,
        }
    return out


def admit_only(bench: Bench) -> None:
    from molesignal.query.service import QueryService

    QueryService().admit(bench.principal)


def scan_variants(bench: Bench, runs: int) -> dict[str, Any]:
    """What the confined scan costs inside DuckDB, piece by piece: the product's relation
    (explicit file list, ``union_by_name``, the tenant predicate) rebuilt without parts of
    the predicate, each on a fresh connection; interleaved; medians of ``runs``."""
    from molesignal.query.service import lake_uri

    files = ", ".join("'" + lake_uri(f["key"]) + "'" for f in bench.description["landed"])
    scan = f"read_parquet([{files}], union_by_name = TRUE, hive_partitioning = FALSE)"
    org = f"org_id = '{dataset.ORG}'"
    span = f"_timestamp >= {bench.start_us} AND _timestamp < {bench.end_us}"
    sources = {
        "glob (direct)": bench.duckdb_source(),
        "file list, union_by_name, no WHERE": f"(SELECT * FROM {scan}) AS logs",  # noqa: S608
        "+ WHERE org_id only": f"(SELECT * FROM {scan} WHERE {org}) AS logs",  # noqa: S608
        "+ WHERE _timestamp range only": f"(SELECT * FROM {scan} WHERE {span}) AS logs",  # noqa: S608
        "+ WHERE org_id and _timestamp (before 2026-11-24)": f"(SELECT * FROM {scan} WHERE {org} AND {span}) AS logs",  # noqa: S608
    }
    samples: dict[str, dict[str, list[float]]] = {q.name: {k: [] for k in sources} for q in QUERIES}
    for rnd in range(runs + 1):
        for q in QUERIES:
            for label, source in sources.items():

                def go(sql: str = q.duckdb.format(source=source)) -> None:
                    connection = duck_connection(bench)
                    try:
                        connection.execute(sql).fetchall()
                    finally:
                        connection.close()

                ms, _ = timed(go)
                if rnd:
                    samples[q.name][label].append(ms)
    return {
        q.name: {label: r3(statistics.median(v)) for label, v in samples[q.name].items()} | {"runs": runs}
        for q in QUERIES
    }


def engine_explain(bench: Bench) -> dict[str, Any]:
    """DuckDB's EXPLAIN ANALYZE of the direct SQL and of the product's SQL (latency per
    operator, as text), for reading, not for measuring."""
    out: dict[str, Any] = {}
    for q in QUERIES:
        row = {}
        for label, sql in (
            ("duckdb", q.duckdb.format(source=bench.duckdb_source())),
            ("molesignal_engine_sql", bench.engine_sql[q.name]),
        ):
            connection = duck_connection(bench)
            try:
                text = connection.execute("EXPLAIN ANALYZE " + sql).fetchall()[0][1]
            finally:
                connection.close()
            row[label] = text
        out[q.name] = row
    return out


def profile_product(bench: Bench, top: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in QUERIES:
        profiler = cProfile.Profile()
        profiler.enable()
        run_molesignal(bench, q)
        profiler.disable()
        out[q.name] = profile_top(profiler, top)
    return out


def profile_top(profiler: cProfile.Profile, top: int) -> dict[str, Any]:
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{short_path(filename)}:{line}({name})",
                "ncalls": ncalls,
                "tottime_ms": r3(tottime * 1000),
                "cumtime_ms": r3(cumtime * 1000),
            }
        )
    return {
        "total_ms": r3(stats.total_tt * 1000),  # type: ignore[attr-defined]
        "by_tottime": sorted(rows, key=lambda r: -r["tottime_ms"])[:top],
        "ours_by_cumtime": sorted(
            (r for r in rows if r["function"].startswith(OWN_PREFIXES) or "_make_api_call" in r["function"]),
            key=lambda r: -r["cumtime_ms"],
        )[:top],
    }


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in QUERIES:
        per = samples[q.name]
        med = {e: statistics.median(per[e]) for e in ENGINES}
        low = {e: min(per[e]) for e in ENGINES}
        out[q.name] = {
            "title": q.title,
            "median_ms": {e: r3(med[e]) for e in ENGINES},
            "min_ms": {e: r3(low[e]) for e in ENGINES},
            "max_ms": {e: r3(max(per[e])) for e in ENGINES},
            "molesignal_to_duckdb": r3(med["molesignal"] / med["duckdb"]),
            "molesignal_to_chdb": r3(med["molesignal"] / med["chdb"]),
            "chdb_to_duckdb": r3(med["chdb"] / med["duckdb"]),
            "engine_sql_to_duckdb": r3(med["duckdb_engine_sql"] / med["duckdb"]),
            "molesignal_no_memo_to_duckdb": r3(med["molesignal_no_memo"] / med["duckdb"]),
            # Noise only ever adds time: fastest / fastest is a steadier second view.
            "molesignal_to_duckdb_min_min": r3(low["molesignal"] / low["duckdb"]),
            "molesignal_to_chdb_min_min": r3(low["molesignal"] / low["chdb"]),
            "samples_ms": {e: [r3(x) for x in per[e]] for e in ENGINES},
        }
    return out


def judge(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = result["queries"]
    targets = []
    for q in QUERIES:
        ratio = rows[q.name]["molesignal_to_duckdb"]
        targets.append(
            {
                "name": f"{q.name}: molesignal / direct DuckDB (median)",
                "value": ratio,
                "target": f"<= {TARGET_DUCKDB_RATIO}",
                "status": "PASS" if ratio <= TARGET_DUCKDB_RATIO else "FAIL",
            }
        )
    wins = [q.name for q in QUERIES if rows[q.name]["median_ms"]["molesignal"] < rows[q.name]["median_ms"]["chdb"]]
    targets.append(
        {
            "name": "queries on which molesignal is faster than chDB (medians)",
            "value": len(wins),
            "which": wins,
            "target": f">= {TARGET_CHDB_WINS} of {len(QUERIES)}",
            "status": "PASS" if len(wins) >= TARGET_CHDB_WINS else "FAIL",
        }
    )
    worst = max(result["cache_hit"].values(), key=lambda r: r["memory_ms_median"])
    worst_name = next(k for k, v in result["cache_hit"].items() if v is worst)
    targets.append(
        {
            "name": "cache hit, QueryService().run(use_cache=True), median (worst query)",
            "value": worst["memory_ms_median"],
            "which": worst_name,
            "target": f"< {TARGET_CACHE_HIT_MS} ms",
            "status": "PASS" if worst["memory_ms_median"] < TARGET_CACHE_HIT_MS else "FAIL",
        }
    )
    matched = all(all(a["match"].values()) for a in result["answers"].values())
    targets.append(
        {
            "name": "all engines give the same answers",
            "value": matched,
            "target": "True",
            "status": "PASS" if matched else "FAIL",
        }
    )
    return targets


def print_report(result: dict[str, Any]) -> None:
    d = result["dataset"]
    print(
        f"\n{d['rows']:,} rows, {d['files']} Parquet files, {d['parquet_bytes'] / 1e6:.0f} MB; "
        f"{result['parameters']['rounds']} rounds; threads={result['parameters']['threads']}"
    )
    header = (
        f"{'query':<15} {'molesignal':>11} {'no memo':>9} {'duckdb':>9} {'chdb':>9} {'eng.sql':>9} "
        f"{'ms/duck':>8} {'ms/chdb':>8} {'min/min':>8}  answers"
    )
    print(header)
    print("-" * len(header))
    for q in QUERIES:
        r = result["queries"][q.name]
        m = r["median_ms"]
        ok = "same" if all(result["answers"][q.name]["match"].values()) else "DIFFER"
        print(
            f"{q.name:<15} {m['molesignal']:11.1f} {m['molesignal_no_memo']:9.1f} {m['duckdb']:9.1f} {m['chdb']:9.1f} "
            f"{m['duckdb_engine_sql']:9.1f} "
            f"{r['molesignal_to_duckdb']:8.2f} {r['molesignal_to_chdb']:8.2f} "
            f"{r['molesignal_to_duckdb_min_min']:8.2f}  {ok}"
        )
    print("(ms, medians; eng.sql = the product's rewritten SQL on a plain DuckDB connection; min/min vs duckdb)")
    print("\ncache hit, ms (median / p90):")
    for name, c in result["cache_hit"].items():
        print(
            f"  {name:<15} memory {c['memory_ms_median']:6.2f} / {c['memory_ms_p90']:6.2f}   "
            f"DynamoDB {c['dynamodb_ms_median']:6.2f} / {c['dynamodb_ms_p90']:6.2f}   "
            f"admit+memory {c['admit_memory_ms_median']:6.2f} / {c['admit_memory_ms_p90']:6.2f}"
        )
    print("\nproduct path breakdown, ms (medians of the breakdown runs; direct DuckDB median for reference):")
    names = [s for s, _ in STAGES]
    short = ["parse+guard", "streams DDB", "manifest DDB", "confine", "engine proc", "other"]
    print(
        f"  {'query':<15} "
        + " ".join(f"{n:>12}" for n in short)
        + f" {'total':>8} {'duckdb':>8} {'aws parse':>9} {'moto':>6} {'calls':>5} {'admit':>6}"
    )
    for q in QUERIES:
        b = result["breakdown"][q.name]
        s = b["stages_ms_median"]
        print(
            f"  {q.name:<15} "
            + " ".join(f"{s[n]:12.2f}" for n in names)
            + f" {s['total']:8.1f} {result['queries'][q.name]['median_ms']['duckdb']:8.1f} {s['aws_parse']:9.2f}"
            + f" {s['emulator_action']:6.2f}"
            + f" {b['aws_calls_per_run']:5d} {b['admit_ms_median']:6.2f}"
        )
    print(
        "  (streams/manifest DDB include the botocore parse ('aws parse') and the emulator round trip, of which "
        "'moto' is moto's handling of the actions)"
    )
    print("\ncache hit breakdown, ms (medians):")
    for q in QUERIES:
        h = result["breakdown"][q.name]["cache_hit_stages_ms_median"]
        print(
            f"  {q.name:<15} total {h['total']:6.2f} = parse+guard {h['parse_guard']:5.2f} + streams DDB "
            f"{h['streams_ddb']:5.2f} (parse {h['aws_parse']:4.2f}, moto {h['emulator_action']:4.2f}) + cache get "
            f"{h['cache_get']:5.2f} "
            f"+ other {h['other']:5.2f}"
        )
    print("\nthe confined scan inside DuckDB, ms (medians):")
    labels = [k for k in next(iter(result["scan_variants_ms_median"].values())) if k != "runs"]
    for label in labels:
        print(f"  {label:<48} " + " ".join(f"{result['scan_variants_ms_median'][q.name][label]:9.1f}" for q in QUERIES))
    print(f"  {'':<48} " + " ".join(f"{q.name[:9]:>9}" for q in QUERIES))
    print("\ntargets:")
    for t in result["targets"]:
        print(f"  {t['status']:<4}  {t['name']}: {t['value']} (target {t['target']})")


def machine_info() -> dict[str, Any]:
    return interpreter_info(
        ("duckdb", "chdb", "chdb-core", "pyarrow", "numpy", "sqlglot", "moto", "boto3", "botocore", "orjson")
    )


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=dataset.DEFAULT_ROWS, help="dataset size (default 10M)")
    parser.add_argument("--seed", type=int, default=dataset.DEFAULT_SEED)
    parser.add_argument("--file-rows", type=int, default=dataset.DEFAULT_FILE_ROWS, help="rows per Parquet file")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="measured rounds (default %(default)s)")
    parser.add_argument("--cache-samples", type=int, default=DEFAULT_CACHE_SAMPLES, help="cache hits timed per query")
    parser.add_argument("--breakdown-runs", type=int, default=DEFAULT_BREAKDOWN_RUNS, help="product runs per query")
    parser.add_argument("--top", type=int, default=15, help="profile rows (default %(default)s)")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / f"query-{now:%Y-%m-%d}.json",
        help="JSON results file (default bench/results/query-<UTC date>.json)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.rows < 10_000:
        parser.error("--rounds must be at least 1 and --rows at least 10000")
    try:
        import chdb  # noqa: F401
    except ImportError:
        parser.error("chDB is not installed: .venv/bin/pip install -r bench/query/requirements.txt")
    quiet = args.quiet

    load_start = loadavg()
    started = time.perf_counter()
    root, description = dataset.ensure(args.rows, args.seed, args.file_rows, quiet=quiet)
    bench = Bench(root=root, description=description, threads=0, memory_limit="")
    try:
        start_system(bench, quiet)
        capture_engine_sql(bench)
        answers = warm_up_and_check(bench, quiet)
        samples = measure_rounds(bench, args.rounds, quiet)
        progress("cache hits", quiet)
        cache = measure_cache(bench, args.cache_samples)
        progress("product path breakdown", quiet)
        stages = breakdown(bench, args.breakdown_runs)
        progress("the confined scan in DuckDB, piece by piece", quiet)
        variants = scan_variants(bench, args.breakdown_runs)
        progress("cProfile and EXPLAIN ANALYZE", quiet)
        profiles = profile_product(bench, args.top)
        explain = engine_explain(bench)
    finally:
        if bench.system is not None:
            bench.system.stop()

    result: dict[str, Any] = {
        "benchmark": "query",
        "date": now.isoformat(timespec="seconds"),
        "method": (
            "one process; molesignal = QueryService().run(principal, QueryRequest(sql, start, end), use_cache=False) "
            "against the embedded moto emulator with MOLESIGNAL_LAKE_LOCAL_ROOT (files read from local disk); "
            "duckdb = fresh duckdb.connect(threads, memory_limit as the product) + read_parquet(glob) + fetchall; "
            "chdb = chdb.query(file(glob, Parquet), 'ArrowTable') with max_threads as the product; duckdb_engine_sql = "
            "the product's confined SQL on a fresh plain DuckDB connection (diagnostic); one warm-up each, answers "
            "compared; rounds round-robin over queries x engines with the engine order rotating; medians; files in "
            "the page cache (warm)"
        ),
        "parameters": {
            "rows": args.rows,
            "seed": args.seed,
            "file_rows": args.file_rows,
            "rounds": args.rounds,
            "cache_samples": args.cache_samples,
            "breakdown_runs": args.breakdown_runs,
            "threads": bench.threads,
            "memory_limit": bench.memory_limit,
            "time_range_us": [bench.start_us, bench.end_us],
        },
        "dataset": {"root": str(root), **{k: v for k, v in description.items() if k != "landed"}},
        "sql": {
            q.name: {
                "molesignal": q.molesignal,
                "duckdb": q.duckdb.format(source=bench.duckdb_source()),
                "chdb": q.chdb.format(source=bench.chdb_source(), threads=bench.threads),
                "molesignal_engine_sql": bench.engine_sql[q.name][:2000],
            }
            for q in QUERIES
        },
        "answers": answers,
        "queries": summarise(samples),
        "cache_hit": cache,
        "breakdown": stages,
        "scan_variants_ms_median": variants,
    }
    result["targets"] = judge(result)
    result["profiles"] = profiles
    result["explain_analyze"] = explain
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["machine"] = {**machine_info(), "loadavg_start": load_start, "loadavg_end": loadavg()}
    result["git"] = git_info()

    print_report(result)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {out}")
    missed = [t for t in result["targets"] if t["status"] != "PASS"]
    if args.check and missed:
        print("missed: " + "; ".join(t["name"] for t in missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
