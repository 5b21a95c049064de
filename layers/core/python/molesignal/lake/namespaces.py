"""SQL namespaces: an org's named groups of tables (spec 004's ``namespace_id``).

Every org has two built-in namespaces that are never stored: ``default``, which holds the
org's ingest streams (so the SQL written before namespaces existed reads the same streams;
``main`` and the org's own id are accepted as its aliases), and ``system``, which holds the
read-only SYSTEM tables. Namespaces an org creates hold its SQL tables. Each is one item in
the org's partition, carrying a count of its tables so that dropping a namespace and
creating a table in it can never interleave (both are conditional on that count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from molesignal.clock import now_us
from molesignal.errors import Conflict, Invalid, NotFound
from molesignal.storage.table import ConditionFailed, Item, Table

DEFAULT_NAMESPACE = "default"  # the org's ingest streams
SYSTEM_NAMESPACE = "system"  # SYSTEM tables
STREAM_NAMESPACE_ALIASES = frozenset({DEFAULT_NAMESPACE, "main"})  # and the org id itself
BUILT_IN = frozenset({DEFAULT_NAMESPACE, SYSTEM_NAMESPACE})
# Names an org may not give a namespace: the built-ins, their aliases, and what engines and
# clients treat as catalogs of their own.
RESERVED = frozenset({DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, "main", "information_schema", "pg_catalog", "temp"})
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


class NamespaceNotFound(NotFound):
    code = "NAMESPACE_NOT_FOUND"


def namespace_key(org_id: str, name: str) -> tuple[str, str]:
    return f"ORG#{org_id}", f"NS#{name}"


def check_name(name: str, what: str = "namespace") -> str:
    """A namespace or table name: 1-64 of ``a-z``, ``0-9`` and ``_``, not starting with a digit."""
    lowered = name.lower()
    if not _NAME.match(lowered):
        raise Invalid(
            f"INVALID_SQL: {what} name {name!r} must be 1-64 characters of a-z, 0-9 and '_', not starting with a digit",
            code="INVALID_SQL",
        )
    return lowered


def is_stream_namespace(org_id: str, name: str) -> bool:
    return name in STREAM_NAMESPACE_ALIASES or name == org_id


@dataclass(frozen=True)
class Namespace:
    org_id: str
    name: str
    table_count: int = 0
    created_at_us: int = 0
    created_by: str = ""
    built_in: bool = False

    @classmethod
    def from_item(cls, item: Item) -> Namespace:
        return cls(
            org_id=str(item["org_id"]),
            name=str(item["name"]),
            table_count=int(item.get("table_count", 0)),
            created_at_us=int(item.get("created_at_us", 0)),
            created_by=str(item.get("created_by", "")),
        )


@dataclass
class Namespaces:
    table: Table

    def find(self, org_id: str, name: str) -> Namespace | None:
        if name in BUILT_IN:
            return Namespace(org_id, name, built_in=True)
        item = self.table.get(*namespace_key(org_id, name))
        return Namespace.from_item(item) if item else None

    def get(self, org_id: str, name: str) -> Namespace:
        found = self.find(org_id, name)
        if found is None:
            raise NamespaceNotFound(f"NAMESPACE_NOT_FOUND: namespace {name!r} does not exist")
        return found

    def all(self, org_id: str) -> list[Namespace]:
        """The built-in namespaces first, then the org's own by name."""
        stored = [
            Namespace.from_item(i) for i in self.table.query_all(f"ORG#{org_id}", sk_prefix="NS#", consistent=True)
        ]
        built_in = [Namespace(org_id, name, built_in=True) for name in (DEFAULT_NAMESPACE, SYSTEM_NAMESPACE)]
        return built_in + sorted(stored, key=lambda n: n.name)

    def create(self, org_id: str, name: str, *, created_by: str, if_not_exists: bool = False) -> bool:
        """True if created; False if it existed and ``if_not_exists`` was given."""
        name = check_name(name)
        if name in RESERVED or name == org_id:
            raise Conflict(f"CONFLICT: namespace {name!r} is reserved", code="CONFLICT")
        pk, sk = namespace_key(org_id, name)
        item = {
            "pk": pk,
            "sk": sk,
            "kind": "namespace",
            "org_id": org_id,
            "name": name,
            "table_count": 0,
            "created_at_us": now_us(),
            "created_by": created_by,
        }
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed as exc:
            if if_not_exists:
                return False
            raise Conflict(f"CONFLICT: namespace {name!r} already exists", code="CONFLICT") from exc
        return True

    def drop_empty(self, org_id: str, name: str, *, if_exists: bool = False) -> bool:
        """Remove a namespace that holds no table; True if removed."""
        if name in RESERVED or name == org_id:
            raise Conflict(f"CONFLICT: namespace {name!r} is built in and cannot be dropped", code="CONFLICT")
        pk, sk = namespace_key(org_id, name)
        try:
            self.table.delete(pk, sk, condition="attribute_exists(pk) AND table_count = :zero", values={":zero": 0})
        except ConditionFailed as exc:
            found = self.find(org_id, name)
            if found is None:
                if if_exists:
                    return False
                raise NamespaceNotFound(f"NAMESPACE_NOT_FOUND: namespace {name!r} does not exist") from exc
            raise Conflict(
                f"CONFLICT: namespace {name!r} still holds {found.table_count} table(s); drop them or add CASCADE",
                code="CONFLICT",
            ) from exc
        return True
