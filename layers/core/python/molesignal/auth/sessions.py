"""Login sessions: setup, login with throttling, rotating refresh tokens, logout,
and bearer authentication for the authorizer.

A login opens a refresh *family*. Each refresh rotates the family's current token id;
presenting any older token of the family is treated as theft and revokes the family,
which also invalidates the access tokens minted from it.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from molesignal import audit, counters
from molesignal.auth import jwt_tokens
from molesignal.auth.api_tokens import ApiTokens, looks_like_api_token
from molesignal.auth.passwords import verify_password
from molesignal.auth.principal import Principal, Role
from molesignal.auth.session_families import revoke_family
from molesignal.clock import now_s, now_us
from molesignal.errors import Conflict, Forbidden, Invalid, RateLimited, Unauthorized
from molesignal.ipallow import Allowlists
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table
from molesignal.tenancy import ROOT_USERNAME, Tenancy, check_password_policy, check_username, public_user

DEFAULT_ORG = "default"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: dict[str, Any]

    def to_response(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


@dataclass
class Sessions:
    table: Table

    @property
    def tenancy(self) -> Tenancy:
        return Tenancy(self.table)

    # --- setup ------------------------------------------------------------
    def needs_setup(self) -> bool:
        return self.table.get(*keys.setup_marker()) is None

    def setup(
        self, *, username: str, password: str, root_password: str | None, email: str, org_name: str, source_ip: str
    ) -> dict[str, Any]:
        """First-run bootstrap: the default org, its admin and (optionally) root's password."""
        check_username(username)
        check_password_policy(password)
        if root_password is not None:
            check_password_policy(root_password)
        if username.lower() == ROOT_USERNAME:
            raise Invalid("invalid argument: 'root' is reserved; choose another admin user name")
        pk, sk = keys.setup_marker()
        try:
            self.table.put({"pk": pk, "sk": sk, "done_at_us": now_us()}, condition="attribute_not_exists(pk)")
        except ConditionFailed as exc:
            raise Conflict("conflict: setup has already been completed", code="already_set_up") from exc
        try:
            admin, root = self._bootstrap(username, password, root_password, email, org_name)
        except Exception:
            # Setup is one-time: a failed attempt must not consume it.
            self.table.delete(pk, sk)
            raise
        audit.record(
            self.table,
            org_id=DEFAULT_ORG,
            action="auth.setup",
            actor=username,
            target=DEFAULT_ORG,
            source_ip=source_ip,
            details={"root_password_set": root is not None},
        )
        return {"org_id": DEFAULT_ORG, "user": public_user(admin), "root": public_user(root) if root else None}

    def _bootstrap(
        self, username: str, password: str, root_password: str | None, email: str, org_name: str
    ) -> tuple[Item, Item | None]:
        tenancy = self.tenancy
        with suppress(Conflict):  # a crashed earlier setup may have created it
            tenancy.create_org(DEFAULT_ORG, org_name, created_by="setup")
        admin = tenancy.create_user(
            org_id=DEFAULT_ORG, username=username, password=password, role=Role.ADMIN, email=email
        )
        root = None
        if root_password is not None:
            root = tenancy.create_user(
                org_id=DEFAULT_ORG, username=ROOT_USERNAME, password=root_password, role=Role.ROOT
            )
        return admin, root

    # --- login ------------------------------------------------------------
    def login(self, username: str, password: str, *, source_ip: str) -> TokenPair:
        subject = username.lower()
        self._check_throttle(subject)
        user = self.tenancy.find_by_username(username) if username else None
        ok = verify_password(user["password_hash"] if user else None, password)
        if not ok or user is None or user.get("disabled"):
            self._record_failure(subject)
            counters.increment(self.table, "auth_login_failures_total")
            if user is not None:
                audit.record(
                    self.table,
                    org_id=user["org_id"],
                    action="auth.login",
                    actor=username,
                    outcome="failure",
                    source_ip=source_ip,
                )
            raise Unauthorized("unauthorized: invalid user or password", code="invalid_credentials")
        self.table.delete(*keys.login_failures(subject))
        self._check_address(user, source_ip, action="auth.login", actor=username)
        counters.increment(self.table, "auth_logins_total")
        audit.record(self.table, org_id=user["org_id"], action="auth.login", actor=username, source_ip=source_ip)
        return self._open_family(user)

    def _check_throttle(self, subject: str) -> None:
        settings = get_settings()
        item = self.table.get(*keys.login_failures(subject), consistent=False)
        if not item:
            return
        window_end = int(item.get("window_start", 0)) + settings.login_window_s
        if int(item.get("count", 0)) >= settings.login_max_failures and now_s() < window_end:
            raise RateLimited(
                "rate limited: too many failed logins; try again later",
                retry_after_s=window_end - now_s(),
                code="login_throttled",
            )

    def _record_failure(self, subject: str) -> None:
        settings = get_settings()
        pk, sk = keys.login_failures(subject)
        now = now_s()
        try:
            # A window that ended starts afresh; otherwise count within it.
            self.table.put(
                {"pk": pk, "sk": sk, "count": 1, "window_start": now, "expires_at": now + settings.login_window_s},
                condition="attribute_not_exists(pk) OR window_start < :stale",
                values={":stale": now - settings.login_window_s},
            )
        except ConditionFailed:
            self.table.update(pk, sk, "ADD #c :one", names={"#c": "count"}, values={":one": 1})

    def _open_family(self, user: Item) -> TokenPair:
        family_id = jwt_tokens.new_id()
        return self._issue(user, family_id, previous_token_id=None)

    def _issue(self, user: Item, family_id: str, previous_token_id: str | None) -> TokenPair:
        settings = get_settings()
        token_id = jwt_tokens.new_id()
        expires_at = now_s() + settings.refresh_token_ttl_s
        pk, sk = keys.refresh_family(family_id)
        if previous_token_id is None:
            self.table.put(
                {
                    "pk": pk,
                    "sk": sk,
                    "kind": "refresh_family",
                    "gsi1pk": keys.user_sessions(user["user_id"]),
                    "gsi1sk": family_id,
                    "org_id": user["org_id"],
                    "user_id": user["user_id"],
                    "current_token_id": token_id,
                    "revoked": False,
                    "expires_at": expires_at,
                },
                condition="attribute_not_exists(pk)",
            )
        else:
            try:
                self.table.update(
                    pk,
                    sk,
                    "SET current_token_id = :new, expires_at = :exp",
                    values={":new": token_id, ":old": previous_token_id, ":exp": expires_at, ":f": False},
                    condition="current_token_id = :old AND revoked = :f",
                )
            except ConditionFailed as exc:
                # Lost a race with a concurrent refresh of the same token: that is reuse too.
                revoke_family(self.table, family_id, reason="refresh_race")
                raise Unauthorized("unauthorized: refresh token reused", code="token_reused") from exc
        access, ttl = jwt_tokens.issue_access(
            jwt_tokens.AccessClaims(
                user_id=user["user_id"],
                org_id=user["org_id"],
                role=Role(user["role"]),
                family_id=family_id,
                username=user["username"],
            )
        )
        refresh = jwt_tokens.issue_refresh(user["user_id"], user["org_id"], family_id, token_id, expires_at)
        return TokenPair(access, ttl, refresh, settings.refresh_token_ttl_s, public_user(user))

    # --- refresh / logout -------------------------------------------------
    def refresh(self, refresh_token: str, *, source_ip: str) -> TokenPair:
        claims = jwt_tokens.verify_refresh(refresh_token)
        family = self.table.get(*keys.refresh_family(claims.family_id))
        if not family or family.get("revoked"):
            raise Unauthorized("unauthorized: token revoked", code="token_revoked")
        if family["current_token_id"] != claims.token_id:
            revoke_family(self.table, claims.family_id, reason="reuse")
            audit.record(
                self.table,
                org_id=claims.org_id,
                action="auth.refresh_reuse",
                actor=claims.user_id,
                outcome="family_revoked",
                source_ip=source_ip,
            )
            raise Unauthorized("unauthorized: refresh token reused; session revoked", code="token_reused")
        user = self.tenancy.get_user(claims.org_id, claims.user_id) if family else None
        if not user or user.get("disabled"):
            raise Unauthorized("unauthorized: user disabled", code="user_disabled")
        self._check_address(user, source_ip, action="auth.refresh", actor=claims.user_id)
        return self._issue(user, claims.family_id, previous_token_id=claims.token_id)

    def _check_address(self, user: Item, source_ip: str, *, action: str, actor: str) -> None:
        """The org's IP allowlist, before any token is issued (recorded when it refuses)."""
        try:
            Allowlists(self.table).check_user(str(user["org_id"]), Role(str(user["role"])), source_ip)
        except Forbidden:
            audit.record(
                self.table,
                org_id=user["org_id"],
                action=action,
                actor=actor,
                outcome="ip_not_allowed",
                source_ip=source_ip,
            )
            raise

    def logout(self, refresh_token: str | None, access: Principal | None, *, source_ip: str) -> bool:
        family_id = None
        org_id = actor = ""
        if access is not None and access.kind == "jwt":
            family_id, org_id, actor = access.credential_id, access.org_id, access.username
        elif refresh_token:
            try:
                claims = jwt_tokens.verify_refresh(refresh_token)
            except Unauthorized:
                return False
            family_id, org_id, actor = claims.family_id, claims.org_id, claims.user_id
        if not family_id:
            return False
        revoke_family(self.table, family_id, reason="logout")
        audit.record(self.table, org_id=org_id, action="auth.logout", actor=actor, source_ip=source_ip)
        return True

    # --- bearer authentication (the authorizer) --------------------------
    def authenticate(self, token: str) -> Principal:
        if not token:
            raise Unauthorized("unauthorized: missing bearer token", code="missing_token")
        if looks_like_api_token(token):
            return ApiTokens(self.table).authenticate(token)
        claims = jwt_tokens.verify_access(token)
        family = self.table.get(*keys.refresh_family(claims.family_id), consistent=False)
        if not family or family.get("revoked"):
            raise Unauthorized("unauthorized: token revoked", code="token_revoked")
        return Principal(
            org_id=claims.org_id,
            user_id=claims.user_id,
            role=claims.role,
            kind="jwt",
            credential_id=claims.family_id,
            username=claims.username,
        )
