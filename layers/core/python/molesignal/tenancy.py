"""Orgs and users. Every item is keyed by its org, so a lookup with the caller's org
can only ever find that org's items: cross-org ids are simply not found."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from molesignal.auth.api_tokens import POWER_VERSION, ApiTokens
from molesignal.auth.passwords import hash_password
from molesignal.auth.principal import Principal, Role, can_grant, capped
from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, Forbidden, Invalid, NotFound
from molesignal.lake.watch import Watch
from molesignal.otlp.content import org_content_entries
from molesignal.recent import forget_org
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table
from molesignal.wording import a_or_an

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
ROOT_USERNAME = "root"


def new_user_id() -> str:
    return "u_" + secrets.token_hex(8)


def check_password_policy(password: str) -> None:
    minimum = get_settings().password_min_length
    if len(password) < minimum:
        raise Invalid(f"invalid argument: password must be at least {minimum} characters")
    if len(password) > 1024:
        raise Invalid("invalid argument: password is too long")


def check_username(name: str) -> str:
    if not _USERNAME.match(name):
        raise Invalid("invalid argument: user must be 1-64 characters of letters, digits, '_', '.', '@', '-'")
    return name


@dataclass
class Tenancy:
    table: Table

    # --- orgs -------------------------------------------------------------
    def create_org(self, org_id: str, name: str, *, created_by: str) -> Item:
        if not _ORG_ID.match(org_id):
            raise Invalid("invalid argument: org id must be 2-40 characters of a-z, 0-9 and '-'")
        pk, sk = keys.org(org_id)
        item = {
            "pk": pk,
            "sk": sk,
            "gsi1pk": keys.org_listing(),
            "gsi1sk": org_id,
            "kind": "org",
            "org_id": org_id,
            "name": name,
            "ingestion_paused": False,
            "created_at_us": now_us(),
            "created_by": created_by,
        }
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed as exc:
            raise Conflict(f"conflict: org {org_id!r} already exists") from exc
        forget_org(org_id)  # this process may remember it as missing
        Watch(self.table).record_new_org(org_id)
        return item

    def get_org(self, org_id: str) -> Item:
        item = self.table.get(*keys.org(org_id))
        if not item:
            raise NotFound(f"not found: org {org_id!r}")
        return item

    def visible_org(self, principal: Principal, org_id: str) -> Item:
        """The org if the caller may see it; another org's id is 'not found', never 'forbidden'."""
        if principal.role is not Role.ROOT and org_id != principal.org_id:
            raise NotFound(f"not found: org {org_id!r}")
        return self.get_org(org_id)

    def list_orgs(self, principal: Principal) -> list[Item]:
        if principal.role is Role.ROOT:
            return self.table.query_all(keys.org_listing(), index="gsi1")
        return [self.get_org(principal.org_id)]

    def update_org(
        self,
        org_id: str,
        *,
        name: str | None,
        ingestion_paused: bool | None,
        content_retention_days: int | None = None,
        content_keys: list[str] | None = None,
        reset_content_keys: bool = False,
        content_body_is_content: bool | None = None,
    ) -> Item:
        """Change the given settings; ``reset_content_keys`` drops the org's own content key list."""
        self.get_org(org_id)
        sets: list[str] = []
        removes: list[str] = []
        values: dict[str, Any] = {}
        if name is not None:
            sets.append("#name = :name")
            values[":name"] = name
        if ingestion_paused is not None:
            sets.append("ingestion_paused = :paused")
            values[":paused"] = ingestion_paused
        if content_retention_days is not None:
            sets.append("content_retention_days = :crd")
            values[":crd"] = content_retention_days
        if reset_content_keys:
            removes.append("content_keys")
        elif content_keys is not None:
            sets.append("content_keys = :ck")
            values[":ck"] = sorted(set(content_keys))
        if content_body_is_content is not None:
            sets.append("content_body_is_content = :cbc")
            values[":cbc"] = content_body_is_content
        if not sets and not removes:
            return self.get_org(org_id)
        pk, sk = keys.org(org_id)
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(sets))
        if removes:
            clauses.append("REMOVE " + ", ".join(removes))
        updated = self.table.update(
            pk,
            sk,
            " ".join(clauses),
            names={"#name": "name"} if name is not None else None,
            values=values,
            condition="attribute_exists(pk)",
        )
        forget_org(org_id)
        return updated

    # --- users ------------------------------------------------------------
    def create_user(
        self,
        *,
        org_id: str,
        username: str,
        password: str,
        role: Role,
        email: str = "",
        granted_by: Principal | None = None,
    ) -> Item:
        check_username(username)
        check_password_policy(password)
        if granted_by is not None and not can_grant(granted_by.role, role):
            raise Forbidden(f"forbidden: {a_or_an(granted_by.role.value)} cannot create {a_or_an(role.value)} user")
        self.get_org(org_id)
        user_id = new_user_id()
        pk, sk = keys.user(org_id, user_id)
        upk, usk = keys.username(username)
        item = {
            "pk": pk,
            "sk": sk,
            "kind": "user",
            "user_id": user_id,
            "org_id": org_id,
            "username": username,
            "email": email,
            "role": role.value,
            "password_hash": hash_password(password),
            "disabled": False,
            "created_at_us": now_us(),
        }
        guard = {"pk": upk, "sk": usk, "kind": "username", "org_id": org_id, "user_id": user_id}
        try:
            self.table.transact_put([(guard, "attribute_not_exists(pk)"), (item, "attribute_not_exists(pk)")])
        except ConditionFailed as exc:
            raise Conflict(f"conflict: user {username!r} already exists") from exc
        return item

    def find_by_username(self, username: str) -> Item | None:
        guard = self.table.get(*keys.username(username))
        if not guard:
            return None
        return self.table.get(*keys.user(guard["org_id"], guard["user_id"]))

    def get_user(self, org_id: str, user_id: str) -> Item:
        item = self.table.get(*keys.user(org_id, user_id))
        if not item:
            raise NotFound(f"not found: user {user_id!r}")
        return item

    def list_users(self, org_id: str) -> list[Item]:
        return self.table.query_all(f"ORG#{org_id}", sk_prefix=keys.user_prefix())

    def update_user(
        self,
        org_id: str,
        user_id: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        email: str | None = None,
        granted_by: Principal,
    ) -> Item:
        current = self.get_user(org_id, user_id)
        if role is not None and not can_grant(granted_by.role, role):
            raise Forbidden(f"forbidden: {a_or_an(granted_by.role.value)} cannot grant {role.value}")
        if Role(current["role"]) is Role.ROOT and granted_by.role is not Role.ROOT:
            raise Forbidden("forbidden: only root can change the root user")
        sets: list[str] = []
        values: dict[str, Any] = {}
        if role is not None:
            sets.append("#role = :role")
            values[":role"] = role.value
        if disabled is not None:
            sets.append("disabled = :disabled")
            values[":disabled"] = disabled
        if password is not None:
            check_password_policy(password)
            sets.append("password_hash = :hash")
            values[":hash"] = hash_password(password)
        if email is not None:
            sets.append("email = :email")
            values[":email"] = email
        if not sets:
            return current
        old_role, old_active = Role(current["role"]), not current.get("disabled")
        new_role = role or old_role
        new_active = old_active if disabled is None else not disabled
        power_changes = (new_role, new_active) != (old_role, old_active)
        tokens = ApiTokens(self.table)
        if power_changes:
            # Until the user item changes, its tokens hold no more than the lesser of both states.
            lesser = capped(old_role, new_role)
            tokens.follow_user(
                org_id,
                user_id,
                role=lesser or new_role,
                active=old_active and new_active and lesser is not None,
                version=int(current.get(POWER_VERSION, 0)) + 1,
            )
            sets.append(f"{POWER_VERSION} = if_not_exists({POWER_VERSION}, :zero) + :one")
            values.update({":zero": 0, ":one": 1})
        pk, sk = keys.user(org_id, user_id)
        values[":old_role"] = old_role.value
        values[":true"] = True
        try:
            updated = self.table.update(
                pk,
                sk,
                "SET " + ", ".join(sets),
                names={"#role": "role"},
                values=values,
                # The tokens were stamped against the state read above: it must still be the one replaced.
                condition="#role = :old_role AND " + ("NOT disabled = :true" if old_active else "disabled = :true"),
            )
        except ConditionFailed as exc:
            if power_changes:  # undo the interim stamp: the tokens follow whatever the user now is
                self._tokens_follow(tokens, self.get_user(org_id, user_id))
            raise Conflict(f"conflict: user {user_id!r} changed meanwhile; read it again and retry") from exc
        if power_changes:
            self._tokens_follow(tokens, updated)
        return updated

    @staticmethod
    def _tokens_follow(tokens: ApiTokens, user: Item) -> None:
        tokens.follow_user(
            user["org_id"],
            user["user_id"],
            role=Role(user["role"]),
            active=not user.get("disabled"),
            version=int(user.get(POWER_VERSION, 0)),
        )

    def delete_user(self, org_id: str, user_id: str, *, by: Principal) -> Item:
        current = self.get_user(org_id, user_id)
        if current["user_id"] == by.user_id:
            raise Conflict("conflict: you cannot delete yourself")
        if Role(current["role"]) is Role.ROOT:
            raise Forbidden("forbidden: the root user cannot be deleted")
        tokens = ApiTokens(self.table)
        tokens.revoke_user_tokens(org_id, user_id, reason="user_deleted")
        self.table.delete(*keys.user(org_id, user_id))
        self.table.delete(*keys.username(current["username"]))
        # A token created while this ran was stamped before the user item went: revoke it too.
        tokens.revoke_user_tokens(org_id, user_id, reason="user_deleted")
        return current


def public_user(item: Item) -> dict[str, Any]:
    return {
        "id": item["user_id"],
        "user": item["username"],
        "email": item.get("email", ""),
        "org_id": item["org_id"],
        "role": item["role"],
        "disabled": bool(item.get("disabled", False)),
        "created_at": iso(int(item["created_at_us"])),
    }


def public_org(item: Item) -> dict[str, Any]:
    return {
        "id": item["org_id"],
        "name": item.get("name", ""),
        "ingestion_paused": bool(item.get("ingestion_paused", False)),
        "content_retention_days": int(item.get("content_retention_days") or get_settings().content_retention_days),
        "content_keys": org_content_entries(item),
        "content_keys_default": item.get("content_keys") is None,
        "content_body_is_content": bool(item.get("content_body_is_content", False)),
        "created_at": iso(int(item["created_at_us"])),
    }
