"""Realtime rule predicates: checked by the query guard once, evaluated on every landed batch.

A predicate is the ``where`` of a realtime rule (``level = 'error' AND service = 'api'``). It
goes through the same guard as a tenant query: it is parsed as ``SELECT * FROM <stream> WHERE
<predicate>`` by ``query.guard.analyze_query`` (one statement, allow-listed functions only,
no reserved names), and the result must be exactly that: one condition over the stream's
columns, with no subquery, table, aggregate or window. The condition is then rendered from
the checked tree — never from the caller's text — and that rendering is what runs.

Evaluation runs every rule of a stream over the landed Arrow batch in DuckDB: one query
counts the matches of all ungrouped rules at once (``count(*) FILTER (WHERE ...)`` per rule),
and one query per grouped rule counts matches per group. The connection is in-memory, may
open no file (external access off, configuration locked) and sees only the batch. A column
a predicate names that the batch lacks is NULL. A predicate the engine refuses for this batch
(a type mismatch, say) fails alone: the others are evaluated one by one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from molesignal.query.errors import InvalidSql, PermissionDenied
from molesignal.query.guard import RESERVED_PREFIX, analyze_query

MAX_PREDICATE_CHARS = 10_000
BATCH_VIEW = "__ms_batch"
ROW_COLUMN = "__ms_row"
MAX_SAMPLE_FIELDS = 64
MAX_SAMPLE_TEXT = 1000
# Select clauses a predicate may produce: the star, the stream, the condition.
_ALLOWED_ARGS = frozenset({"expressions", "from", "from_", "where"})


@dataclass(frozen=True)
class CompiledPredicate:
    sql: str  # the condition, as DuckDB SQL rendered from the checked tree
    columns: frozenset[str]  # the (lower-case) column names it reads


def compile_predicate(where: str, *, org_id: str, stream: str) -> CompiledPredicate:
    """Check a realtime predicate with the query guard; refuse anything but one condition."""
    if not where or not where.strip():
        raise InvalidSql("INVALID_SQL: the predicate is empty")
    if len(where) > MAX_PREDICATE_CHARS:
        raise InvalidSql(f"INVALID_SQL: the predicate is longer than {MAX_PREDICATE_CHARS} characters")
    quoted = exp.to_identifier(stream, quoted=True).sql(dialect="duckdb")
    # Parsed and checked by the guard, never run as text: only the checked tree is rendered.
    analysis = analyze_query(f"SELECT * FROM {quoted} WHERE {where}", org_id=org_id)  # noqa: S608
    tree = analysis.tree
    if not isinstance(tree, exp.Select):
        raise PermissionDenied("PERMISSION_DENIED: a realtime predicate is one condition, not a query")
    extra = sorted(name for name, value in tree.args.items() if value and name not in _ALLOWED_ARGS)
    if extra:
        raise PermissionDenied(f"PERMISSION_DENIED: a realtime predicate is one condition (found {extra[0].upper()})")
    if len(analysis.references) != 1:
        raise PermissionDenied("PERMISSION_DENIED: a realtime predicate reads only its own stream's rows")
    condition = tree.args.get("where")
    if not isinstance(condition, exp.Where):
        raise InvalidSql("INVALID_SQL: the predicate is not a condition")
    for node in condition.walk():
        if isinstance(node, exp.Subquery | exp.Query | exp.Table):
            raise PermissionDenied("PERMISSION_DENIED: a realtime predicate may not contain a subquery")
        if isinstance(node, exp.AggFunc | exp.Window):
            raise PermissionDenied("PERMISSION_DENIED: a realtime predicate is per row: no aggregate or window")
    body = condition.this.copy()
    for node in body.walk():
        node.comments = None  # what runs is the condition alone
    columns = set()
    for column in body.find_all(exp.Column):
        column.set("table", None)  # the stream's own name or alias: the batch is the only relation
        column.set("db", None)
        column.set("catalog", None)
        columns.add(str(column.name).lower())
    return CompiledPredicate(sql=body.sql(dialect="duckdb"), columns=frozenset(columns))


@dataclass(frozen=True)
class PredicateCheck:
    key: str  # the caller's id for this check (a rule id)
    predicate: CompiledPredicate
    group_by: tuple[str, ...] = ()


@dataclass
class GroupCount:
    labels: dict[str, str]
    matched: int
    sample: dict[str, Any] | None = None


@dataclass
class CheckOutcome:
    matched: int = 0
    # Every group seen in the batch (grouped checks), matched or not; ungrouped: one, labels {}.
    groups: list[GroupCount] = field(default_factory=list)
    error: str = ""


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = duckdb.connect(
            config={
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "false",
                "python_enable_replacements": "false",
                "threads": "1",
                "memory_limit": "256MB",
            }
        )
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        _local.connection = connection
    return connection


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _sample(batch: pa.Table, row: int | None) -> dict[str, Any] | None:
    if row is None:
        return None
    values = batch.slice(int(row), 1).to_pylist()[0]
    sample: dict[str, Any] = {}
    for name, raw in values.items():
        if name.startswith(RESERVED_PREFIX) or len(sample) >= MAX_SAMPLE_FIELDS:
            continue
        value = raw[:MAX_SAMPLE_TEXT] + "…" if isinstance(raw, str) and len(raw) > MAX_SAMPLE_TEXT else raw
        sample[name] = value if value is None or isinstance(value, str | int | float | bool) else str(value)
    return sample


def _label(value: Any) -> str:
    return "" if value is None else str(value)


class BatchEvaluator:
    """Evaluates predicate checks over one batch (see the module docstring)."""

    def __init__(self, batch: pa.Table) -> None:
        self.batch = batch.append_column(ROW_COLUMN, pa.array(range(batch.num_rows), pa.int64()))
        self.present = {name.lower() for name in batch.column_names}

    def run(self, checks: Sequence[PredicateCheck]) -> dict[str, CheckOutcome]:
        if not checks:
            return {}
        connection = _connection()
        missing = sorted({c for check in checks for c in check.predicate.columns} - self.present)
        padding = "".join(f", NULL AS {_ident(name)}" for name in missing)
        source = f"(SELECT *{padding} FROM {BATCH_VIEW}) AS b"  # noqa: S608 - quoted identifiers only
        connection.register(BATCH_VIEW, self.batch)
        try:
            outcomes = self._ungrouped(connection, source, [c for c in checks if not c.group_by])
            for check in (c for c in checks if c.group_by):
                outcomes[check.key] = self._grouped(connection, source, check)
        finally:
            connection.unregister(BATCH_VIEW)
        return outcomes

    def _ungrouped(
        self, connection: duckdb.DuckDBPyConnection, source: str, checks: list[PredicateCheck]
    ) -> dict[str, CheckOutcome]:
        if not checks:
            return {}
        try:
            counts = self._counts(connection, source, checks)
        except duckdb.Error:
            outcomes = {}
            for check in checks:  # one at a time: a predicate this batch cannot bind fails alone
                try:
                    outcomes.update(self._counts(connection, source, [check]))
                except duckdb.Error as exc:
                    outcomes[check.key] = CheckOutcome(error=_short(exc))
            return outcomes
        return counts

    def _counts(
        self, connection: duckdb.DuckDBPyConnection, source: str, checks: list[PredicateCheck]
    ) -> dict[str, CheckOutcome]:
        columns = ", ".join(
            f"count(*) FILTER (WHERE {c.predicate.sql}), min({ROW_COLUMN}) FILTER (WHERE {c.predicate.sql})"
            for c in checks
        )
        row = connection.execute(f"SELECT {columns} FROM {source}").fetchone() or ()  # noqa: S608 - rendered from checked trees
        outcomes = {}
        for index, check in enumerate(checks):
            matched, first = int(row[2 * index] or 0), row[2 * index + 1]
            sample = _sample(self.batch, first) if matched else None
            outcomes[check.key] = CheckOutcome(matched=matched, groups=[GroupCount({}, matched, sample)])
        return outcomes

    def _grouped(self, connection: duckdb.DuckDBPyConnection, source: str, check: PredicateCheck) -> CheckOutcome:
        keys = ", ".join(_ident(name) for name in check.group_by)
        condition = check.predicate.sql
        sql = (
            f"SELECT {keys}, count(*) FILTER (WHERE {condition}), min({ROW_COLUMN}) FILTER (WHERE {condition}) "  # noqa: S608
            f"FROM {source} GROUP BY {keys}"
        )
        try:
            rows = connection.execute(sql).fetchall()
        except duckdb.Error as exc:
            return CheckOutcome(error=_short(exc))
        width = len(check.group_by)
        groups = []
        for row in rows:
            labels = {name: _label(value) for name, value in zip(check.group_by, row[:width], strict=True)}
            matched = int(row[width] or 0)
            groups.append(GroupCount(labels, matched, _sample(self.batch, row[width + 1]) if matched else None))
        return CheckOutcome(matched=sum(g.matched for g in groups), groups=groups)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:500]


def check_against_schema(predicate: CompiledPredicate, group_by: Sequence[str], schema: dict[str, str]) -> None:
    """Bind the predicate against a stream's current columns (an empty batch), so a type error
    is reported when the rule is saved rather than on every batch."""
    from molesignal.lake.schema import arrow_type

    columns = {name: arrow_type(kind) for name, kind in schema.items()}
    empty = pa.table({name: pa.array([], type=kind) for name, kind in columns.items()})
    outcome = BatchEvaluator(empty).run([PredicateCheck("check", predicate, tuple(group_by))])["check"]
    if outcome.error:
        raise InvalidSql(f"INVALID_SQL: the predicate does not fit the stream's columns: {outcome.error}")
