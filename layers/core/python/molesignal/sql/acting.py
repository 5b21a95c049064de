"""Acting for another user (``EXECUTE AS USER``, a file download's ``?user_id=``).

USER-table data belongs to one user; a statement reads and writes the caller's rows unless
the caller explicitly names another user of the same org whose role class theirs reaches
(``molesignal.auth.principal.may_act_for``: service acts for ordinary users and services,
dba also for dbas, system also for system users; admins and root for anyone). Naming
oneself is always allowed and changes nothing. Another org's user is not found, never
forbidden, so nothing about other orgs leaks.
"""

from __future__ import annotations

from molesignal.auth.principal import Principal, Role, may_act_for
from molesignal.errors import NotFound
from molesignal.query.catalog import ScopeUser
from molesignal.query.errors import PermissionDenied
from molesignal.storage import keys
from molesignal.storage.table import Item, Table
from molesignal.tenancy import Tenancy
from molesignal.wording import a_or_an


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


def _find(table: Table, org_id: str, who: str) -> Item | None:
    """A user of ``org_id`` by id (``u_…``) or by user name."""
    item = table.get(*keys.user(org_id, who)) if who.startswith("u_") else None
    if item is None:
        found = Tenancy(table).find_by_username(who)
        item = found if found is not None and found.get("org_id") == org_id else None
    return item


def scope_user_for(table: Table, principal: Principal, who: str | None) -> ScopeUser:
    """The user whose scope the caller's statement runs in (refused unless the caller may)."""
    own = ScopeUser(principal.user_id, principal.actor)
    if who is None or who in (principal.user_id, principal.username):
        return own
    target = _find(table, principal.org_id, who)
    if target is None:
        raise UserNotFound(f"USER_NOT_FOUND: no user {who!r} in this org")
    if target["user_id"] == principal.user_id:
        return own
    if not may_act_for(principal.role, Role(str(target["role"]))):
        raise PermissionDenied(
            f"PERMISSION_DENIED: {a_or_an(principal.role.value)} cannot act for {a_or_an(str(target['role']))} user "
            "(service acts for ordinary users, dba also for service users and dbas, system for every role)"
        )
    if target.get("disabled"):
        raise PermissionDenied(f"PERMISSION_DENIED: user {who!r} is disabled")
    return ScopeUser(str(target["user_id"]), str(target["username"]))
