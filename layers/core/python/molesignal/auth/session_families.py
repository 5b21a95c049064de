"""Revoking login sessions (refresh families). DynamoDB only: callers that just revoke,
like the admin function, do not pay for the JWT library at cold start."""

from __future__ import annotations

from contextlib import suppress

from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Table


def revoke_family(table: Table, family_id: str, *, reason: str) -> None:
    pk, sk = keys.refresh_family(family_id)
    with suppress(ConditionFailed):  # no such family: nothing to revoke
        table.update(
            pk,
            sk,
            "SET revoked = :t, revoked_reason = :r",
            values={":t": True, ":r": reason},
            condition="attribute_exists(pk)",
        )


def revoke_user_sessions(table: Table, user_id: str, *, reason: str) -> int:
    """Revoke every session of a user (disabled, deleted, role or password changed)."""
    families = table.query_all(keys.user_sessions(user_id), index="gsi1")
    live = [f for f in families if not f.get("revoked")]
    for family in live:
        revoke_family(table, family["gsi1sk"], reason=reason)
    return len(live)
