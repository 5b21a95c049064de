"""The tenant-safe rewrite: one read-only statement in, a confined plan out.

``rewrite_query`` parses the caller's SQL with sqlglot and refuses, with a reason, anything
that is not a single SELECT-style query over the caller's own streams using allow-listed
functions. Every reference to a stream (resolved by scope, so CTEs and subqueries that
shadow a name are told apart from real tables) is replaced by a scan of exactly the files
the manifest lists for that stream, restricted to the caller's org and time range. The
engine then runs with external access off except for those files (defence in depth).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError

from molesignal.query.allowlist import ANONYMOUS, TABLE_FUNCTIONS, TYPED
from molesignal.query.errors import InvalidSql, PermissionDenied, TableNotFound
from molesignal.query.optimize import group_by_bucket_index

RESERVED_PREFIX = "__ms_"
MAX_SQL_LENGTH = 100_000

FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = (
    exp.DDL,
    exp.DML,
    exp.Command,
    exp.Into,
    exp.Pragma,
    exp.Set,
    exp.Attach,
    exp.Detach,
    exp.Copy,
    exp.Use,
    exp.Describe,
    exp.Show,
    exp.Summarize,  # its target may be a bare string, i.e. a file path that is never a table node
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.SessionParameter,
    exp.Parameter,
    exp.Placeholder,
)


@dataclass(frozen=True)
class RelationName:
    """A table reference as written: ``name`` or ``namespace.name`` (folded to lower case)."""

    namespace: str | None
    name: str


# Maps a reference to the key of the relation it means (a stream's name, ``table:…``,
# ``system:…``), or raises TableNotFound / PermissionDenied. The query service resolves
# against the org's namespaces and tables; by default only streams exist.
Resolver = Callable[[RelationName], str]


@dataclass(frozen=True)
class StreamScan:
    """What the engine should read for one relation reference (a stream, or a prebuilt one)."""

    stream: str
    uris: tuple[str, ...]  # the files the manifest lists for the time range
    columns: Mapping[str, str]  # the stream schema (name → MoleSignal type)
    # Those of ``uris`` whose every row lies in the time range (manifest min/max): read
    # without a row filter. The others straddle a boundary and keep it.
    inside: frozenset[str] = frozenset()
    # Stored columns the caller's query may not see (sealed content): left out of the scan.
    hidden: frozenset[str] = frozenset()
    # The whole relation, built by the planner (SQL tables, SYSTEM tables): rendered as is,
    # and only by the embedded engine.
    prebuilt: exp.Expr | None = None

    @property
    def visible_columns(self) -> dict[str, str]:
        return {name: kind for name, kind in self.columns.items() if name not in self.hidden}


@dataclass
class GuardedQuery:
    sql: str  # the engine SQL with every stream reference replaced
    normalized: str  # the caller's query, canonical (for the cache key)
    streams: tuple[str, ...]
    uris: tuple[str, ...]
    dialect: str = "duckdb"
    tree: exp.Expr | None = field(default=None, repr=False)


def require_text(value: str, what: str) -> None:
    """Refuse text the engine would read differently from the guard.

    Lone UTF-16 surrogates are not valid UTF-8, and DuckDB's parser stops at the first NUL,
    so it would run only a prefix of the statement the guard checked (use ``chr(0)``).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidSql(f"INVALID_SQL: {what} is not valid Unicode text") from exc
    if "\x00" in value:
        raise InvalidSql(f"INVALID_SQL: {what} contains a NUL character; write chr(0) instead")


def parse_single(sql: str, *, dialect: str = "duckdb") -> exp.Query:
    if not sql or not sql.strip():
        raise InvalidSql("INVALID_SQL: the query is empty")
    if len(sql) > MAX_SQL_LENGTH:
        raise InvalidSql(f"INVALID_SQL: the query is longer than {MAX_SQL_LENGTH} characters")
    require_text(sql, "the query")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise InvalidSql(f"INVALID_SQL: could not parse the query{where}: {first.get('description', exc)}") from exc
    except (SqlglotError, ValueError, RecursionError) as exc:
        # TokenError (an unterminated string, identifier or comment) is not a ParseError.
        raise InvalidSql(f"INVALID_SQL: could not parse the query: {str(exc)[:200]}") from exc
    if len(statements) != 1:
        raise InvalidSql(f"INVALID_SQL: send exactly one statement (got {len(statements)})")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = type(statement).__name__.upper()
        if isinstance(statement, FORBIDDEN_NODES):
            raise PermissionDenied(f"PERMISSION_DENIED: only read-only SELECT queries are allowed (got {kind})")
        raise InvalidSql(f"INVALID_SQL: not a query: {statement.sql(dialect='duckdb')[:80]!r}")
    return statement


