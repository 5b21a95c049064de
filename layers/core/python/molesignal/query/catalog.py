"""Name resolution for one query: which stream, SQL table or SYSTEM table each name means.

* ``system.<name>`` is a SYSTEM table, readable by ``dba`` and above.
* ``default.<name>`` (also ``main.<name>`` and ``<org id>.<name>``) is an ingest stream.
* ``<namespace>.<name>`` is a SQL table of the caller's org; namespaces are per org, so no
  name can reach another org's tables.
* An unqualified name is a table of the request's namespace (``namespace_id`` or ``USE``)
  when one is set and holds it, and otherwise a stream: SQL written before namespaces existed
  reads what it read.

USER and STREAM tables resolve to one user's scope: the caller's, or the user an
``EXECUTE AS USER`` names (checked by the statement layer before it gets here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from molesignal.auth.principal import Principal
from molesignal.lake.namespaces import DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, is_stream_namespace
from molesignal.lake.streams import Stream
from molesignal.lake.tables import ScopeFiles, TableDef, TableNotFound, Tables
from molesignal.query.errors import PermissionDenied
from molesignal.query.guard import RelationName
from molesignal.query.system_tables import READ_ROLE, SYSTEM_TABLES
from molesignal.storage.table import Table

TABLE_PREFIX = "table:"
SYSTEM_PREFIX = "system:"


@dataclass(frozen=True)
class ScopeUser:
    """Whose rows a USER or STREAM table shows and takes (the response's ``as_user``)."""

    user_id: str
    username: str


@dataclass
class ResolvedTable:
    definition: TableDef
    scope: str
    files: ScopeFiles | None = None  # read by the planner once resolution is done

    @property
    def cache_name(self) -> str:
        """Names the data this plan reads, for the result cache: table, scope and schema."""
        d = self.definition
        return f"{TABLE_PREFIX}{d.table_id}:{self.scope}:{d.schema_version}"


@dataclass
class Catalog:
    table: Table
    principal: Principal
    streams: dict[str, Stream]
    namespace: str | None = None
    scope_user: ScopeUser | None = None
    tables: dict[str, ResolvedTable] = field(default_factory=dict)
    system: set[str] = field(default_factory=set)

    @property
    def scope_user_id(self) -> str:
        return self.scope_user.user_id if self.scope_user else self.principal.user_id

    def resolve(self, name: RelationName) -> str:
        org_id = self.principal.org_id
        namespace = name.namespace
        if namespace is None:
            current = self.namespace or DEFAULT_NAMESPACE
            if current == SYSTEM_NAMESPACE:
                return self._system(name.name)
            if not is_stream_namespace(org_id, current):
                found = Tables(self.table).find(org_id, current, name.name)
                if found is not None:
                    return self._table(found)
            return name.name  # a stream (confine() reports it if there is none)
        if namespace == SYSTEM_NAMESPACE:
            return self._system(name.name)
        if is_stream_namespace(org_id, namespace):
            return name.name
        found = Tables(self.table).find(org_id, namespace, name.name)
        if found is None:
            raise TableNotFound(f"TABLE_NOT_FOUND: {namespace}.{name.name}")
        return self._table(found)

    def _system(self, name: str) -> str:
        if not self.principal.holds(READ_ROLE):
            raise PermissionDenied(f"PERMISSION_DENIED: SYSTEM tables are readable by dba and above (system.{name})")
        if name not in SYSTEM_TABLES:
            raise TableNotFound(f"TABLE_NOT_FOUND: system.{name} (SYSTEM tables: {', '.join(sorted(SYSTEM_TABLES))})")
        key = f"{SYSTEM_PREFIX}{name}"
        self.system.add(key)
        return key

    def _table(self, definition: TableDef) -> str:
        key = f"{TABLE_PREFIX}{definition.qualified}"
        if key not in self.tables:
            self.tables[key] = ResolvedTable(definition, definition.scope_for(self.scope_user_id))
        return key

    def read_files(self) -> None:
        """Each resolved table's scope: its version and files, as of now (read your writes)."""
        store = Tables(self.table)
        for resolved in self.tables.values():
            if resolved.files is None:
                resolved.files = store.scope_files(resolved.definition, resolved.scope)

    @property
    def keys(self) -> set[str]:
        return set(self.streams) | set(self.tables) | self.system

    @property
    def cacheable(self) -> bool:
        """SYSTEM tables are read live; a STREAM table's rows age out without a new version."""
        return not self.system and all(not r.definition.ttl_seconds for r in self.tables.values())
