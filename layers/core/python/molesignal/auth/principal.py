"""Who is calling: roles and the principal the authorizer passes to every function."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from molesignal.errors import Forbidden


class Role(StrEnum):
    ROOT = "root"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"
    INGEST = "ingest"


# Ingest is a capability of its own: it may write telemetry but read nothing.
_RANK = {Role.ROOT: 4, Role.ADMIN: 3, Role.EDITOR: 2, Role.VIEWER: 1, Role.INGEST: 0}


def rank(role: Role) -> int:
    return _RANK[role]


def can_grant(granter: Role, role: Role) -> bool:
    """Whether ``granter`` may give ``role`` to a user or API token."""
    if role is Role.ROOT:
        return granter is Role.ROOT
    if granter in (Role.ROOT, Role.ADMIN):
        return True
    if granter is Role.EDITOR:
        return role in (Role.EDITOR, Role.VIEWER, Role.INGEST)
    return False


# What each role may do, as the roles it includes: an editor may read and ingest; viewer and
# ingest are disjoint (one reads, the other writes).
_COVERS = {
    Role.ROOT: frozenset(Role),
    Role.ADMIN: frozenset({Role.ADMIN, Role.EDITOR, Role.VIEWER, Role.INGEST}),
    Role.EDITOR: frozenset({Role.EDITOR, Role.VIEWER, Role.INGEST}),
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.INGEST: frozenset({Role.INGEST}),
}


def covers(holder: Role, role: Role) -> bool:
    """Whether everything ``role`` may do, ``holder`` may do too."""
    return role in _COVERS[holder]


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
        """Refuse unless the caller holds one of ``roles`` (root holds every role)."""
        if self.role is Role.ROOT or self.role in roles:
            return
        raise Forbidden(f"forbidden: requires role {' or '.join(r.value for r in roles)}")

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