def bind_params(tree: exp.Expr, params: Sequence[Any]) -> exp.Expr:
    """Replace ``$1``/``?`` placeholders with literals (values never become SQL text).

    ``$n`` is the n-th param wherever it appears, as often as it appears; each ``?`` takes the
    next param in order.
    """
    positional = iter(params)

    def literal(value: Any) -> exp.Expr:
        if value is None:
            return exp.Null()
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidSql(f"INVALID_SQL: parameter {value!r} is not a finite number")
        if isinstance(value, int | float):
            return exp.Literal.number(value)
        if isinstance(value, str):
            require_text(value, "a parameter")
            return exp.Literal.string(value)
        raise InvalidSql(f"INVALID_SQL: parameter of type {type(value).__name__} is not supported")

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder | exp.Parameter):
            name = str(node.name) if node.args.get("this") is not None else ""
            if isinstance(node, exp.Placeholder) and not name:  # ?
                try:
                    return literal(next(positional))
                except StopIteration as exc:
                    raise InvalidSql("INVALID_SQL: more placeholders than params") from exc
            if isinstance(node, exp.Placeholder) and not name.isdigit():
                raise InvalidSql(f"INVALID_SQL: ${name}: only numbered parameters ($1, $2 ...) are supported")
            if name.isdigit():  # $n (sqlglot reads it as a Placeholder, older versions as a Parameter)
                index = int(name) - 1
                if not 0 <= index < len(params):
                    raise InvalidSql(f"INVALID_SQL: ${name} has no matching param")
                return literal(params[index])
        return node

    return tree.transform(replace)


def check_nodes(tree: exp.Expr) -> None:
    """Refuse any node a tenant's SQL may not hold (writes, settings, files, reserved names, functions)."""
    for node in tree.walk():
        if isinstance(node, FORBIDDEN_NODES):
            kind = type(node).__name__.upper()
            raise PermissionDenied(f"PERMISSION_DENIED: {kind} is not allowed in a query")
        if isinstance(node, exp.Identifier) and node.name.lower().startswith(RESERVED_PREFIX):
            raise PermissionDenied(f"PERMISSION_DENIED: names starting with {RESERVED_PREFIX} are reserved")
        if isinstance(node, exp.Func):
            _check_function(node)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return str(node.sql_name()).lower()


def _check_function(node: exp.Func) -> None:
    kind = type(node).__name__
    if kind not in TYPED:
        raise PermissionDenied(f"PERMISSION_DENIED: function {_function_name(node)}() is not allowed")
    if isinstance(node, exp.Anonymous) and str(node.name).lower() not in ANONYMOUS:
        raise PermissionDenied(f"PERMISSION_DENIED: function {node.name}() is not allowed")


def referenced_streams(tree: exp.Expr, *, org_id: str, resolve: Resolver | None = None) -> list[tuple[exp.Table, str]]:
    """Every table node that names a relation (a stream by default), with the key it resolves to.

    Each table node is judged on its own, wherever it sits (FROM, JOIN, LATERAL, PIVOT,
    subqueries in any clause): it is an allowed table function, a reference to a CTE the
    engine will bind it to, or a stream. Nothing is left for the engine's catalog to resolve.
    """
    found: list[tuple[exp.Table, str]] = []
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            name = _function_name(table.this)
            if name in TABLE_FUNCTIONS:
                continue
            raise PermissionDenied(f"PERMISSION_DENIED: table function {name}() is not allowed")
        if _is_cte_reference(table):
            continue
        found.append((table, (resolve or stream_resolver(org_id))(relation_name(table))))
    return found


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: str) -> str:
    """DuckDB matches names case-insensitively for ASCII letters only (quoted or not)."""
    return name.translate(_ASCII_LOWER)


def _is_cte_reference(table: exp.Table) -> bool:
    """Whether DuckDB binds this table name to a CTE rather than to its catalog.

    A name the engine would look up in its catalog must never be let through, so this mirrors
    DuckDB's visibility rules and errs towards "not a CTE": a CTE is visible in the main body
    of the query that defines it and in the CTEs listed after it, not in its own body nor in
    earlier ones, except that under RECURSIVE it sees itself from the recursive term (the
    right side of a top-level UNION) only; its anchor term binds the name to the catalog.
    """
    if table.args.get("db") or table.args.get("catalog") or not isinstance(table.this, exp.Identifier):
        return False
    name = _fold(table.name)
    on_path: set[int] = set()
    node: exp.Expr = table
    while node.parent is not None:
        on_path.add(id(node))
        node = node.parent
        with_ = node.args.get("with_") or node.args.get("with")
        if not isinstance(with_, exp.With):
            continue
        ctes = list(with_.expressions)
        inside = next((i for i, cte in enumerate(ctes) if id(cte) in on_path), None)
        if inside is None:  # the main body: every CTE of this WITH is visible
            if any(_fold(cte.alias) == name for cte in ctes):
                return True
            continue
        if any(_fold(cte.alias) == name for cte in ctes[:inside]):
            return True
        own = ctes[inside]
        if with_.args.get("recursive") and _fold(own.alias) == name:
            body = own.this
            if isinstance(body, exp.Union) and id(body.expression) in on_path:
                return True
    return False


