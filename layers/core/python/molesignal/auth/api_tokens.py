"""API tokens ``ms_<prefix>_<secret>``: secret shown once, only its hash stored,
looked up by prefix, compared in constant time, last use recorded."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from molesignal.auth.principal import Principal, Role, can_grant
from molesignal.clock import iso, now_us
from molesignal.errors import Forbidden, Invalid, NotFound, Unauthorized
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table
from molesignal.wording import a_or_an

_SHAPE = re.compile(r"^(ms|mtk)_([a-z0-9]{10})_([A-Za-z0-9]{40})$")
KINDS = ("ms", "mtk")  # mtk_: an org ingest token in spec 002's shape (ingest role only)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SECRET_ALPHABET = _ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LAST_USED_GRANULARITY_US = 60_000_000  # record last use at most once a minute per token


def looks_like_api_token(token: str) -> bool:
    return token.startswith(("ms_", "mtk_"))


def _digest(secret: str) -> str:
    # The secret has 238 bits of entropy, so a fast hash is safe; argon2 would cost every request.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class ApiTokens:
    table: Table

    def create(
        self, owner: Principal, *, name: str, role: Role, expires_in_days: int | None, kind: str = "ms"
    ) -> tuple[str, Item]:
        if not can_grant(owner.role, role) or owner.role in (Role.VIEWER, Role.INGEST):
            raise Forbidden(f"forbidden: {a_or_an(owner.role.value)} cannot create {a_or_an(role.value)} token")
        if role is Role.ROOT:
            raise Invalid("invalid argument: API tokens cannot carry the root role")
        if kind not in KINDS:
            raise Invalid("invalid argument: kind must be ms or mtk")
        if kind == "mtk" and role is not Role.INGEST:
            raise Invalid("invalid argument: mtk_ tokens are org ingest tokens: their role must be ingest")
        prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        created = now_us()
        pk, sk = keys.api_token(prefix)
        item: Item = {
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
        }
        if expires_in_days is not None:
            item["expires_at_us"] = created + expires_in_days * 86_400_000_000
        self.table.put(item, condition="attribute_not_exists(pk)")
        return f"{kind}_{prefix}_{secret}", item

    def authenticate(self, token: str) -> Principal:
        match = _SHAPE.match(token)
        if not match:
            raise Unauthorized("unauthorized: malformed API token", code="invalid_token")
        kind, prefix, secret = match.groups()
        item = self.table.get(*keys.api_token(prefix), consistent=False)
        expected = item["secret_sha256"] if item else _digest("no-such-token")
        if not hmac.compare_digest(expected, _digest(secret)) or item is None or item.get("token_kind", "ms") != kind:
            raise Unauthorized("unauthorized: invalid token", code="invalid_token")
        if item.get("revoked"):
            raise Unauthorized("unauthorized: token revoked", code="token_revoked")
        now = now_us()
        expires = item.get("expires_at_us")
        if expires and now >= int(expires):
            raise Unauthorized("unauthorized: token expired", code="token_expired")
        self._touch(prefix, now, int(item.get("last_used_at_us", 0)))
        return Principal(
            org_id=item["org_id"],
            user_id=item["user_id"],
            role=Role(item["role"]),
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

    def list(self, caller: Principal) -> list[Item]:
        items = self.table.query_all(keys.api_token_listing(caller.org_id), index="gsi1")
        if caller.is_admin:
            return items
        return [i for i in items if i["user_id"] == caller.user_id]

    def get(self, caller: Principal, prefix: str) -> Item:
        item = self.table.get(*keys.api_token(prefix)) if re.fullmatch(r"[a-z0-9]{10}", prefix) else None
        if not item or item["org_id"] != caller.org_id:
            raise NotFound(f"not found: token {prefix!r}")
        if not caller.is_admin and item["user_id"] != caller.user_id:
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
