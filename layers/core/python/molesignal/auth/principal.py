"""Who is calling: roles and the principal the authorizer passes to every function."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from molesignal.errors import Forbidden


class Role(StrEnum):
    ROOT = "root"
    ADMIN = "admin"
    SYSTEM = "system"
    DBA = "dba"
    SERVICE = "service"
    EDITOR = "editor"
    VIEWER = "viewer"
    INGEST = "ingest"


# The roles form one chain, root ⊇ admin ⊇ system ⊇ dba ⊇ service ⊇ editor, above two
# disjoint capabilities: viewer reads, ingest sends telemetry (docs/adr/0017-sql-tables-on-the-lake.md).
# Spec 004's roles sit inside it: ``service`` (an application backend: reads and writes
# table data, acts for ordinary users), ``dba`` (also DDL, SYSTEM tables, acts for dba and
# service users) and ``system`` (also acts for system users); an org ``admin`` holds every
# one of them besides managing users, so setup's first user is the document's dba.
_CHAIN = (Role.ROOT, Role.ADMIN, Role.SYSTEM, Role.DBA, Role.SERVICE, Role.EDITOR)
_COVERS: dict[Role, frozenset[Role]] = {
    role: frozenset(_CHAIN[index:]) | {Role.VIEWER, Role.INGEST} for index, role in enumerate(_CHAIN)
}
_COVERS[Role.VIEWER] = frozenset({Role.VIEWER})
_COVERS[Role.INGEST] = frozenset({Role.INGEST})


def can_grant(granter: Role, role: Role) -> bool:
    """Whether ``granter`` may give ``role`` to a user or API token.

    Root grants everything, an admin everything but root; a role that may change data
    (editor and up) grants what it covers; viewers and ingest grant nothing.
    """
    if role is Role.ROOT:
        return granter is Role.ROOT
    if granter in (Role.ROOT, Role.ADMIN):
        return True
    return covers(granter, Role.EDITOR) and covers(granter, role)


def covers(holder: Role, role: Role) -> bool:
    """Whether everything ``role`` may do, ``holder`` may do too."""
    return role in _COVERS[holder]


# Whose data a role may act for (spec 004's ``EXECUTE AS USER``, a file's ``?user_id=``): the
# target user's role class must not outrank the actor's. Ordinary users (editor, viewer,
# ingest) are class 0; only service and above act for anyone but themselves.
_ACT_CLASS = {Role.SERVICE: 1, Role.DBA: 2, Role.SYSTEM: 3, Role.ADMIN: 4, Role.ROOT: 5}


def may_act_for(actor: Role, target: Role) -> bool:
    """Whether a caller with role ``actor`` may run statements in ``target``'s user scope."""
    mine = _ACT_CLASS.get(actor, 0)
    return mine > 0 and _ACT_CLASS.get(target, 0) <= mine


def capped(role: Role, limit: Role) -> Role | None:
    """The most ``role`` may do while never exceeding ``limit``; None when they share nothing."""
    if covers(limit, role):
        return role
    if covers(role, limit):
        return limit
    return None


@dataclass(frozen=True)
class Principal:
    org_id: str
    user_id: str
    role: Role
    kind: str  # "jwt" or "api_token"
    credential_id: str  # refresh family for a JWT, token prefix for an API token
    username: str = ""

    def require(self, *roles: Role) -> None:
        """Refuse unless the caller's role covers one of ``roles`` (root covers every role)."""
        if any(covers(self.role, role) for role in roles):
            return
        raise Forbidden(f"forbidden: requires role {' or '.join(r.value for r in roles)}")

    def holds(self, role: Role) -> bool:
        return covers(self.role, role)

    @property
    def actor(self) -> str:
        """How the caller appears in audit entries and answers."""
        return self.username or self.user_id

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.ROOT, Role.ADMIN)

    def to_context(self) -> dict[str, Any]:
        """The authorizer's ``context`` (string values, as API Gateway passes them on)."""
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_context(cls, context: dict[str, Any]) -> Principal:
        return cls(
            org_id=str(context["org_id"]),
            user_id=str(context["user_id"]),
            role=Role(str(context["role"])),
            kind=str(context["kind"]),
            credential_id=str(context["credential_id"]),
            username=str(context.get("username", "")),
        )
