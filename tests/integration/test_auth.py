"""Login, refresh rotation with reuse detection, logout, me — in both route families."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import (
    ADMIN_PASSWORD,
    Session,
    assert_core_error,
    assert_sql_error,
    bearer,
    create_api_token,
    create_user,
    login,
    unique,
)


def test_login_returns_profile_tokens_and_cookie(client: httpx.Client, admin: Session) -> None:
    response = client.post("/v1/api/auth/login", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["user"] == "admin"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"] != body["access_token"]
    cookie = response.headers["set-cookie"]
    assert "molesignal_refresh=" in cookie
    assert "HttpOnly" in cookie


def test_me_with_jwt_and_with_api_token(client: httpx.Client, admin: Session) -> None:
    me = client.get("/api/v1/auth/me", headers=admin.headers)
    assert me.status_code == 200
    assert me.json()["user"]["id"] == admin.user_id
    assert me.json()["auth_kind"] == "jwt"
    assert client.get("/v1/api/auth/me", headers=admin.headers).json()["user"]["id"] == admin.user_id

    token = create_api_token(client, admin, role="viewer")
    via_token = client.get("/api/v1/auth/me", headers=bearer(token))
    assert via_token.status_code == 200
    assert via_token.json()["auth_kind"] == "api_token"
    assert via_token.json()["role"] == "viewer"  # the token's own role, not the owner's


def test_login_with_wrong_password_or_unknown_user_is_401(client: httpx.Client, admin: Session) -> None:
    assert_core_error(
        client.post("/api/v1/auth/login", json={"user": "admin", "password": "nope-nope"}), 401, "invalid_credentials"
    )
    assert_sql_error(
        client.post("/v1/api/auth/login", json={"user": unique("ghost"), "password": "nope-nope"}), 401, "UNAUTHORIZED"
    )


def test_login_is_throttled_after_repeated_failures(client: httpx.Client, admin: Session) -> None:
    victim = create_user(client, admin, "viewer")
    for _ in range(5):
        assert (
            client.post("/api/v1/auth/login", json={"user": victim.user, "password": "wrong-pass"}).status_code == 401
        )
    # Then even the right password is refused until the window passes
    blocked = client.post("/api/v1/auth/login", json={"user": victim.user, "password": victim.password})
    assert_core_error(blocked, 429, "login_throttled")
    assert int(blocked.headers["retry-after"]) > 0
    assert_sql_error(
        client.post("/v1/api/auth/login", json={"user": victim.user, "password": victim.password}),
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    # And other users are unaffected
    assert client.post("/api/v1/auth/login", json={"user": "admin", "password": ADMIN_PASSWORD}).status_code == 200


def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "editor")
    # When the refresh token is used once, a new pair comes back
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != user.refresh_token
    assert client.get("/api/v1/auth/me", headers=bearer(rotated["access_token"])).status_code == 200

    # When the old refresh token is presented again (a stolen copy), it is refused...
    assert_core_error(
        client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 401, "token_reused"
    )
    # ...and the whole family is revoked: the rotated refresh token and its access token die too
    assert_core_error(
        client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401, "token_revoked"
    )
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer(rotated["access_token"])), 401, "token_revoked")
    # Other sessions of the same user live on
    assert client.get("/api/v1/auth/me", headers=login(client, user.user, user.password).headers).status_code == 200


def test_refresh_accepts_bearer_and_cookie(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "viewer")
    via_bearer = client.post("/v1/api/auth/refresh", headers=bearer(user.refresh_token))
    assert via_bearer.status_code == 200, via_bearer.text
    cookie_value = via_bearer.json()["refresh_token"]
    via_cookie = client.post("/api/v1/auth/refresh", headers={"Cookie": f"molesignal_refresh={cookie_value}"})
    assert via_cookie.status_code == 200, via_cookie.text


@pytest.mark.parametrize(
    ("what", "kwargs", "code"),
    [
        ("no token at all", {}, "missing_token"),
        ("an access token where a refresh token belongs", "access", "invalid_token"),
        ("garbage", {"json": {"refresh_token": "not-a-jwt"}}, "invalid_token"),
    ],
)
def test_refresh_rejects_bad_tokens(client: httpx.Client, admin: Session, what: str, kwargs: object, code: str) -> None:
    client.cookies.clear()  # the login above left its refresh cookie in this client
    if kwargs == "access":
        kwargs = {"json": {"refresh_token": admin.access_token}}
    assert isinstance(kwargs, dict)
    assert_core_error(client.post("/api/v1/auth/refresh", **kwargs), 401, code)


def test_logout_revokes_the_session(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "viewer")
    response = client.post("/api/v1/auth/logout", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == {"logged_out": True}
    assert 'molesignal_refresh=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]
    assert_core_error(client.get("/api/v1/auth/me", headers=user.headers), 401, "token_revoked")
    assert_core_error(
        client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 401, "token_revoked"
    )


def test_logout_with_only_a_refresh_token_and_without_anything(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "viewer")
    response = client.post("/v1/api/auth/logout", json={"refresh_token": user.refresh_token})
    assert response.json() == {"logged_out": True}
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 401
    anonymous = client.post("/api/v1/auth/logout")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"logged_out": False}


def test_disabled_user_cannot_log_in(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "viewer")
    assert (
        client.patch(f"/api/v1/users/{user.user_id}", json={"disabled": True}, headers=admin.headers).status_code == 200
    )
    # Their live access token stops working at once, not when it expires
    assert_core_error(client.get("/api/v1/auth/me", headers=user.headers), 401, "token_revoked")
    assert_core_error(client.post("/api/v1/auth/login", json={"user": user.user, "password": user.password}), 401)
    assert_core_error(
        client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 401, "token_revoked"
    )
