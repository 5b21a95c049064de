"""API tokens ``ms_<prefix>_<secret>``: secret shown once, only its hash stored,
looked up by prefix, compared in constant time, last use recorded.

A token never has more power than its user has *now*. Each token item carries its user's
current role and status (``owner_role``, ``owner_active``), so the check on every request
costs no read beyond the token item itself: the token acts with its own role capped by the
owner's (``principal.capped``), and not at all for a disabled user. The stamps are kept true
by writes, not by reads:

* creating a token stamps the user's state in one transaction with a check that the user
  item still holds that state, and a pointer item (``keys.user_token``) that lists the
  token under its user in a strongly consistent query;
* changing a user's role or status (``Tenancy.update_user``) stamps every token listed
  under the user before the user item changes (with the lesser of the old and new power)
  and again after (with the new), so the change holds from the moment it is answered and
  a crash in between leaves no token with more power than either state;
* deleting a user revokes their tokens, before and after the user item goes.

A token item written before the stamps existed is checked against the user item (one more
read) and then adopted: stamped, with its pointer, in a transaction conditional on the
user's state, so later changes reach it like any other.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from molesignal.auth.principal import Principal, Role, can_grant, capped, covers
from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table
from molesignal.wording import a_or_an

_SHAPE = re.compile(r"^(ms|mtk|molar_sk)_([a-z0-9]{10})_([A-Za-z0-9]{40})$")
# mtk_: an org ingest token in spec 002's shape (ingest role only); molar_sk_: spec 003's API
# key shape, any role, in the same store and checked the same way as ms_.
KINDS = ("ms", "mtk", "molar_sk")
TOKEN_PREFIXES = tuple(f"{kind}_" for kind in KINDS)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SECRET_ALPHABET = _ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LAST_USED_GRANULARITY_US = 60_000_000  # record last use at most once a minute per token
OWNER_ROLE = "owner_role"
OWNER_ACTIVE = "owner_active"
OWNER_VERSION = "owner_version"  # the user's ``power_version`` the stamp reflects: older never overwrites newer
POWER_VERSION = "power_version"  # on the user item: bumped by every change of role or status
_UNSTAMPED = f"attribute_not_exists({OWNER_VERSION})"
_CREATE_ATTEMPTS = 3
MANAGING_ROLE = Role.EDITOR  # the roles that cover it may create tokens, and manage them


def looks_like_api_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIXES)


def _digest(secret: str) -> str:
    # The secret has 238 bits of entropy, so a fast hash is safe; argon2 would cost every request.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class ApiTokens:
    table: Table

    def create(
        self, owner: Principal, *, name: str, role: Role, expires_in_days: int | None, kind: str = "ms"
    ) -> tuple[str, Item]:
        if not can_grant(owner.role, role) or not covers(owner.role, MANAGING_ROLE):
            raise Forbidden(f"forbidden: {a_or_an(owner.role.value)} cannot create {a_or_an(role.value)} token")
        if role is Role.ROOT:
            raise Invalid("invalid argument: API tokens cannot carry the root role")
        if kind not in KINDS:
            raise Invalid("invalid argument: kind must be ms, mtk or molar_sk")
        if kind == "mtk" and role is not Role.INGEST:
            raise Invalid("invalid argument: mtk_ tokens are org ingest tokens: their role must be ingest")
        for _ in range(_CREATE_ATTEMPTS):
            user = self._user(owner.org_id, owner.user_id)
            if user is None or user.get("disabled"):
                raise Unauthorized("unauthorized: user disabled", code="user_disabled")
            prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
            secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
            item = self._new_item(owner, prefix, secret, name=name, role=role, kind=kind, user=user)
            if expires_in_days is not None:
                item["expires_at_us"] = int(item["created_at_us"]) + expires_in_days * 86_400_000_000
            try:
                self.table.transact(
                    [
                        self.table.put_op(item, condition="attribute_not_exists(pk)"),
                        self._pointer_op(owner.org_id, owner.user_id, prefix),
                        self._user_still_op(user),
                    ]
                )
            except ConditionFailed:
                continue  # the user changed under us (or, once in 36**10, the prefix is taken)
            return f"{kind}_{prefix}_{secret}", item
        raise Conflict("conflict: the user changed while the token was being created; try again")

    def _new_item(
        self, owner: Principal, prefix: str, secret: str, *, name: str, role: Role, kind: str, user: Item
    ) -> Item:
        created = now_us()
        pk, sk = keys.api_token(prefix)
        return {
            "pk": pk,
            "sk": sk,
            "gsi1pk": keys.api_token_listing(owner.org_id),
            "gsi1sk": f"{created:016d}#{prefix}",
            "kind": "api_token",
            "prefix": prefix,
            "name": name,
            "org_id": owner.org_id,
            "user_id": owner.user_id,
            "username": owner.username,
            "role": role.value,
            "token_kind": kind,
            "secret_sha256": _digest(secret),
            "created_at_us": created,
            "last_used_at_us": 0,
            "revoked": False,
            OWNER_ROLE: user["role"],
            OWNER_ACTIVE: True,
            OWNER_VERSION: int(user.get(POWER_VERSION, 0)),
        }

    # --- the owner's state on the token --------------------------------------
    def _user(self, org_id: str, user_id: str) -> Item | None:
        return self.table.get(*keys.user(org_id, user_id))

    def _pointer_op(self, org_id: str, user_id: str, prefix: str) -> dict[str, Any]:
        pk, sk = keys.user_token(org_id, user_id, prefix)
        return self.table.put_op({"pk": pk, "sk": sk, "kind": "user_token", "prefix": prefix})

    def _user_still_op(self, user: Item) -> dict[str, Any]:
        """A transaction check: the user item still has this role and is not disabled."""
        return self.table.check_op(
            *keys.user(user["org_id"], user["user_id"]),
            "#role = :role AND NOT disabled = :true",
            names={"#role": "role"},
            values={":role": user["role"], ":true": True},
        )

    def _pointers(self, org_id: str, user_id: str) -> list[Item]:
        return self.table.query_all(f"ORG#{org_id}", sk_prefix=keys.user_tokens_prefix(user_id), consistent=True)

    def follow_user(self, org_id: str, user_id: str, *, role: Role, active: bool, version: int) -> int:
        """Stamp a user's role and status (as of their ``power_version``) on every token listed
        under them; a token already stamped from a later version keeps its stamp."""
        stamped = 0
        for pointer in self._pointers(org_id, user_id):
            with suppress(ConditionFailed):  # the token is gone, or a later change already reached it
                self.table.update(
                    *keys.api_token(pointer["prefix"]),
                    f"SET {OWNER_ROLE} = :role, {OWNER_ACTIVE} = :active, {OWNER_VERSION} = :v",
                    values={":role": role.value, ":active": active, ":v": version},
                    condition=f"attribute_exists(pk) AND ({_UNSTAMPED} OR {OWNER_VERSION} <= :v)",
                )
                stamped += 1
        return stamped

    def revoke_user_tokens(self, org_id: str, user_id: str, *, reason: str) -> int:
        """Revoke every token listed under a user (the user is being deleted); returns how many."""
        pointers = self._pointers(org_id, user_id)
        now = now_us()
        for pointer in pointers:
            with suppress(ConditionFailed):
                self.table.update(
                    *keys.api_token(pointer["prefix"]),
                    f"SET revoked = :t, revoked_at_us = :now, revoked_reason = :why, {OWNER_ACTIVE} = :f",
                    values={":t": True, ":f": False, ":now": now, ":why": reason},
                    condition="attribute_exists(pk)",
                )
            self.table.delete(pointer["pk"], pointer["sk"])
        return len(pointers)

    def _owner_state(self, item: Item) -> tuple[Role, bool]:
        """The owner's (role, active) as stamped on the token, or read and adopted if unstamped."""
        stamped = item.get(OWNER_ROLE)
        if stamped is not None:
            return Role(stamped), bool(item.get(OWNER_ACTIVE))
        user = self._user(item["org_id"], item["user_id"])
        if user is None:
            raise Unauthorized("unauthorized: token revoked (its user no longer exists)", code="token_revoked")
        active = not user.get("disabled")
        if active:
            with suppress(ConditionFailed):  # the user or token changed meanwhile: adopt on a later request
                self.table.transact(
                    [
                        self.table.update_op(
                            *keys.api_token(item["prefix"]),
                            f"SET {OWNER_ROLE} = :role, {OWNER_ACTIVE} = :t, {OWNER_VERSION} = :v",
                            condition=f"attribute_not_exists({OWNER_ROLE}) AND revoked = :f",
                            values={":role": user["role"], ":t": True, ":f": False, ":v": user.get(POWER_VERSION, 0)},
                        ),
                        self._pointer_op(item["org_id"], item["user_id"], item["prefix"]),
                        self._user_still_op(user),
                    ]
                )
        return Role(user["role"]), active

    def _power(self, item: Item) -> Role:
        """The role a token acts with now: its own, capped by its user's current role."""
        owner_role, active = self._owner_state(item)
        if not active:
            raise Unauthorized("unauthorized: the token's user is disabled", code="user_disabled")
        role = capped(Role(item["role"]), owner_role)
        if role is None:
            raise Unauthorized(
                f"unauthorized: this {item['role']} token's user is now {owner_role.value}, "
                f"who may not do what the token does",
                code="token_role_exceeds_user",
            )
        return role

    def authenticate(self, token: str) -> Principal:
        match = _SHAPE.match(token)
        if not match:
            raise Unauthorized("unauthorized: malformed API token", code="invalid_token")
        kind, prefix, secret = match.groups()
        # Strongly consistent: a revocation, demotion or disable holds from the next request on.
        item = self.table.get(*keys.api_token(prefix))
        expected = item["secret_sha256"] if item else _digest("no-such-token")
        if not hmac.compare_digest(expected, _digest(secret)) or item is None or item.get("token_kind", "ms") != kind:
            raise Unauthorized("unauthorized: invalid token", code="invalid_token")
        if item.get("revoked"):
            raise Unauthorized("unauthorized: token revoked", code="token_revoked")
        now = now_us()
        expires = item.get("expires_at_us")
        if expires and now >= int(expires):
            raise Unauthorized("unauthorized: token expired", code="token_expired")
        role = self._power(item)
        self._touch(prefix, now, int(item.get("last_used_at_us", 0)))
        return Principal(
            org_id=item["org_id"],
            user_id=item["user_id"],
            role=role,
            kind="api_token",
            credential_id=prefix,
            username=item.get("username", ""),
        )

    def _touch(self, prefix: str, now: int, last_used: int) -> None:
        if now - last_used < LAST_USED_GRANULARITY_US:
            return
        pk, sk = keys.api_token(prefix)
        with suppress(ConditionFailed):  # another request recorded it first
            self.table.update(
                pk,
                sk,
                "SET last_used_at_us = :now",
                values={":now": now, ":stale": now - LAST_USED_GRANULARITY_US},
                condition="last_used_at_us < :stale",
            )

    @staticmethod
    def _require_manager(caller: Principal) -> None:
        if not covers(caller.role, MANAGING_ROLE):
            raise Forbidden(
                f"forbidden: managing API tokens requires role editor or admin (this is {caller.role.value})"
            )

    @staticmethod
    def _visible(caller: Principal, item: Item) -> bool:
        """Admins see the org's tokens, others their own; no credential sees a stronger token."""
        if item["org_id"] != caller.org_id:
            return False
        if not caller.is_admin and item["user_id"] != caller.user_id:
            return False
        return covers(caller.role, Role(item["role"]))

    def list(self, caller: Principal) -> list[Item]:
        self._require_manager(caller)
        items = self.table.query_all(keys.api_token_listing(caller.org_id), index="gsi1")
        return [i for i in items if self._visible(caller, i)]

    def get(self, caller: Principal, prefix: str) -> Item:
        self._require_manager(caller)
        item = self.table.get(*keys.api_token(prefix)) if re.fullmatch(r"[a-z0-9]{10}", prefix) else None
        if not item or not self._visible(caller, item):
            raise NotFound(f"not found: token {prefix!r}")
        return item

    def revoke(self, caller: Principal, prefix: str) -> tuple[Item, bool]:
        """Revoke the token; idempotent. Returns the item and whether this call revoked it
        (False when it already was, so the caller audits a revocation once)."""
        item = self.get(caller, prefix)
        pk, sk = keys.api_token(prefix)
        try:
            revoked = self.table.update(
                pk,
                sk,
                "SET revoked = :t, revoked_at_us = :now",
                values={":t": True, ":now": now_us()},
                condition="attribute_exists(pk) AND (attribute_not_exists(revoked) OR revoked <> :t)",
            )
        except ConditionFailed:
            return item, False
        self.table.delete(*keys.user_token(item["org_id"], item["user_id"], prefix))  # nothing left to follow
        return revoked, True


def public_token(item: Item) -> dict[str, Any]:
    last_used = int(item.get("last_used_at_us", 0))
    expires = item.get("expires_at_us")
    return {
        "id": item["prefix"],
        "prefix": f"{item.get('token_kind', 'ms')}_{item['prefix']}_",
        "name": item.get("name", ""),
        "role": item["role"],
        "user_id": item["user_id"],
        "created_at": iso(int(item["created_at_us"])),
        "last_used_at": iso(last_used) if last_used else None,
        "expires_at": iso(int(expires)) if expires else None,
        "revoked": bool(item.get("revoked", False)),
    }
