"""SQL tables: their definitions (the catalog) and the state of their data in the lake.

A table is defined once per org (``ORG#<org>`` / ``TABLE#<namespace>#<name>``) and gets a
random ``table_id`` at creation, which names its storage: dropping a table and creating
another of the same name never mixes their files, cached answers or pending work.

Its rows live in *scopes*. A USER or STREAM table has one scope per user (rows belong to
the user who wrote them, and a user reads only their own scope); a SHARED table has one
scope for the org. Each scope is a set of Parquet files under
``lake/org=<org>/table=<table_id>/scope=<scope>/``, listed by a manifest partition
(``TFILES#<org>#<table_id>#<scope>``), and a state item (``TDATA#<org>#<table_id>`` /
``SCOPE#<scope>``) whose ``version`` every commit moves, conditionally on the version it
read: writers to one scope are serialised, and a reader keys cached answers on it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from molesignal.clock import now_us
from molesignal.errors import Conflict, Invalid, NotFound
from molesignal.lake.namespaces import NamespaceNotFound, check_name, namespace_key
from molesignal.storage.table import ConditionFailed, Item, Table

SHARED_SCOPE = "_shared"
INSERTED_AT = "_inserted_us"  # every table file's hidden column: when its row was written (µs)
MAX_COLUMNS = 200
MAX_TTL_SECONDS = 10 * 365 * 86_400


class TableNotFound(NotFound):
    code = "TABLE_NOT_FOUND"


class TableType(StrEnum):
    USER = "USER"
    SHARED = "SHARED"
    STREAM = "STREAM"

    @property
    def per_user(self) -> bool:
        return self is not TableType.SHARED


@dataclass(frozen=True)
class ColumnType:
    """A column's declared type: its SQL name, spec 004's name and the engine's."""

    name: str
    spec_name: str
    duck: str
    precision: int = 0
    scale: int = 0

    @property
    def base(self) -> str:
        return self.name.split("(", 1)[0]

    @property
    def is_file(self) -> bool:
        return self.base == "FILE"


_BASE_TYPES = {
    "BOOLEAN": ("Boolean", "BOOLEAN"),
    "SMALLINT": ("SmallInt", "SMALLINT"),
    "INT": ("Int", "INTEGER"),
    "BIGINT": ("BigInt", "BIGINT"),
    "FLOAT": ("Float", "FLOAT"),
    "DOUBLE": ("Double", "DOUBLE"),
    "TEXT": ("Text", "VARCHAR"),
    "JSON": ("Json", "VARCHAR"),
    "FILE": ("File", "VARCHAR"),
    "BYTES": ("Bytes", "BLOB"),
    "TIMESTAMP": ("Timestamp", "TIMESTAMP"),
    "DATE": ("Date", "DATE"),
}
# SQL spellings of each type (what CREATE TABLE and ALTER TABLE accept), upper case.
TYPE_ALIASES = {
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "SMALLINT": "SMALLINT",
    "INT2": "SMALLINT",
    "INT": "INT",
    "INTEGER": "INT",
    "INT4": "INT",
    "BIGINT": "BIGINT",
    "INT8": "BIGINT",
    "LONG": "BIGINT",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "FLOAT4": "FLOAT",
    "DOUBLE": "DOUBLE",
    "DOUBLE PRECISION": "DOUBLE",
    "FLOAT8": "DOUBLE",
    "FLOAT64": "DOUBLE",
    "TEXT": "TEXT",
    "VARCHAR": "TEXT",
    "STRING": "TEXT",
    "CHAR": "TEXT",
    "NVARCHAR": "TEXT",
    "JSON": "JSON",
    "JSONB": "JSON",
    "FILE": "FILE",
    "BYTES": "BYTES",
    "BLOB": "BYTES",
    "BYTEA": "BYTES",
    "BINARY": "BYTES",
    "VARBINARY": "BYTES",
    "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "TIMESTAMP",
    "DATE": "DATE",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def column_type(name: str, precision: int | None = None, scale: int | None = None) -> ColumnType:
    """The type a SQL spelling names (``VARCHAR`` → TEXT); DECIMAL takes precision and scale."""
    canonical = TYPE_ALIASES.get(" ".join(name.upper().split()))
    if canonical is None:
        known = ", ".join(sorted({*_BASE_TYPES, "DECIMAL(p,s)"}))
        raise Invalid(f"INVALID_SQL: unknown column type {name!r} (one of {known})", code="INVALID_SQL")
    if canonical == "DECIMAL":
        p, s = (18, 3) if precision is None else (precision, scale or 0)
        if not 1 <= p <= 38 or not 0 <= s <= p:
            raise Invalid("INVALID_SQL: DECIMAL(p, s) needs 1 <= p <= 38 and 0 <= s <= p", code="INVALID_SQL")
        return ColumnType(f"DECIMAL({p},{s})", "Decimal", f"DECIMAL({p},{s})", p, s)
    spec_name, duck = _BASE_TYPES[canonical]
    return ColumnType(canonical, spec_name, duck)


def parse_column_type(stored: str) -> ColumnType:
    found = _DECIMAL.match(stored)
    if found:
        return column_type("DECIMAL", int(found.group(1)), int(found.group(2)))
    return column_type(stored)


@dataclass(frozen=True)
class ColumnDef:
    name: str
    type: ColumnType
    not_null: bool = False

    def to_item(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.name, "not_null": self.not_null}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ColumnDef:
        return cls(str(item["name"]), parse_column_type(str(item["type"])), bool(item.get("not_null", False)))


@dataclass(frozen=True)
class TableDef:
    org_id: str
    namespace: str
    name: str
    table_type: TableType
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...] = ()
    ttl_seconds: int | None = None
    table_id: str = ""
    schema_version: int = 1
    created_at_us: int = 0
    created_by: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.namespace}.{self.name}"

    def column(self, name: str) -> ColumnDef | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def file_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type.is_file)

    def scope_for(self, user_id: str) -> str:
        return user_id if self.table_type.per_user else SHARED_SCOPE

    def to_item(self) -> Item:
        pk, sk = table_key(self.org_id, self.namespace, self.name)
        return {
            "pk": pk,
            "sk": sk,
            "kind": "sql_table",
            "org_id": self.org_id,
            "namespace": self.namespace,
            "name": self.name,
            "table_type": self.table_type.value,
            "columns": [c.to_item() for c in self.columns],
            "primary_key": list(self.primary_key),
            "ttl_seconds": self.ttl_seconds,
            "table_id": self.table_id,
            "schema_version": self.schema_version,
            "created_at_us": self.created_at_us,
            "created_by": self.created_by,
        }

    @classmethod
    def from_item(cls, item: Item) -> TableDef:
        ttl = item.get("ttl_seconds")
        return cls(
            org_id=str(item["org_id"]),
            namespace=str(item["namespace"]),
            name=str(item["name"]),
            table_type=TableType(str(item["table_type"])),
            columns=tuple(ColumnDef.from_item(c) for c in item.get("columns") or ()),
            primary_key=tuple(str(c) for c in item.get("primary_key") or ()),
            ttl_seconds=int(ttl) if ttl is not None else None,
            table_id=str(item["table_id"]),
            schema_version=int(item.get("schema_version", 1)),
            created_at_us=int(item.get("created_at_us", 0)),
            created_by=str(item.get("created_by", "")),
        )