def relation_name(table: exp.Table) -> RelationName:
    """The name a table node gives (a three-part name names nothing: there are no catalogs)."""
    if not isinstance(table.this, exp.Identifier):
        raise InvalidSql("INVALID_SQL: unsupported table reference")
    if table.args.get("catalog") is not None:
        raise TableNotFound(f"TABLE_NOT_FOUND: {table.sql(dialect='duckdb')}")
    namespace = table.args.get("db")
    return RelationName(_fold(str(namespace.name)) if namespace is not None else None, _fold(str(table.name)))


STREAM_QUALIFIERS = ("default", "main")  # with the org's own id: the namespace of its streams


def stream_resolver(org_id: str) -> Resolver:
    """Streams only: an unqualified name, or one qualified by ``default``, ``main`` or the org id."""

    def resolve(name: RelationName) -> str:
        if name.namespace is not None and name.namespace not in (org_id, *STREAM_QUALIFIERS):
            # Another qualifier names nothing here: above all, never another org's data.
            raise TableNotFound(f"TABLE_NOT_FOUND: {name.namespace}.{name.name}")
        return name.name

    return resolve


@dataclass
class Analysis:
    """A parsed, checked query: what it reads and its canonical text (the cache key)."""

    tree: exp.Expr
    normalized: str
    references: list[tuple[exp.Table, str]]

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(sorted({stream for _, stream in self.references if stream}))


def analyze_query(
    sql: str,
    *,
    org_id: str,
    params: Sequence[Any] = (),
    dialect: str = "duckdb",
    resolve: Resolver | None = None,
) -> Analysis:
    """Parse, bind params and refuse anything that is not a safe read-only query."""
    tree: exp.Expr = parse_single(sql, dialect=dialect)
    if params or any(isinstance(n, exp.Placeholder | exp.Parameter) for n in tree.walk()):
        tree = bind_params(tree, params)
    return analyze_tree(tree, org_id=org_id, resolve=resolve)


def analyze_tree(tree: exp.Expr, *, org_id: str, resolve: Resolver | None = None) -> Analysis:
    """Check a query tree whose params are bound (one built from a DML statement's parts, too)."""
    check_nodes(tree)
    normalized = tree.sql(dialect="duckdb", normalize=True)
    return Analysis(
        tree=tree, normalized=normalized, references=referenced_streams(tree, org_id=org_id, resolve=resolve)
    )


# Renders the relation that replaces one stream reference for a given engine.
ScanRenderer = Callable[[StreamScan], exp.Expr]


def confine(
    analysis: Analysis, *, known_streams: set[str], scans: Mapping[str, StreamScan], render: ScanRenderer
) -> str:
    """Replace every stream reference by the engine's confined scan; return the engine SQL."""
    for stream in analysis.streams:
        if stream not in known_streams:
            raise TableNotFound(f"TABLE_NOT_FOUND: stream {stream!r} does not exist")
    rendered: dict[str, exp.Expr] = {}
    for table, stream in analysis.references:
        if not stream:
            continue
        if stream not in rendered:
            rendered[stream] = render(scans[stream])
        alias = table.alias or table.name
        table.replace(exp.Subquery(this=rendered[stream].copy()).as_(alias, quoted=True))
    return str(analysis.tree.sql(dialect="duckdb"))


def duckdb_sql(
    analysis: Analysis,
    *,
    org_id: str,
    known_streams: set[str],
    scans: Mapping[str, StreamScan],
    start_us: int | None,
    end_us: int | None,
) -> str:
    """The SQL DuckDB runs: the checked query, optimised, every stream replaced by its scan."""
    group_by_bucket_index(analysis, scans)  # before confine(): it needs the stream tables
    return confine(analysis, known_streams=known_streams, scans=scans, render=duckdb_renderer(org_id, start_us, end_us))


def rewrite_query(
    sql: str,
    *,
    org_id: str,
    known_streams: set[str],
    scan_for: Callable[[str], StreamScan],
    start_us: int | None,
    end_us: int | None,
    params: Sequence[Any] = (),
) -> GuardedQuery:
    """Analyse and confine in one step, rendering streams for DuckDB."""
    analysis = analyze_query(sql, org_id=org_id, params=params)
    for stream in analysis.streams:
        if stream not in known_streams:
            raise TableNotFound(f"TABLE_NOT_FOUND: stream {stream!r} does not exist")
    scans = {stream: scan_for(stream) for stream in analysis.streams}
    engine_sql = duckdb_sql(
        analysis, org_id=org_id, known_streams=known_streams, scans=scans, start_us=start_us, end_us=end_us
    )
    return GuardedQuery(
        sql=engine_sql,
        normalized=analysis.normalized,
        streams=analysis.streams,
        uris=tuple(u for s in scans.values() for u in s.uris),
        tree=analysis.tree,
    )


