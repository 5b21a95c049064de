"""Access and refresh JWTs (HS256 only: ``alg: none`` and algorithm confusion are refused)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from molesignal.auth.principal import Role
from molesignal.auth.signing_key import signing_key
from molesignal.errors import Unauthorized
from molesignal.settings import get_settings

ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    org_id: str
    role: Role
    family_id: str
    username: str


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    org_id: str
    family_id: str
    token_id: str
    expires_at: int


def new_id() -> str:
    return secrets.token_urlsafe(16)


def issue_access(claims: AccessClaims, *, now: int | None = None) -> tuple[str, int]:
    settings = get_settings()
    issued = now if now is not None else int(time.time())
    ttl = settings.access_token_ttl_s
    payload = {
        "iss": settings.jwt_issuer,
        "typ": "access",
        "sub": claims.user_id,
        "org": claims.org_id,
        "role": claims.role.value,
        "fam": claims.family_id,
        "usr": claims.username,
        "iat": issued,
        "exp": issued + ttl,
        "jti": new_id(),
    }
    return jwt.encode(payload, signing_key(), algorithm=ALGORITHM), ttl


def issue_refresh(user_id: str, org_id: str, family_id: str, token_id: str, expires_at: int) -> str:
    settings = get_settings()
    payload = {
        "iss": settings.jwt_issuer,
        "typ": "refresh",
        "sub": user_id,
        "org": org_id,
        "fam": family_id,
        "jti": token_id,
        "iat": int(time.time()),
        "exp": expires_at,
    }
    return jwt.encode(payload, signing_key(), algorithm=ALGORITHM)


def _decode(token: str, expected_type: str) -> dict[str, Any]:
    settings = get_settings()
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "sub", "typ"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("unauthorized: token expired", code="token_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("unauthorized: invalid token", code="invalid_token") from exc
    if payload.get("typ") != expected_type:
        raise Unauthorized("unauthorized: wrong token type", code="invalid_token")
    return payload


def verify_access(token: str) -> AccessClaims:
    payload = _decode(token, "access")
    try:
        return AccessClaims(
            user_id=str(payload["sub"]),
            org_id=str(payload["org"]),
            role=Role(payload["role"]),
            family_id=str(payload["fam"]),
            username=str(payload.get("usr", "")),
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("unauthorized: invalid token", code="invalid_token") from exc


def verify_refresh(token: str) -> RefreshClaims:
    payload = _decode(token, "refresh")
    try:
        return RefreshClaims(
            user_id=str(payload["sub"]),
            org_id=str(payload["org"]),
            family_id=str(payload["fam"]),
            token_id=str(payload["jti"]),
            expires_at=int(payload["exp"]),
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("unauthorized: invalid token", code="invalid_token") from exc
