"""Helpers for talking to MoleSignal over HTTP in tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

ADMIN_USER = "admin"
ADMIN_PASSWORD = "AdminPass123!"
ROOT_PASSWORD = "RootPass123!"
USER_PASSWORD = "UserPass123!"


@dataclass
class Session:
    user: str
    password: str
    access_token: str
    refresh_token: str
    user_id: str
    org_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: httpx.Client, user: str, password: str) -> Session:
    response = client.post("/api/v1/auth/login", json={"user": user, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return Session(
        user, password, body["access_token"], body["refresh_token"], body["user"]["id"], body["user"]["org_id"]
    )


def ensure_setup(client: httpx.Client) -> None:
    if client.get("/api/v1/auth/status").json()["needs_setup"]:
        response = client.post(
            "/api/v1/auth/setup", json={"user": ADMIN_USER, "password": ADMIN_PASSWORD, "root_password": ROOT_PASSWORD}
        )
        assert response.status_code == 201, response.text


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_org(client: httpx.Client, root_session: Session) -> str:
    org_id = unique("org")
    response = client.post("/api/v1/orgs", json={"id": org_id, "name": org_id}, headers=root_session.headers)
    assert response.status_code == 201, response.text
    return org_id


def create_user(client: httpx.Client, by: Session, role: str, *, org_id: str | None = None) -> Session:
    name = unique(role)
    body: dict[str, object] = {"user": name, "password": USER_PASSWORD, "role": role}
    if org_id:
        body["org_id"] = org_id
    response = client.post("/api/v1/users", json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    return login(client, name, USER_PASSWORD)


def create_api_token(client: httpx.Client, by: Session, role: str = "viewer") -> str:
    response = client.post("/api/v1/tokens", json={"name": unique("tok"), "role": role}, headers=by.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def assert_core_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    """The spec-000 envelope: {"error": "...", "code": "..."}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


def assert_sql_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """The spec-004 envelope: {"status": "error", "results": [], "took": n, "error": {code, message, details}}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["results"] == []
    assert isinstance(body["took"], int | float)
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert "details" in body["error"]
    return dict(body)


def run_sql(
    client: httpx.Client,
    who: Session | dict[str, str],
    sql: str,
    params: list[object] | None = None,
    namespace: str | None = None,
) -> httpx.Response:
    """``POST /v1/api/sql`` (spec 004) as JSON."""
    body: dict[str, object] = {"sql": sql}
    if params is not None:
        body["params"] = params
    if namespace is not None:
        body["namespace_id"] = namespace
    headers = who.headers if isinstance(who, Session) else who
    return client.post("/v1/api/sql", json=body, headers=headers)


def sql_ok(
    client: httpx.Client,
    who: Session | dict[str, str],
    sql: str,
    params: list[object] | None = None,
    namespace: str | None = None,
) -> list[dict[str, object]]:
    """The ``results`` of a statement batch that must succeed."""
    response = run_sql(client, who, sql, params, namespace)
    assert response.status_code == 200, f"{sql}: {response.text}"
    body = response.json()
    assert body["status"] == "success", body
    return list(body["results"])


def rows_of(result: dict[str, object]) -> list[dict[str, object]]:
    names = [str(f["name"]) for f in result["schema"]]  # type: ignore[attr-defined, index]
    return [dict(zip(names, row, strict=True)) for row in result["rows"]]  # type: ignore[attr-defined]