_DUCK_TYPES = {"bool": "BOOLEAN", "int64": "BIGINT", "float64": "DOUBLE", "string": "VARCHAR"}


def _time_conditions(start_us: int | None, end_us: int | None) -> list[exp.Expr]:
    conditions: list[exp.Expr] = []
    if start_us is not None:
        conditions.append(exp.GTE(this=exp.column("_timestamp"), expression=exp.Literal.number(int(start_us))))
    if end_us is not None:
        conditions.append(exp.LT(this=exp.column("_timestamp"), expression=exp.Literal.number(int(end_us))))
    return conditions


def time_predicate(start_us: int | None, end_us: int | None) -> exp.Expr | None:
    """``_timestamp`` in [start, end), or None for an unbounded range."""
    conditions = _time_conditions(start_us, end_us)
    return exp.and_(*conditions) if conditions else None


def tenant_predicate(org_id: str, start_us: int | None, end_us: int | None) -> exp.Expr:
    """The org and the time range, row by row (Athena: its table covers a prefix, not a file list)."""
    org = exp.EQ(this=exp.column("org_id"), expression=exp.Literal.string(org_id))
    return exp.and_(org, *_time_conditions(start_us, end_us))


def empty_relation(scan: StreamScan) -> exp.Expr:
    """No file in range: an empty relation that still has the stream's columns."""
    columns = ["CAST(NULL AS BIGINT) AS _timestamp", "CAST(NULL AS VARCHAR) AS org_id"] + [
        f"CAST(NULL AS {_DUCK_TYPES.get(kind, 'VARCHAR')}) AS {exp.to_identifier(name, quoted=True).sql()}"
        for name, kind in scan.visible_columns.items()
        if name not in ("_timestamp", "org_id")
    ]
    return sqlglot.parse_one(f"SELECT {', '.join(columns)} WHERE FALSE", read="duckdb")


def _read_parquet(uris: Sequence[str]) -> exp.Expr:
    return exp.Anonymous(
        this="read_parquet",
        expressions=[
            exp.Array(expressions=[exp.Literal.string(uri) for uri in uris]),
            exp.EQ(this=exp.var("union_by_name"), expression=exp.true()),
            exp.EQ(this=exp.var("hive_partitioning"), expression=exp.false()),
        ],
    )


def _projection(scan: StreamScan) -> exp.Expr:
    """``*``, or every column but the hidden ones.

    ``COLUMNS(lambda c: ...)`` rather than ``* EXCLUDE (...)``: EXCLUDE fails when none of
    the files read has the column, and a file's columns are not known before reading it.
    """
    if not scan.hidden:
        return exp.Star()
    name = exp.to_identifier("c")
    names = [exp.Literal.string(column) for column in sorted(scan.hidden)]
    keep = exp.Not(this=exp.In(this=exp.column(name.copy()), expressions=names))
    return exp.Columns(this=exp.Lambda(this=keep, expressions=[name]))


def duckdb_renderer(org_id: str, start_us: int | None, end_us: int | None) -> ScanRenderer:
    """The DuckDB relation for one stream: exactly the manifest's files, rows in the range.

    Built as a tree (no caller text is ever parsed into it). The org needs no row filter:
    the files are the org's own manifest entries, each checked to lie under the org's
    prefix (``service.check_own_files``), and the engine may open no other file
    (``DuckEngine``: ``allowed_paths``). The time filter applies only to files that
    straddle the range; reading it for files wholly inside cost DuckDB more than the query
    itself on cheap aggregations (docs/performance.md).
    """
    del org_id  # kept in the signature: the Athena renderer's twin filters by it
    where = time_predicate(start_us, end_us)

    def render(scan: StreamScan) -> exp.Expr:
        if scan.prebuilt is not None:
            return scan.prebuilt
        if not scan.uris:
            return empty_relation(scan)
        whole = [uri for uri in scan.uris if where is None or uri in scan.inside]
        edges = [uri for uri in scan.uris if where is not None and uri not in scan.inside]
        parts: list[exp.Select] = []
        if whole:
            parts.append(exp.select(_projection(scan)).from_(_read_parquet(whole)))
        if edges:
            parts.append(exp.select(_projection(scan)).from_(_read_parquet(edges)).where(where))
        if len(parts) == 1:
            return parts[0]
        # Files differ in columns and types (schema evolution): align the two by name.
        return exp.Union(this=parts[0], expression=parts[1], distinct=False, by_name=True)

    return render
