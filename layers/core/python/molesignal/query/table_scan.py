"""The relation that stands for one SQL table scope in the engine's SQL.

Built as a tree (no caller text is parsed into it), like a stream's scan: exactly the files
the scope's manifest lists, every declared column at its declared type, in declared order.
Files written before an ``ALTER TABLE … ADD COLUMN`` lack the new column: each group of
files sharing a column set is read on its own and the missing columns are NULLs of the
declared type, so no file's layout ever changes what a query sees. A STREAM table keeps
only rows younger than its TTL, exactly, whatever the retention job has removed so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from molesignal.lake.tables import INSERTED_AT, TableDef

# Where a row is stored: its file and its position in it. DML finds the rows it changes with
# them, in the same pass that evaluates its WHERE clause. Tenant SQL cannot name them.
FILE_COLUMN = "__ms_file"
ROW_COLUMN = "__ms_row"
ENGINE_ROW_NUMBER = "file_row_number"  # what DuckDB calls a row's position in its file


def _cast(value: exp.Expr, duck_type: str) -> exp.Expr:
    return exp.Cast(this=value, to=exp.DataType.build(duck_type, dialect="duckdb"))


def _quoted(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def read_parquet(uris: Sequence[str], *, with_file: bool, union_by_name: bool = False) -> exp.Expr:
    arguments: list[exp.Expr] = [exp.Array(expressions=[exp.Literal.string(uri) for uri in uris])]
    if union_by_name:
        arguments.append(exp.EQ(this=exp.var("union_by_name"), expression=exp.true()))
        arguments.append(exp.EQ(this=exp.var("hive_partitioning"), expression=exp.false()))
    if with_file:
        arguments.append(exp.EQ(this=exp.var("filename"), expression=exp.Literal.string(FILE_COLUMN)))
        arguments.append(exp.EQ(this=exp.var(ENGINE_ROW_NUMBER), expression=exp.true()))
    return exp.Anonymous(this="read_parquet", expressions=arguments)


def table_relation(
    definition: TableDef,
    entries: Sequence[dict[str, Any]],
    uri_of: Callable[[str], str],
    *,
    ttl_cutoff_us: int | None = None,
    with_file: bool = False,
    with_inserted: bool = False,
) -> exp.Expr:
    """``SELECT <declared columns> FROM <the scope's files>`` (plus ``__ms_file`` and ``__ms_row``,
    or ``_inserted_us``, for the statements that need them)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for entry in entries:
        groups.setdefault(tuple(entry.get("columns") or ()), []).append(uri_of(str(entry["key"])))
    extra: list[tuple[str, str]] = []
    if with_inserted or ttl_cutoff_us is not None:
        extra.append((INSERTED_AT, "BIGINT"))
    if with_file:
        extra += [(FILE_COLUMN, "VARCHAR"), (ROW_COLUMN, "BIGINT")]
    if not groups:
        items = [_cast(exp.Null(), c.type.duck).as_(_quoted(c.name)) for c in definition.columns]
        items += [_cast(exp.Null(), kind).as_(_quoted(name)) for name, kind in extra]
        return exp.select(*items).where(exp.false())
    parts: list[exp.Select] = []
    for present, uris in groups.items():
        have = set(present)
        items = [
            _cast(exp.column(_quoted(c.name)) if c.name in have else exp.Null(), c.type.duck).as_(_quoted(c.name))
            for c in definition.columns
        ]
        sources = {ROW_COLUMN: ENGINE_ROW_NUMBER}
        items += [exp.column(_quoted(sources.get(name, name))).as_(_quoted(name)) for name, _ in extra]
        part = exp.select(*items).from_(read_parquet(uris, with_file=with_file))
        if ttl_cutoff_us is not None:
            part = part.where(
                exp.GTE(this=exp.column(_quoted(INSERTED_AT)), expression=exp.Literal.number(ttl_cutoff_us))
            )
        parts.append(part)
    relation: exp.Expr = parts[0]
    for part in parts[1:]:
        relation = exp.Union(this=relation, expression=part, distinct=False)
    return relation


def stream_rows(uris: Sequence[str]) -> exp.Expr:
    """A stream's files for DML: every stored column, and where each row is stored."""
    items = [exp.Star(), exp.column(ENGINE_ROW_NUMBER).as_(_quoted(ROW_COLUMN))]
    return exp.select(*items).from_(read_parquet(uris, with_file=True, union_by_name=True))
