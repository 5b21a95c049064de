"""SYSTEM tables (spec 004): read-only views of an org's catalog, for ``dba`` and above.

Each is computed from the org's metadata when a query names it and handed to the engine as
literal rows, so it shows exactly the caller's org, is never cached, and cannot be written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlglot import exp

from molesignal.auth.principal import Role
from molesignal.lake.namespaces import DEFAULT_NAMESPACE, Namespaces
from molesignal.lake.streams import Streams
from molesignal.lake.tables import Tables
from molesignal.storage import keys
from molesignal.storage.table import Table

READ_ROLE = Role.DBA  # dba and every role that covers it


@dataclass(frozen=True)
class SystemTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)
    rows: Callable[[Table, str], list[tuple[Any, ...]]]


def _timestamp(epoch_us: int | None) -> str | None:
    if not epoch_us:
        return None
    return datetime.fromtimestamp(int(epoch_us) / 1_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _users(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    # Straight from the table: the tenancy module brings password hashing, which query
    # functions (and the export worker) do not ship.
    users = table.query_all(f"ORG#{org_id}", sk_prefix=keys.user_prefix())
    return [
        (
            u["user_id"],
            u["username"],
            u.get("email", ""),
            u["role"],
            bool(u.get("disabled", False)),
            _timestamp(u.get("created_at_us")),
        )
        for u in sorted(users, key=lambda u: str(u["username"]))
    ]


def _namespaces(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    return [
        (n.name, n.table_count, n.built_in, _timestamp(n.created_at_us), n.created_by or None)
        for n in Namespaces(table).all(org_id)
    ]


def _tables(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [
        (DEFAULT_NAMESPACE, s.name, "INGEST", "", None, s.row_count, _timestamp(s.created_at_us), None)
        for s in Streams(table).all(org_id)
    ]
    rows += [
        (
            t.namespace,
            t.name,
            t.table_type.value,
            ",".join(t.primary_key),
            t.ttl_seconds,
            None,
            _timestamp(t.created_at_us),
            t.created_by,
        )
        for t in Tables(table).all(org_id)
    ]
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _columns(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for stream in Streams(table).all(org_id):
        for index, (name, kind) in enumerate(sorted(stream.schema.items()), start=1):
            rows.append((DEFAULT_NAMESPACE, stream.name, name, index, kind, True, False))
    for definition in Tables(table).all(org_id):
        for index, column in enumerate(definition.columns, start=1):
            rows.append(
                (
                    definition.namespace,
                    definition.name,
                    column.name,
                    index,
                    column.type.name,
                    not column.not_null,
                    column.name in definition.primary_key,
                )
            )
    return sorted(rows, key=lambda r: (r[0], r[1], r[3]))


def _streams(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    return [
        (
            s.name,
            s.row_count,
            s.bytes,
            s.file_count,
            s.first_ts_us,
            s.last_ts_us,
            s.retention_days,
            _timestamp(s.created_at_us),
        )
        for s in sorted(Streams(table).all(org_id), key=lambda s: s.name)
    ]


def _topics(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    from molesignal.topics.catalog import Topics, describe_sources

    return [
        (t.name, t.partitions, t.retention_s, describe_sources(t.sources), _timestamp(t.created_at_us), t.created_by)
        for t in Topics(table).all(org_id)
    ]


def _topic_offsets(table: Table, org_id: str) -> list[tuple[Any, ...]]:
    """Each consumer group's committed offset per partition, beside the partition's last offset:
    ``lag`` is how many messages the group has not acknowledged."""
    from molesignal.topics.catalog import Topics
    from molesignal.topics.groups import Groups
    from molesignal.topics.log import TopicLog

    log, groups = TopicLog(table), Groups(table)
    rows: list[tuple[Any, ...]] = []
    for topic in Topics(table).all(org_id):
        heads: dict[int, int] = {}
        for offset in sorted(groups.all(topic), key=lambda g: (g.group_id, g.partition_id)):
            if offset.partition_id not in heads:
                heads[offset.partition_id] = log.head(topic, offset.partition_id)
            head = heads[offset.partition_id]
            rows.append(
                (
                    topic.name,
                    offset.group_id,
                    offset.partition_id,
                    offset.last_acked_offset,
                    head - 1,
                    max(0, head - offset.last_acked_offset - 1),
                    _timestamp(offset.updated_at_us),
                )
            )
    return rows


SYSTEM_TABLES = {
    t.name: t
    for t in (
        SystemTable(
            "users",
            (
                ("user_id", "VARCHAR"),
                ("username", "VARCHAR"),
                ("email", "VARCHAR"),
                ("role", "VARCHAR"),
                ("disabled", "BOOLEAN"),
                ("created_at", "TIMESTAMP"),
            ),
            _users,
        ),
        SystemTable(
            "namespaces",
            (
                ("namespace_id", "VARCHAR"),
                ("table_count", "BIGINT"),
                ("built_in", "BOOLEAN"),
                ("created_at", "TIMESTAMP"),
                ("created_by", "VARCHAR"),
            ),
            _namespaces,
        ),
        SystemTable(
            "tables",
            (
                ("namespace_id", "VARCHAR"),
                ("table_name", "VARCHAR"),
                ("table_type", "VARCHAR"),
                ("primary_key", "VARCHAR"),
                ("ttl_seconds", "BIGINT"),
                ("row_count", "BIGINT"),
                ("created_at", "TIMESTAMP"),
                ("created_by", "VARCHAR"),
            ),
            _tables,
        ),
        SystemTable(
            "columns",
            (
                ("namespace_id", "VARCHAR"),
                ("table_name", "VARCHAR"),
                ("column_name", "VARCHAR"),
                ("ordinal", "BIGINT"),
                ("data_type", "VARCHAR"),
                ("is_nullable", "BOOLEAN"),
                ("is_primary_key", "BOOLEAN"),
            ),
            _columns,
        ),
        SystemTable(
            "streams",
            (
                ("stream_name", "VARCHAR"),
                ("row_count", "BIGINT"),
                ("bytes", "BIGINT"),
                ("file_count", "BIGINT"),
                ("first_timestamp", "BIGINT"),
                ("last_timestamp", "BIGINT"),
                ("retention_days", "BIGINT"),
                ("created_at", "TIMESTAMP"),
            ),
            _streams,
        ),
        SystemTable(
            "topics",
            (
                ("topic_id", "VARCHAR"),
                ("partitions", "BIGINT"),
                ("retention_seconds", "BIGINT"),
                ("sources", "VARCHAR"),
                ("created_at", "TIMESTAMP"),
                ("created_by", "VARCHAR"),
            ),
            _topics,
        ),
        SystemTable(
            "topic_offsets",
            (
                ("topic_id", "VARCHAR"),
                ("group_id", "VARCHAR"),
                ("partition_id", "BIGINT"),
                ("last_acked_offset", "BIGINT"),
                ("latest_offset", "BIGINT"),
                ("lag", "BIGINT"),
                ("updated_at", "TIMESTAMP"),
            ),
            _topic_offsets,
        ),
    )
}


def _literal(value: Any) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def literal_relation(columns: tuple[tuple[str, str], ...], rows: list[tuple[Any, ...]]) -> exp.Expr:
    """``SELECT CAST(c AS type) AS name, … FROM (VALUES …)``: literal rows, typed (empty: no row)."""
    names = [f"c{index}" for index in range(len(columns))]
    items = [
        exp.Cast(this=exp.column(names[i]), to=exp.DataType.build(kind, dialect="duckdb")).as_(
            exp.to_identifier(name, quoted=True)
        )
        for i, (name, kind) in enumerate(columns)
    ]
    if not rows:
        empty = [
            exp.Cast(this=exp.Null(), to=exp.DataType.build(kind, dialect="duckdb")).as_(
                exp.to_identifier(name, quoted=True)
            )
            for name, kind in columns
        ]
        return exp.select(*empty).where(exp.false())
    values = exp.Values(
        expressions=[exp.Tuple(expressions=[_literal(v) for v in row]) for row in rows],
        alias=exp.TableAlias(this=exp.to_identifier("v"), columns=[exp.to_identifier(n) for n in names]),
    )
    return exp.select(*items).from_(values)


def system_relation(table: Table, org_id: str, name: str) -> exp.Expr:
    system = SYSTEM_TABLES[name]
    return literal_relation(system.columns, system.rows(table, org_id))
