"""A subscription's SQL: which relation it watches, and the filter each change's rows go through.

A live query is ``SELECT <columns> FROM <one table or stream> [WHERE …]``: what KalamDB
accepts too. Its first answer (the initial batch) is the same statement run through the SQL
endpoint's path, which applies the tenant guard, roles and scopes. Each later change is
filtered by the same projection and WHERE, compiled once here into a statement over the
change's rows (``ROWS_VIEW``): a subscriber receives a changed row exactly when the SELECT,
run again, would show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from molesignal.lake.namespaces import DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, is_stream_namespace
from molesignal.live.protocol import Unsupported
from molesignal.query.errors import InvalidSql, PermissionDenied
from molesignal.query.guard import check_nodes, parse_single, relation_name

ROWS_VIEW = "__ms_live_rows"  # names starting __ms_ are refused in tenants' SQL: no clash

_SHAPE = "SELECT columns FROM one table or stream WHERE …"
_REFUSED = (exp.Join, exp.Group, exp.Having, exp.AggFunc, exp.Window, exp.Subquery, exp.Union, exp.Distinct)


@dataclass(frozen=True)
class LivePlan:
    relation: str  # "<namespace>.<table>", or "default.<stream>": a RowChange's relation
    filter_sql: str  # the projection and WHERE over ROWS_VIEW
    initial_sql: str  # what runs for the initial batch (the caller's SELECT, with last_rows' LIMIT)


def plan(
    org_id: str, sql: str, *, system_reader: bool = False, last_rows: int | None = None, max_initial_rows: int = 1000
) -> LivePlan:
    tree = parse_single(sql)
    check_nodes(tree)
    if not isinstance(tree, exp.Select):
        raise Unsupported("UNSUPPORTED: a live query is one SELECT … FROM <table> [WHERE …]")
    if tree.find(exp.With) is not None:
        raise Unsupported("UNSUPPORTED: a live query reads one table or stream directly (no WITH)")
    for node in tree.walk():
        if isinstance(node, _REFUSED):
            kind = type(node).__name__.upper()
            raise Unsupported(f"UNSUPPORTED: {kind} is not supported in a live query ({_SHAPE})")
    tables = list(tree.find_all(exp.Table))
    if len(tables) != 1:
        raise InvalidSql("INVALID_SQL: a live query reads exactly one table or stream (FROM <name>)")
    table = tables[0]
    name = relation_name(table)
    namespace = name.namespace or DEFAULT_NAMESPACE
    if namespace == SYSTEM_NAMESPACE:
        if not system_reader:
            raise PermissionDenied(
                f"PERMISSION_DENIED: SYSTEM tables are readable by dba and above (system.{name.name})"
            )
        raise Unsupported("UNSUPPORTED: SYSTEM tables cannot be subscribed to")
    if is_stream_namespace(org_id, namespace):
        namespace = DEFAULT_NAMESPACE
    relation = f"{namespace}.{name.name}"

    alias = table.alias_or_name
    rows = exp.Table(this=exp.to_identifier(ROWS_VIEW), alias=exp.TableAlias(this=exp.to_identifier(alias)))
    compiled = tree.copy()
    compiled.find(exp.Table).replace(rows)  # type: ignore[union-attr]
    for clause in ("order", "limit", "offset"):
        compiled.set(clause, None)

    limit = max_initial_rows if last_rows is None else min(last_rows, max_initial_rows)
    written = tree.args.get("limit")
    if written is not None:
        value = written.expression
        if not (isinstance(value, exp.Literal) and value.is_int):
            raise InvalidSql("INVALID_SQL: a live query's LIMIT is a whole number")
        limit = min(limit, int(value.name))
    initial = tree.copy().limit(limit)
    return LivePlan(relation, compiled.sql(dialect="duckdb"), initial.sql(dialect="duckdb"))