@dataclass(frozen=True)
class ScopeState:
    """Where one scope's data stands: ``version`` 0 means nothing was ever written to it."""

    scope: str
    version: int = 0
    row_count: int = 0
    bytes: int = 0
    file_count: int = 0


@dataclass
class ScopeFiles:
    """A scope's state and the manifest entries it lists, read together for one statement."""

    table: TableDef
    state: ScopeState
    entries: list[Item] = field(default_factory=list)


def table_key(org_id: str, namespace: str, name: str) -> tuple[str, str]:
    return f"ORG#{org_id}", f"TABLE#{namespace}#{name}"


def scope_partition(org_id: str, table_id: str) -> str:
    return f"TDATA#{org_id}#{table_id}"


def scope_key(org_id: str, table_id: str, scope: str) -> tuple[str, str]:
    return scope_partition(org_id, table_id), f"SCOPE#{scope}"


def files_partition(org_id: str, table_id: str, scope: str) -> str:
    return f"TFILES#{org_id}#{table_id}#{scope}"


def new_table_id() -> str:
    return "t" + secrets.token_hex(8)


def new_file_id() -> str:
    """Time-ordered (µs in hex) so a scope's manifest lists files oldest first."""
    return f"{now_us():016x}{secrets.token_hex(4)}"


@dataclass
class Tables:
    table: Table

    def find(self, org_id: str, namespace: str, name: str) -> TableDef | None:
        item = self.table.get(*table_key(org_id, namespace, name))
        return TableDef.from_item(item) if item else None

    def get(self, org_id: str, namespace: str, name: str) -> TableDef:
        found = self.find(org_id, namespace, name)
        if found is None:
            raise TableNotFound(f"TABLE_NOT_FOUND: table {namespace}.{name} does not exist")
        return found

    def in_namespace(self, org_id: str, namespace: str) -> list[TableDef]:
        items = self.table.query_all(f"ORG#{org_id}", sk_prefix=f"TABLE#{namespace}#", consistent=True)
        return [TableDef.from_item(i) for i in items]

    def all(self, org_id: str) -> list[TableDef]:
        return [
            TableDef.from_item(i) for i in self.table.query_all(f"ORG#{org_id}", sk_prefix="TABLE#", consistent=True)
        ]

    def create(self, definition: TableDef, *, if_not_exists: bool = False) -> TableDef | None:
        """Store a new table in its (existing) namespace; None if it existed and ``if_not_exists``."""
        created = replace(definition, table_id=new_table_id(), created_at_us=now_us(), schema_version=1)
        ns_pk, ns_sk = namespace_key(definition.org_id, definition.namespace)
        try:
            self.table.transact(
                [
                    self.table.put_op(created.to_item(), condition="attribute_not_exists(pk)"),
                    self.table.update_op(
                        ns_pk, ns_sk, "ADD table_count :one", condition="attribute_exists(pk)", values={":one": 1}
                    ),
                ]
            )
        except ConditionFailed as exc:
            if self.find(definition.org_id, definition.namespace, definition.name) is not None:
                if if_not_exists:
                    return None
                raise Conflict(f"CONFLICT: table {definition.qualified} already exists", code="CONFLICT") from exc
            raise NamespaceNotFound(
                f"NAMESPACE_NOT_FOUND: namespace {definition.namespace!r} does not exist; CREATE NAMESPACE first"
            ) from exc
        return created

    def add_column(self, definition: TableDef, column: ColumnDef) -> TableDef:
        if definition.column(column.name) is not None:
            raise Conflict(
                f"CONFLICT: column {column.name!r} already exists in {definition.qualified}", code="CONFLICT"
            )
        if len(definition.columns) >= MAX_COLUMNS:
            raise Invalid(f"INVALID_SQL: a table has at most {MAX_COLUMNS} columns", code="INVALID_SQL")
        updated = replace(
            definition, columns=(*definition.columns, column), schema_version=definition.schema_version + 1
        )
        pk, sk = table_key(definition.org_id, definition.namespace, definition.name)
        try:
            self.table.update(
                pk,
                sk,
                "SET #columns = :columns, schema_version = :next",
                names={"#columns": "columns"},
                values={
                    ":columns": [c.to_item() for c in updated.columns],
                    ":next": updated.schema_version,
                    ":current": definition.schema_version,
                    ":id": definition.table_id,
                },
                condition="schema_version = :current AND table_id = :id",
            )
        except ConditionFailed as exc:
            raise Conflict(
                f"CONFLICT: table {definition.qualified} changed meanwhile; run the statement again", code="CONFLICT"
            ) from exc
        return updated

    def remove(self, definition: TableDef) -> None:
        """Take the table out of the catalog (its data is removed by the caller)."""
        pk, sk = table_key(definition.org_id, definition.namespace, definition.name)
        ns_pk, ns_sk = namespace_key(definition.org_id, definition.namespace)
        try:
            self.table.transact(
                [
                    self.table.delete_op(pk, sk, condition="table_id = :id", values={":id": definition.table_id}),
                    self.table.update_op(
                        ns_pk, ns_sk, "ADD table_count :minus", condition="attribute_exists(pk)", values={":minus": -1}
                    ),
                ]
            )
        except ConditionFailed as exc:
            raise TableNotFound(f"TABLE_NOT_FOUND: table {definition.qualified} does not exist") from exc

    # --- data state ----------------------------------------------------------------
    def state(self, definition: TableDef, scope: str) -> ScopeState:
        item = self.table.get(*scope_key(definition.org_id, definition.table_id, scope))
        return scope_state_from(item, scope)

    def scopes(self, definition: TableDef) -> list[ScopeState]:
        items = self.table.query_all(scope_partition(definition.org_id, definition.table_id), consistent=True)
        return [scope_state_from(i, str(i["sk"]).removeprefix("SCOPE#")) for i in items]

    def entries(self, definition: TableDef, scope: str) -> list[Item]:
        return self.table.query_all(
            files_partition(definition.org_id, definition.table_id, scope), sk_prefix="F#", consistent=True
        )

    def scope_files(self, definition: TableDef, scope: str) -> ScopeFiles:
        """State and manifest of a scope as of one moment: the entries are read after the state,
        and read again if a commit moved the version in between."""
        for _ in range(5):
            state = self.state(definition, scope)
            entries = self.entries(definition, scope) if state.version else []
            if not state.version or self.state(definition, scope).version == state.version:
                return ScopeFiles(definition, state, entries)
        raise Conflict(f"CONFLICT: {definition.qualified} kept changing while being read; try again", code="CONFLICT")


def scope_state_from(item: Item | None, scope: str) -> ScopeState:
    if not item:
        return ScopeState(scope)
    return ScopeState(
        scope=scope,
        version=int(item.get("version", 0)),
        row_count=int(item.get("row_count", 0)),
        bytes=int(item.get("bytes", 0)),
        file_count=int(item.get("file_count", 0)),
    )


def check_table_name(name: str) -> str:
    return check_name(name, "table")
