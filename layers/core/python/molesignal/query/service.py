"""Running a tenant's query: checks, cache, plan, engine."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from molesignal.auth.principal import Principal, Role
from molesignal.lake.streams import Stream, Streams
from molesignal.query.cache import ResultCache, cache_key
from molesignal.query.duck import Column, DuckEngine
from molesignal.query.errors import PermissionDenied, QueryLimitExceeded
from molesignal.query.guard import Analysis, StreamScan, analyze_query, confine, duckdb_renderer
from molesignal.query.values import jsonable
from molesignal.quotas import Limiter, RateKind
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

READ_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)


@dataclass(frozen=True)
class QueryRequest:
    sql: str
    start_us: int | None = None
    end_us: int | None = None
    params: Sequence[Any] = ()


@dataclass
class QueryOutcome:
    columns: list[Column]
    rows: list[list[Any]]
    scanned_rows: int
    scanned_bytes: int
    took_ms: float
    cache_hit: bool
    engine: str

    def to_cache(self) -> dict[str, Any]:
        return {
            "columns": [[c.name, c.engine_type] for c in self.columns],
            "rows": self.rows,
            "scanned_rows": self.scanned_rows,
            "scanned_bytes": self.scanned_bytes,
            "engine": self.engine,
        }

    @classmethod
    def from_cache(cls, cached: dict[str, Any], took_ms: float) -> QueryOutcome:
        return cls(
            columns=[Column(name, kind) for name, kind in cached["columns"]],
            rows=cached["rows"],
            scanned_rows=int(cached["scanned_rows"]),
            scanned_bytes=int(cached["scanned_bytes"]),
            took_ms=took_ms,
            cache_hit=True,
            engine=str(cached.get("engine", "duckdb")),
        )


@dataclass
class Plan:
    analysis: Analysis
    streams: dict[str, Stream]
    scans: dict[str, StreamScan] = field(default_factory=dict)
    files: list[Item] = field(default_factory=list)

    @property
    def scanned_bytes(self) -> int:
        return sum(int(f["bytes"]) for f in self.files)

    @property
    def scanned_rows(self) -> int:
        return sum(int(f["rows"]) for f in self.files)

    @property
    def uris(self) -> tuple[str, ...]:
        return tuple(u for s in self.scans.values() for u in s.uris)


def lake_uri(key: str) -> str:
    settings = get_settings()
    if settings.lake_local_root:
        return f"{settings.lake_local_root.rstrip('/')}/{key}"
    return f"s3://{settings.resource_name('lake')}/{key}"


class QueryService:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()
        self.streams = Streams(self.table)
        self.cache = ResultCache(self.table, get_settings().query_cache_ttl_s)

    def admit(self, principal: Principal) -> None:
        try:
            principal.require(*READ_ROLES)
        except Exception as exc:
            raise PermissionDenied(f"PERMISSION_DENIED: a {principal.role.value} credential cannot query") from exc
        Limiter(self.table).check_rate(principal.org_id, RateKind.QUERY, actor=principal.actor)

    def plan(self, principal: Principal, request: QueryRequest) -> Plan:
        analysis = analyze_query(request.sql, org_id=principal.org_id, params=request.params)
        streams = {s.name: s for s in self.streams.all(principal.org_id)}
        return Plan(analysis=analysis, streams=streams)

    def _resolve_files(self, plan: Plan, principal: Principal, request: QueryRequest) -> None:
        for name in plan.analysis.streams:
            if name not in plan.streams:
                continue  # confine() reports TABLE_NOT_FOUND
            files = self.streams.manifest(principal.org_id, name, start_us=request.start_us, end_us=request.end_us)
            plan.files.extend(files)
            plan.scans[name] = StreamScan(
                stream=name, uris=tuple(lake_uri(f["key"]) for f in files), columns=plan.streams[name].schema
            )

    def run(self, principal: Principal, request: QueryRequest, *, use_cache: bool = True) -> QueryOutcome:
        started = time.perf_counter()
        plan = self.plan(principal, request)
        key = ""
        if use_cache:
            versions = {name: plan.streams[name].version for name in plan.analysis.streams if name in plan.streams}
            key = cache_key(principal.org_id, plan.analysis.normalized, request.start_us, request.end_us, versions)
            cached = self.cache.get(principal.org_id, key)
            if cached is not None:
                return QueryOutcome.from_cache(cached, (time.perf_counter() - started) * 1000)
        self._resolve_files(plan, principal, request)
        engine = self._choose_engine(plan)
        result = self._execute(engine, plan, principal, request)
        outcome = QueryOutcome(
            columns=result.columns,
            rows=[[jsonable(v) for v in row] for row in result.rows],
            scanned_rows=plan.scanned_rows,
            scanned_bytes=plan.scanned_bytes,
            took_ms=(time.perf_counter() - started) * 1000,
            cache_hit=False,
            engine=engine,
        )
        if use_cache:
            self.cache.put(principal.org_id, key, outcome.to_cache())
        return outcome

    def stream(self, principal: Principal, request: QueryRequest) -> Iterator[Any]:
        """Arrow record batches of the result; streaming bypasses the cache (spec 000)."""
        plan = self.plan(principal, request)
        self._resolve_files(plan, principal, request)
        self._choose_engine(plan, streaming=True)
        sql = confine(
            plan.analysis,
            known_streams=set(plan.streams),
            scans=plan.scans,
            render=duckdb_renderer(principal.org_id, request.start_us, request.end_us),
        )
        return DuckEngine().stream(sql, plan.uris, timeout_s=get_settings().query_timeout_s)

    def _choose_engine(self, plan: Plan, *, streaming: bool = False) -> str:
        settings = get_settings()
        too_big = plan.scanned_bytes > settings.query_max_scan_bytes
        choice = settings.query_engine
        if choice == "auto":
            choice = "athena" if too_big and not streaming else "duckdb"
        if choice == "duckdb" and too_big:
            raise QueryLimitExceeded(
                f"QUERY_LIMIT_EXCEEDED: the query would scan {plan.scanned_bytes} bytes; the limit is "
                f"{settings.query_max_scan_bytes}. Narrow the time range."
            )
        if choice == "athena" and streaming:
            raise QueryLimitExceeded("QUERY_LIMIT_EXCEEDED: streaming is served by the embedded engine only")
        return choice

    def _execute(self, engine: str, plan: Plan, principal: Principal, request: QueryRequest) -> Any:
        settings = get_settings()
        if engine == "athena":
            from molesignal.query.athena import AthenaEngine

            return AthenaEngine().execute(
                plan.analysis,
                org_id=principal.org_id,
                known_streams=set(plan.streams),
                scans=plan.scans,
                start_us=request.start_us,
                end_us=request.end_us,
                max_rows=settings.query_max_rows,
                timeout_s=settings.query_timeout_s,
            )
        sql = confine(
            plan.analysis,
            known_streams=set(plan.streams),
            scans=plan.scans,
            render=duckdb_renderer(principal.org_id, request.start_us, request.end_us),
        )
        return DuckEngine().execute(
            sql, plan.uris, max_rows=settings.query_max_rows, timeout_s=settings.query_timeout_s
        )
