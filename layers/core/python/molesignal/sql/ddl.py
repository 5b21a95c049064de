"""Namespaces and tables: the statements that change or show the catalog.

Changing it (CREATE, ALTER, DROP) takes ``dba`` or a role that covers it (system, admin,
root); showing it (SHOW, DESCRIBE) takes what a query takes. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from molesignal import audit
from molesignal.auth.principal import Principal, Role
from molesignal.lake.namespaces import (
    DEFAULT_NAMESPACE,
    SYSTEM_NAMESPACE,
    Namespaces,
    is_stream_namespace,
)
from molesignal.lake.streams import SEALED_COLUMNS, Streams
from molesignal.lake.table_store import TableStore
from molesignal.lake.tables import TableDef, TableNotFound, Tables
from molesignal.query.errors import PermissionDenied
from molesignal.query.system_tables import SYSTEM_TABLES
from molesignal.sql import commands as c
from molesignal.sql.results import StatementResult, done, listing
from molesignal.storage.table import Table
from molesignal.wording import a_or_an

DDL_ROLE = Role.DBA


@dataclass
class Ddl:
    table: Table
    principal: Principal
    source_ip: str = ""

    def _require_dba(self, what: str) -> None:
        if not self.principal.holds(DDL_ROLE):
            raise PermissionDenied(
                f"PERMISSION_DENIED: {what} needs role dba ({a_or_an(self.principal.role.value)} cannot)"
            )

    def _audit(self, action: str, target: str, details: dict[str, object] | None = None) -> None:
        audit.record_by(self.table, self.principal, action, target=target, source_ip=self.source_ip, details=details)

    @property
    def _org(self) -> str:
        return self.principal.org_id

    # --- namespaces ---------------------------------------------------------------
    def create_namespace(self, command: c.CreateNamespace) -> StatementResult:
        self._require_dba("CREATE NAMESPACE")
        created = Namespaces(self.table).create(
            self._org, command.name, created_by=self.principal.actor, if_not_exists=command.if_not_exists
        )
        if created:
            self._audit("sql.namespace.create", command.name)
        return done(f"namespace {command.name} {'created' if created else 'already exists'}", self.principal.actor)

    def drop_namespace(self, command: c.DropNamespace) -> StatementResult:
        self._require_dba("DROP NAMESPACE")
        namespaces = Namespaces(self.table)
        dropped_tables = 0
        if command.cascade and not is_stream_namespace(self._org, command.name):
            for definition in Tables(self.table).in_namespace(self._org, command.name):
                self._drop(definition)
                dropped_tables += 1
        dropped = namespaces.drop_empty(self._org, command.name, if_exists=command.if_exists)
        if dropped:
            self._audit("sql.namespace.drop", command.name, {"tables": dropped_tables})
        return done(f"namespace {command.name} {'dropped' if dropped else 'does not exist'}", self.principal.actor)

    def show_namespaces(self) -> StatementResult:
        rows = [[n.name, n.table_count, n.built_in] for n in Namespaces(self.table).all(self._org)]
        columns = (("namespace_id", "VARCHAR"), ("table_count", "BIGINT"), ("built_in", "BOOLEAN"))
        return listing(columns, rows, self.principal.actor)

    def use(self, command: c.UseNamespace) -> StatementResult:
        name = DEFAULT_NAMESPACE if is_stream_namespace(self._org, command.name) else command.name
        Namespaces(self.table).get(self._org, name)
        result = listing((("namespace_id", "VARCHAR"),), [[name]], self.principal.actor)
        result.message = f"namespace {name} in use"
        return result

    # --- tables ---------------------------------------------------------------------
    def _namespace_of(self, ref: c.TableRef, current: str | None) -> str:
        name = ref.namespace or current or DEFAULT_NAMESPACE
        return DEFAULT_NAMESPACE if is_stream_namespace(self._org, name) else name

    def create_table(self, command: c.CreateTable, current: str | None) -> StatementResult:
        self._require_dba("CREATE TABLE")
        namespace = self._namespace_of(command.table, current)
        if namespace in (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE):
            holds = "ingest streams" if namespace == DEFAULT_NAMESPACE else "SYSTEM tables"
            raise PermissionDenied(
                f"PERMISSION_DENIED: namespace {namespace!r} is built in (it holds {holds}); "
                "create tables in a namespace of your own (CREATE NAMESPACE)"
            )
        Namespaces(self.table).get(self._org, namespace)
        definition = TableDef(
            org_id=self._org,
            namespace=namespace,
            name=command.table.name,
            table_type=command.table_type,
            columns=command.columns,
            primary_key=command.primary_key,
            ttl_seconds=command.ttl_seconds,
            created_by=self.principal.actor,
        )
        created = Tables(self.table).create(definition, if_not_exists=command.if_not_exists)
        if created is None:
            return done(f"table {definition.qualified} already exists", self.principal.actor)
        self._audit(
            "sql.table.create",
            definition.qualified,
            {"type": definition.table_type.value, "table_id": created.table_id},
        )
        return done(f"{definition.table_type.value} table {definition.qualified} created", self.principal.actor)

    def _find(self, ref: c.TableRef, current: str | None) -> TableDef:
        namespace = self._namespace_of(ref, current)
        if namespace == SYSTEM_NAMESPACE:
            raise PermissionDenied(f"PERMISSION_DENIED: system.{ref.name} is a read-only SYSTEM table")
        if namespace == DEFAULT_NAMESPACE:
            raise PermissionDenied(
                f"PERMISSION_DENIED: {ref.name} names an ingest stream; streams change through the streams API "
                "(and DELETE for erasure), not table DDL"
            )
        return Tables(self.table).get(self._org, namespace, ref.name)

    def add_column(self, command: c.AddColumn, current: str | None) -> StatementResult:
        self._require_dba("ALTER TABLE")
        definition = self._find(command.table, current)
        Tables(self.table).add_column(definition, command.column)
        self._audit("sql.table.alter", definition.qualified, {"added": command.column.name})
        return done(f"column {command.column.name} added to {definition.qualified}", self.principal.actor)

    def drop_table(self, command: c.DropTable, current: str | None) -> StatementResult:
        self._require_dba("DROP TABLE")
        try:
            definition = self._find(command.table, current)
        except TableNotFound:
            if command.if_exists:
                return done(f"table {command.table} does not exist", self.principal.actor)
            raise
        files = self._drop(definition)
        self._audit("sql.table.drop", definition.qualified, {"files": files, "table_id": definition.table_id})
        return done(f"table {definition.qualified} dropped", self.principal.actor)

    def _drop(self, definition: TableDef) -> int:
        Tables(self.table).remove(definition)
        return TableStore(self.table).drop_data(definition)

    def show_tables(self, command: c.ShowTables, current: str | None) -> StatementResult:
        namespace = command.namespace or current or DEFAULT_NAMESPACE
        if is_stream_namespace(self._org, namespace):
            namespace = DEFAULT_NAMESPACE
        Namespaces(self.table).get(self._org, namespace)
        rows: list[list[object]]
        if namespace == DEFAULT_NAMESPACE:
            rows = [
                [namespace, s.name, "INGEST"] for s in sorted(Streams(self.table).all(self._org), key=lambda s: s.name)
            ]
        elif namespace == SYSTEM_NAMESPACE:
            rows = [[namespace, name, "SYSTEM"] for name in sorted(SYSTEM_TABLES)]
        else:
            definitions = sorted(Tables(self.table).in_namespace(self._org, namespace), key=lambda t: t.name)
            rows = [[namespace, t.name, t.table_type.value] for t in definitions]
        columns = (("namespace_id", "VARCHAR"), ("table_name", "VARCHAR"), ("table_type", "VARCHAR"))
        return listing(columns, rows, self.principal.actor)

    def describe(self, command: c.Describe, current: str | None) -> StatementResult:
        namespace = self._namespace_of(command.table, current)
        columns = (
            ("column_name", "VARCHAR"),
            ("data_type", "VARCHAR"),
            ("is_nullable", "BOOLEAN"),
            ("is_primary_key", "BOOLEAN"),
        )
        rows: list[list[object]]
        if namespace == SYSTEM_NAMESPACE:
            system = SYSTEM_TABLES.get(command.table.name)
            if system is None or not self.principal.holds(DDL_ROLE):
                raise TableNotFound(f"TABLE_NOT_FOUND: {command.table}")
            rows = [[name, kind, True, False] for name, kind in system.columns]
        elif namespace == DEFAULT_NAMESPACE:
            stream = Streams(self.table).find(self._org, command.table.name)
            if stream is None:
                raise TableNotFound(f"TABLE_NOT_FOUND: stream {command.table.name!r} does not exist")
            hidden = SEALED_COLUMNS.get(stream.name, frozenset())
            schema = {"_timestamp": "int64", **stream.schema}
            rows = [[name, kind, True, False] for name, kind in sorted(schema.items()) if name not in hidden]
        else:
            definition = Tables(self.table).get(self._org, namespace, command.table.name)
            rows = [
                [col.name, col.type.name, not col.not_null, col.name in definition.primary_key]
                for col in definition.columns
            ]
        return listing(columns, rows, self.principal.actor)
