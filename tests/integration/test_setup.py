"""First-run setup, as spec 000 (409 afterwards) and spec 004 (status, aliases) describe it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.api import assert_core_error, assert_sql_error


@pytest.mark.usefixtures("fresh_install")
def test_setup_creates_admin_and_root_once_then_conflicts(client: httpx.Client) -> None:
    # Given a fresh install
    status = client.get("/api/v1/auth/status")
    assert status.status_code == 200
    assert status.json()["needs_setup"] is True
    assert client.get("/v1/api/auth/status").json()["needs_setup"] is True

    # When the first admin is set up (spec 004 body: user, password, root_password, email)
    response = client.post(
        "/v1/api/auth/setup",
        json={"user": "alice", "password": "AdminPass123!", "root_password": "RootPass123!", "email": "a@example.com"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["user"]["user"] == "alice"
    assert body["user"]["role"] == "admin"
    assert body["user"]["email"] == "a@example.com"
    assert body["root"]["role"] == "root"
    assert "password" not in response.text.lower().replace("root_password", "")

    # Then setup is done, both admin and root can log in, and a second setup is a conflict
    assert client.get("/api/v1/auth/status").json()["needs_setup"] is False
    assert client.post("/api/v1/auth/login", json={"user": "alice", "password": "AdminPass123!"}).status_code == 200
    assert client.post("/api/v1/auth/login", json={"user": "root", "password": "RootPass123!"}).status_code == 200
    again = {"user": "mallory", "password": "Mallory123!"}
    assert_core_error(client.post("/api/v1/auth/setup", json=again), 409, "already_set_up")
    assert_sql_error(client.post("/v1/api/auth/setup", json=again), 409, "CONFLICT")
    assert client.post("/api/v1/auth/login", json=again).status_code == 401


@pytest.mark.usefixtures("fresh_install")
def test_setup_without_root_password_creates_no_root(client: httpx.Client) -> None:
    response = client.post("/api/v1/auth/setup", json={"user": "bob", "password": "AdminPass123!"})
    assert response.status_code == 201, response.text
    assert response.json()["root"] is None
    assert client.post("/api/v1/auth/login", json={"user": "root", "password": "anything1"}).status_code == 401


@pytest.mark.usefixtures("fresh_install")
@pytest.mark.parametrize(
    ("what", "body", "status"),
    [
        ("password shorter than 8", {"user": "carol", "password": "short"}, 400),
        ("root password shorter than 8", {"user": "carol", "password": "LongEnough1", "root_password": "x"}, 400),
        ("missing user", {"password": "LongEnough1"}, 400),
        ("reserved name root", {"user": "root", "password": "LongEnough1"}, 400),
        ("user name with spaces", {"user": "a b", "password": "LongEnough1"}, 400),
        ("unknown field", {"user": "carol", "password": "LongEnough1", "admin": True}, 400),
    ],
)
def test_setup_rejects_bad_input_and_stays_open(
    client: httpx.Client, what: str, body: dict[str, object], status: int
) -> None:
    assert_core_error(client.post("/api/v1/auth/setup", json=body), status)
    # a refused setup must not consume the one-time bootstrap
    assert client.get("/api/v1/auth/status").json()["needs_setup"] is True, what


@pytest.mark.usefixtures("fresh_install")
def test_setup_refuses_remote_callers(client: httpx.Client, system: object) -> None:
    """Setup is localhost-only (spec 004) unless MOLESIGNAL_ALLOW_REMOTE_SETUP is set.

    The gateway takes the source IP from the connection; a request carrying a forged
    X-Forwarded-For still comes from loopback, so it is allowed — the check is on the
    socket, not on headers a caller controls.
    """
    gateway = system.gateway  # type: ignore[attr-defined]
    event = gateway._event(  # the event API Gateway would build for a remote caller
        {
            "method": "POST",
            "path": "/api/v1/auth/setup",
            "headers": [(b"content-type", b"application/json")],
            "client": ("203.0.113.9", 5),
        },
        b'{"user":"eve","password":"EvePass123!"}',
        next(r for r, _ in gateway.routes if r.path == "/api/v1/auth/setup"),
        {},
    )
    from molesignal.local.lambda_context import LocalLambdaContext
    from molesignal.local.loader import load_handler

    # Mangum runs the app on this thread's event loop; a test before this one in the same
    # process may have left the main thread without one (asyncio.run does).
    asyncio.set_event_loop(asyncio.new_event_loop())
    result = load_handler("auth_api.handler.lambda_handler")(event, LocalLambdaContext("auth_api"))
    assert result["statusCode"] == 403
    assert "localhost" in result["body"]
    assert client.get("/api/v1/auth/status").json()["needs_setup"] is True
