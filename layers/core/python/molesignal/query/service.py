"""Running a tenant's query: checks, cache, plan, engine."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from molesignal.auth.principal import Principal, Role
from molesignal.clock import now_us
from molesignal.lake.layout import stream_prefix, table_scope_prefix
from molesignal.lake.namespaces import is_stream_namespace
from molesignal.lake.streams import SEALED_COLUMNS, Stream, Streams, inside
from molesignal.query.cache import ResultCache, cache_key
from molesignal.query.catalog import Catalog, ResolvedTable, ScopeUser
from molesignal.query.deadline import Deadline
from molesignal.query.duck import Column, DuckEngine
from molesignal.query.errors import PermissionDenied, QueryLimitExceeded
from molesignal.query.guard import (
    Analysis,
    StreamScan,
    analyze_query,
    check_nodes,
    duckdb_sql,
    referenced_streams,
)
from molesignal.query.snapshot import SNAPSHOTS
from molesignal.query.system_tables import system_relation
from molesignal.query.table_scan import table_relation
from molesignal.query.value_bounds import check_value_sizes
from molesignal.query.values import jsonable
from molesignal.quotas import Limiter, RateKind
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table
from molesignal.wording import a_or_an

READ_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)


@dataclass(frozen=True)
class QueryRequest:
    sql: str
    start_us: int | None = None
    end_us: int | None = None
    params: Sequence[Any] = ()
    namespace: str | None = None  # where unqualified names are looked up first (query/catalog.py)
    scope_user: ScopeUser | None = None  # whose USER-table rows are read (default: the caller's)


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
    catalog: Catalog | None = None

    @property
    def known(self) -> set[str]:
        return self.catalog.keys if self.catalog else set(self.streams)

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


def check_own_files(org_id: str, stream: str, files: list[Item], *, prefix: str | None = None) -> None:
    """Every file of an org's manifest must lie under that org's stream (or table scope) prefix.

    The engine reads exactly these files (and DuckDB may open nothing else), so this check,
    once per file, is what keeps another org's (or another user's) rows out; rows are not
    filtered by org or user again.
    """
    prefix = prefix or stream_prefix(org_id, stream)
    stray = [f["key"] for f in files if not str(f["key"]).startswith(prefix)]
    if stray:
        raise RuntimeError(f"manifest of {org_id}/{stream} lists files outside {prefix}: {stray[:3]}")


class _SeenQueries:
    """(normalized SQL, streams) of queries this instance has analysed, by their exact text.

    Lets a repeated query reach the result cache without parsing; bounded, per org.
    """

    def __init__(self, limit: int = 2048) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = OrderedDict()

    @staticmethod
    def _key(org_id: str, request: QueryRequest) -> tuple[str, str, str] | None:
        if request.namespace is not None and not is_stream_namespace(org_id, request.namespace):
            return None  # unqualified names may mean a table created since: resolve them every time
        try:
            params = json.dumps(list(request.params), sort_keys=True)
        except (TypeError, ValueError):
            return None
        return org_id, request.sql, params

    def get(self, org_id: str, request: QueryRequest) -> tuple[str, tuple[str, ...]] | None:
        key = self._key(org_id, request)
        with self._lock:
            return self._seen.get(key) if key else None

    def put(self, org_id: str, request: QueryRequest, analysis: Analysis) -> None:
        key = self._key(org_id, request)
        if key is None:
            return
        with self._lock:
            # Only answers read from streams alone take this path (_result_key): a table's data
            # version is read from its scope on every query.
            self._seen[key] = (analysis.normalized, analysis.streams)
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)


_seen_queries = _SeenQueries()


class QueryService:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()
        self.streams = Streams(self.table)
        self.cache = ResultCache(self.table, get_settings().query_cache_ttl_s)

    def admit(self, principal: Principal) -> None:
        try:
            principal.require(*READ_ROLES)
        except Exception as exc:
            raise PermissionDenied(
                f"PERMISSION_DENIED: {a_or_an(principal.role.value)} credential cannot query"
            ) from exc
        Limiter(self.table).check_rate(principal.org_id, RateKind.QUERY, actor=principal.actor)

    def known_streams(self, org_id: str) -> dict[str, Stream]:
        """The org's streams by name (memoised briefly: see query/snapshot.py)."""
        return SNAPSHOTS.streams(self.streams, org_id)

    def plan(self, principal: Principal, request: QueryRequest) -> Plan:
        streams = self.known_streams(principal.org_id)
        catalog = Catalog(self.table, principal, streams, request.namespace, request.scope_user)
        analysis = analyze_query(request.sql, org_id=principal.org_id, params=request.params, resolve=catalog.resolve)
        check_value_sizes(analysis.tree, limit=get_settings().query_max_value_bytes)
        catalog.read_files()
        return Plan(analysis=analysis, streams=streams, catalog=catalog)

    def catalog(self, principal: Principal, request: QueryRequest) -> Catalog:
        """Name resolution for one statement of ``principal``'s (query/catalog.py)."""
        streams = self.known_streams(principal.org_id)
        return Catalog(self.table, principal, streams, request.namespace, request.scope_user)

    def compose(
        self,
        principal: Principal,
        request: QueryRequest,
        composed: exp.Expr,
        parts: Sequence[exp.Expr],
        catalog: Catalog,
    ) -> tuple[str, tuple[str, ...]]:
        """The engine SQL (and files it may open) of a query the SQL layer built around parts of
        a caller's statement (a DML statement's source, SET values or WHERE clause).

        Each part is checked and has its names resolved and confined exactly like a query's;
        everything else in ``composed`` is MoleSignal's own (its internal names start with
        ``__ms_``, which no part can contain). The parts must be the very nodes inside it.
        """
        references: list[tuple[exp.Table, str]] = []
        for part in parts:
            check_nodes(part)
            references += referenced_streams(part, org_id=principal.org_id, resolve=catalog.resolve)
        catalog.read_files()
        plan = Plan(Analysis(composed, "", references), catalog.streams, catalog=catalog)
        self._resolve_files(plan, principal, request)
        return self._duckdb_sql(plan, principal, request), plan.uris

    def _resolve_files(
        self, plan: Plan, principal: Principal, request: QueryRequest, *, reveal_sealed: bool = False
    ) -> None:
        start_us, end_us = request.start_us, request.end_us
        catalog = plan.catalog
        for name in plan.analysis.streams:
            if catalog is not None and name in catalog.tables:
                plan.scans[name] = self._table_scan(plan, principal, name, catalog.tables[name])
                continue
            if catalog is not None and name in catalog.system:
                relation = system_relation(self.table, principal.org_id, name.split(":", 1)[1])
                plan.scans[name] = StreamScan(stream=name, uris=(), columns={}, prebuilt=relation)
                continue
            stream = plan.streams.get(name)
            if stream is None:
                continue  # confine() reports TABLE_NOT_FOUND
            files = SNAPSHOTS.manifest(self.streams, stream, start_us, end_us)
            check_own_files(principal.org_id, name, files)
            plan.files.extend(files)
            plan.scans[name] = StreamScan(
                stream=name,
                uris=tuple(lake_uri(f["key"]) for f in files),
                columns=stream.schema,
                inside=frozenset(lake_uri(f["key"]) for f in files if inside(f, start_us, end_us)),
                hidden=frozenset() if reveal_sealed else SEALED_COLUMNS.get(name, frozenset()),
            )

    @staticmethod
    def _table_scan(plan: Plan, principal: Principal, key: str, resolved: ResolvedTable) -> StreamScan:
        definition, files = resolved.definition, resolved.files
        entries = files.entries if files else []
        check_own_files(
            principal.org_id,
            key,
            entries,
            prefix=table_scope_prefix(principal.org_id, definition.table_id, resolved.scope),
        )
        plan.files.extend(entries)
        cutoff = now_us() - definition.ttl_seconds * 1_000_000 if definition.ttl_seconds else None
        relation = table_relation(definition, entries, lake_uri, ttl_cutoff_us=cutoff)
        return StreamScan(
            stream=key, uris=tuple(lake_uri(str(e["key"])) for e in entries), columns={}, prebuilt=relation
        )

    @staticmethod
    def _result_key(
        org_id: str,
        request: QueryRequest,
        normalized: str,
        names: Sequence[str],
        streams: dict[str, Stream],
        catalog: Catalog | None = None,
    ) -> str | None:
        """The result-cache key: the canonical query, its range and each relation's data version."""
        if catalog is not None and not catalog.cacheable:
            return None
        tables = catalog.tables if catalog is not None else {}
        if any(name not in streams and name not in tables for name in names):
            return None  # confine() reports TABLE_NOT_FOUND; nothing to look up or keep
        versions = {name: streams[name].version for name in names if name in streams}
        for name in names:
            if name in tables:
                resolved = tables[name]
                versions[resolved.cache_name] = resolved.files.state.version if resolved.files else 0
        # Sealed columns are hidden from every cached answer: the key says so, so that no entry
        # written before they were hidden is ever served.
        hidden = sorted(f"{name}.{column}" for name in names for column in SEALED_COLUMNS.get(name, ()))
        return cache_key(org_id, normalized, request.start_us, request.end_us, versions, hidden=hidden)

    def run(
        self,
        principal: Principal,
        request: QueryRequest,
        *,
        use_cache: bool = True,
        reveal_sealed: bool = False,
        deadline: Deadline | None = None,
    ) -> QueryOutcome:
        """Run a tenant's query, from the cache or the engine, within ``deadline`` (default: the
        query timeout). ``reveal_sealed`` serves sealed columns too; only the audited content
        read passes it, and such a run never touches the result cache."""
        use_cache = use_cache and not reveal_sealed
        started = time.perf_counter()
        deadline = deadline or Deadline(get_settings().query_timeout_s)
        org_id = principal.org_id
        looked_up: str | None = None
        if use_cache:
            # A query this instance has seen reaches the cache without being parsed again.
            seen = _seen_queries.get(org_id, request)
            if seen is not None:
                looked_up = self._result_key(org_id, request, *seen, self.known_streams(org_id))
                cached = self.cache.get(org_id, looked_up) if looked_up else None
                if cached is not None:
                    return QueryOutcome.from_cache(cached, (time.perf_counter() - started) * 1000)
        plan = self.plan(principal, request)
        key: str | None = None
        if use_cache:
            _seen_queries.put(org_id, request, plan.analysis)
            key = self._result_key(
                org_id, request, plan.analysis.normalized, plan.analysis.streams, plan.streams, plan.catalog
            )
            cached = self.cache.get(org_id, key) if key and key != looked_up else None
            if cached is not None:
                return QueryOutcome.from_cache(cached, (time.perf_counter() - started) * 1000)
        deadline.check("reading the manifest")
        self._resolve_files(plan, principal, request, reveal_sealed=reveal_sealed)
        engine = self._choose_engine(plan)
        deadline.check("starting the engine")
        result = self._execute(engine, plan, principal, request, deadline)
        outcome = QueryOutcome(
            columns=result.columns,
            rows=[[jsonable(v) for v in row] for row in result.rows],
            scanned_rows=plan.scanned_rows,
            scanned_bytes=plan.scanned_bytes,
            took_ms=(time.perf_counter() - started) * 1000,
            cache_hit=False,
            engine=engine,
        )
        if key:
            deadline.check("writing the result cache")
            self.cache.put(org_id, key, outcome.to_cache())
        return outcome

    def stream(
        self, principal: Principal, request: QueryRequest, *, deadline: Deadline | None = None
    ) -> Iterator[bytes]:
        """The result as NDJSON chunks; streaming bypasses the cache (spec 000)."""
        deadline = deadline or Deadline(get_settings().query_timeout_s)
        plan = self.plan(principal, request)
        deadline.check("reading the manifest")
        self._resolve_files(plan, principal, request)
        self._choose_engine(plan, streaming=True)
        sql = self._duckdb_sql(plan, principal, request)
        deadline.check("starting the engine")
        return DuckEngine().stream(sql, plan.uris, deadline=deadline)

    def stream_batches(self, principal: Principal, request: QueryRequest, *, deadline: Deadline) -> Iterator[Any]:
        """Arrow record batches of the result, for the export worker: not an HTTP answer, so
        neither the answer's row cap nor its byte cap applies; its own deadline does."""
        plan = self.plan(principal, request)
        deadline.check("reading the manifest")
        self._resolve_files(plan, principal, request)
        self._choose_engine(plan, streaming=True)
        sql = self._duckdb_sql(plan, principal, request)
        deadline.check("starting the engine")
        return DuckEngine().stream_batches(sql, plan.uris, deadline=deadline, max_rows=2**62, max_bytes=2**62)

    @staticmethod
    def _duckdb_sql(plan: Plan, principal: Principal, request: QueryRequest) -> str:
        return duckdb_sql(
            plan.analysis,
            org_id=principal.org_id,
            known_streams=plan.known,
            scans=plan.scans,
            start_us=request.start_us,
            end_us=request.end_us,
        )

    def _choose_engine(self, plan: Plan, *, streaming: bool = False) -> str:
        settings = get_settings()
        too_big = plan.scanned_bytes > settings.query_max_scan_bytes
        choice = settings.query_engine
        if any(scan.prebuilt is not None for scan in plan.scans.values()):
            choice = "duckdb"  # SQL and SYSTEM tables have no Glue table: the embedded engine reads them
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

    def _execute(self, engine: str, plan: Plan, principal: Principal, request: QueryRequest, deadline: Deadline) -> Any:
        settings = get_settings()
        if engine == "athena":
            from molesignal.query.athena import AthenaEngine

            return AthenaEngine().execute(
                plan.analysis,
                org_id=principal.org_id,
                known_streams=plan.known,
                scans=plan.scans,
                start_us=request.start_us,
                end_us=request.end_us,
                max_rows=settings.query_max_rows,
                timeout_s=max(deadline.remaining(), 0.001),
            )
        sql = self._duckdb_sql(plan, principal, request)
        return DuckEngine().execute(sql, plan.uris, max_rows=settings.query_max_rows, deadline=deadline)
