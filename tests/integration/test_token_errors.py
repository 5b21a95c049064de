"""Every way a bearer token can be wrong gets 401 in its route family's envelope, never a 500."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest

from tests.support.api import Session, assert_core_error, assert_sql_error, bearer, create_api_token


def _key() -> bytes:
    from molesignal.auth.signing_key import signing_key

    return signing_key()


def _claims(session: Session, **overrides: object) -> dict[str, object]:
    payload = jwt.decode(session.access_token, options={"verify_signature": False})
    payload.update(overrides)
    return payload


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _bad_tokens(session: Session) -> dict[str, tuple[dict[str, str], str]]:
    now = int(time.time())
    expired = jwt.encode(_claims(session, iat=now - 3600, exp=now - 60), _key(), algorithm="HS256")
    forged = jwt.encode(_claims(session, role="root"), b"not-the-server-key-" * 3, algorithm="HS256")
    tampered_role = ".".join(
        [session.access_token.split(".")[0], _b64(_claims(session, role="root")), session.access_token.split(".")[2]]
    )
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(session, role='root'))}."
    wrong_issuer = jwt.encode(_claims(session, iss="someone-else"), _key(), algorithm="HS256")
    return {
        "missing header": ({}, "missing_token"),
        "empty bearer": ({"Authorization": "Bearer"}, "invalid_scheme"),
        "basic auth": ({"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}, "invalid_scheme"),
        "expired jwt": (bearer(expired), "token_expired"),
        "jwt signed with another key": (bearer(forged), "invalid_token"),
        "jwt with edited claims": (bearer(tampered_role), "invalid_token"),
        "alg none": (bearer(alg_none), "invalid_token"),
        "wrong issuer": (bearer(wrong_issuer), "invalid_token"),
        "refresh token used as access": (bearer(session.refresh_token), "invalid_token"),
        "random string": (bearer("hello"), "invalid_token"),
        "malformed api token": (bearer("ms_short_secret"), "invalid_token"),
        "unknown api token": (bearer("ms_abcdefghij_" + "A" * 40), "invalid_token"),
    }


@pytest.fixture
def bad_tokens(admin: Session) -> dict[str, tuple[dict[str, str], str]]:
    return _bad_tokens(admin)


def test_each_bad_token_is_401_in_the_core_envelope(
    client: httpx.Client, bad_tokens: dict[str, tuple[dict[str, str], str]]
) -> None:
    for what, (headers, code) in bad_tokens.items():
        response = client.get("/api/v1/auth/me", headers=headers)
        body = assert_core_error(response, 401, code)
        assert "www-authenticate" in response.headers, what
        assert "root" not in str(body), what


def test_each_bad_token_is_401_in_the_spec_004_envelope(
    client: httpx.Client, bad_tokens: dict[str, tuple[dict[str, str], str]]
) -> None:
    for _what, (headers, _code) in bad_tokens.items():
        assert_sql_error(client.get("/v1/api/auth/me", headers=headers), 401, "UNAUTHORIZED")


def test_bad_tokens_on_admin_routes_write_nothing(
    client: httpx.Client, admin: Session, bad_tokens: dict[str, tuple[dict[str, str], str]]
) -> None:
    for what, (headers, _code) in bad_tokens.items():
        response = client.post(
            "/api/v1/users", json={"user": "intruder", "password": "Intruder123!", "role": "admin"}, headers=headers
        )
        assert response.status_code == 401, what
    users = client.get("/api/v1/users", headers=admin.headers).json()["users"]
    assert "intruder" not in {u["user"] for u in users}


def test_revoked_api_token_is_401(client: httpx.Client, admin: Session) -> None:
    token = create_api_token(client, admin, role="viewer")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    prefix = token.split("_")[1]
    assert client.delete(f"/api/v1/tokens/{prefix}", headers=admin.headers).status_code == 200
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer(token)), 401, "token_revoked")
    assert_sql_error(client.get("/v1/api/auth/me", headers=bearer(token)), 401, "UNAUTHORIZED")


def test_api_token_with_right_prefix_and_wrong_secret_is_401(client: httpx.Client, admin: Session) -> None:
    token = create_api_token(client, admin, role="viewer")
    prefix = token.split("_")[1]
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer(f"ms_{prefix}_{'B' * 40}")), 401, "invalid_token")
