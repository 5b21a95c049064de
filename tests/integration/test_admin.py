"""Orgs, users and roles, quotas and the audit log; cross-org lookups answer 404."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import ADMIN_PASSWORD, USER_PASSWORD, Session, assert_core_error, create_org, create_user, unique


def test_root_creates_orgs_and_admins_see_only_their_own(client: httpx.Client, admin: Session, root: Session) -> None:
    org = create_org(client, root)
    assert org in {o["id"] for o in client.get("/api/v1/orgs", headers=root.headers).json()["orgs"]}
    assert [o["id"] for o in client.get("/api/v1/orgs", headers=admin.headers).json()["orgs"]] == [admin.org_id]
    # another org is not found for an admin of this one
    assert_core_error(client.get(f"/api/v1/orgs/{org}", headers=admin.headers), 404, "not_found")
    assert_core_error(client.patch(f"/api/v1/orgs/{org}", json={"name": "x"}, headers=admin.headers), 404)
    assert_core_error(client.get(f"/api/v1/orgs/{org}/quotas", headers=admin.headers), 404)
    # admins cannot create orgs
    assert_core_error(client.post("/api/v1/orgs", json={"id": unique("org"), "name": "n"}, headers=admin.headers), 403)
    # an org id is unique
    assert_core_error(
        client.post("/api/v1/orgs", json={"id": org, "name": "again"}, headers=root.headers), 409, "conflict"
    )


def test_users_are_scoped_to_their_org(client: httpx.Client, admin: Session, root: Session) -> None:
    org = create_org(client, root)
    outsider = create_user(client, root, "admin", org_id=org)
    # Given a user in this org, the other org's admin cannot see, change or delete them
    member = create_user(client, admin, "viewer")
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"role": "admin"}}), ("DELETE", {})):
        response = client.request(method, f"/api/v1/users/{member.user_id}", headers=outsider.headers, **kwargs)
        assert_core_error(response, 404, "not_found")
    assert member.user_id not in client.get("/api/v1/users", headers=outsider.headers).text
    # and an admin asking for another org's user list is refused
    assert_core_error(client.get(f"/api/v1/users?org_id={admin.org_id}", headers=outsider.headers), 403)
    # the member is unchanged
    assert client.get(f"/api/v1/users/{member.user_id}", headers=admin.headers).json()["role"] == "viewer"


def test_user_lifecycle(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "viewer")
    updated = client.patch(
        f"/api/v1/users/{user.user_id}", json={"role": "editor", "email": "e@example.com"}, headers=admin.headers
    )
    assert updated.status_code == 200
    assert updated.json()["role"] == "editor"
    assert updated.json()["email"] == "e@example.com"
    # a password change takes effect
    assert (
        client.patch(
            f"/api/v1/users/{user.user_id}", json={"password": "NewPass1234"}, headers=admin.headers
        ).status_code
        == 200
    )
    assert client.post("/api/v1/auth/login", json={"user": user.user, "password": user.password}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"user": user.user, "password": "NewPass1234"}).status_code == 200
    # delete, then the name is free again and the user is gone
    assert client.delete(f"/api/v1/users/{user.user_id}", headers=admin.headers).status_code == 200
    assert_core_error(client.get(f"/api/v1/users/{user.user_id}", headers=admin.headers), 404)
    assert client.post("/api/v1/auth/login", json={"user": user.user, "password": "NewPass1234"}).status_code == 401
    # duplicate names conflict
    other = create_user(client, admin, "viewer")
    again = client.post(
        "/api/v1/users", json={"user": other.user, "password": "Another1234", "role": "viewer"}, headers=admin.headers
    )
    assert_core_error(again, 409, "conflict")
    # nobody deletes themselves
    assert_core_error(client.delete(f"/api/v1/users/{admin.user_id}", headers=admin.headers), 409)


@pytest.mark.parametrize("role", ["editor", "viewer", "ingest"])
def test_non_admins_are_forbidden_from_admin_routes(client: httpx.Client, admin: Session, role: str) -> None:
    user = create_user(client, admin, role)
    for method, path in (
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/orgs"),
        ("GET", f"/api/v1/orgs/{admin.org_id}/quotas"),
    ):
        kwargs = (
            {"json": {"user": unique("x"), "password": "Password123", "role": "viewer"}} if method == "POST" else {}
        )
        assert_core_error(client.request(method, path, headers=user.headers, **kwargs), 403, "forbidden")


def test_admins_cannot_grant_root(client: httpx.Client, admin: Session) -> None:
    response = client.post(
        "/api/v1/users", json={"user": unique("r"), "password": "Password123", "role": "root"}, headers=admin.headers
    )
    assert_core_error(response, 403)
    user = create_user(client, admin, "viewer")
    assert_core_error(client.patch(f"/api/v1/users/{user.user_id}", json={"role": "root"}, headers=admin.headers), 403)


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("unknown role", {"user": "x1", "password": "Password123", "role": "owner"}),
        ("short password", {"user": "x2", "password": "short", "role": "viewer"}),
        ("bad user name", {"user": "has space", "password": "Password123"}),
        ("missing password", {"user": "x3"}),
    ],
)
def test_create_user_rejects_bad_input(
    client: httpx.Client, admin: Session, what: str, body: dict[str, object]
) -> None:
    assert_core_error(client.post("/api/v1/users", json=body, headers=admin.headers), 400, "invalid_argument")


def test_quotas_are_read_by_admins_and_set_by_root(client: httpx.Client, admin: Session, root: Session) -> None:
    org = admin.org_id
    current = client.get(f"/api/v1/orgs/{org}/quotas", headers=admin.headers)
    assert current.status_code == 200
    assert set(current.json()) == {"ingest_qps", "query_qps", "storage_bytes", "usage"}
    new = {"ingest_qps": 7, "query_qps": 3, "storage_bytes": 10_000}
    assert_core_error(client.put(f"/api/v1/orgs/{org}/quotas", json=new, headers=admin.headers), 403)
    # The org is the session's shared setup org: its quotas go back, or the next test on this
    # worker meets a 10 kB storage cap.
    previous = {k: v for k, v in current.json().items() if k != "usage"}
    try:
        assert client.put(f"/api/v1/orgs/{org}/quotas", json=new, headers=root.headers).status_code == 200
        assert client.get(f"/api/v1/orgs/{org}/quotas", headers=admin.headers).json()["ingest_qps"] == 7
        bad = client.put(f"/api/v1/orgs/{org}/quotas", json={**new, "ingest_qps": 0}, headers=root.headers)
        assert_core_error(bad, 400, "invalid_argument")
        assert_core_error(client.put("/api/v1/orgs/no-such-org/quotas", json=new, headers=root.headers), 404)
    finally:
        assert client.put(f"/api/v1/orgs/{org}/quotas", json=previous, headers=root.headers).status_code == 200


def test_audit_log_records_admin_and_security_actions(client: httpx.Client, admin: Session) -> None:
    user = create_user(client, admin, "viewer")
    client.patch(f"/api/v1/users/{user.user_id}", json={"role": "editor"}, headers=admin.headers)
    client.post("/api/v1/auth/login", json={"user": user.user, "password": "wrong-password"})
    page = client.get("/api/v1/audit?limit=50", headers=admin.headers)
    assert page.status_code == 200
    entries = page.json()["items"]
    actions = [(e["action"], e["target"], e["outcome"]) for e in entries]
    assert ("user.create", user.user_id, "success") in actions
    assert ("user.update", user.user_id, "success") in actions
    assert any(a == "auth.login" and o == "failure" for a, _t, o in actions)
    assert [e["ts_us"] for e in entries] == sorted((e["ts_us"] for e in entries), reverse=True)
    # no password value ever reaches the audit log
    for secret in (USER_PASSWORD, ADMIN_PASSWORD, "wrong-password"):
        assert secret not in page.text


def test_audit_paginates_with_a_cursor_and_refuses_forged_ones(
    client: httpx.Client, admin: Session, root: Session
) -> None:
    for _ in range(3):
        create_user(client, admin, "viewer")
    first = client.get("/api/v1/audit?limit=2", headers=admin.headers).json()
    assert first["has_more"] is True
    second = client.get(
        "/api/v1/audit", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
    ).json()
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}
    # a cursor from another org's listing cannot be replayed here
    other = create_user(client, root, "admin", org_id=create_org(client, root))
    create_user(client, other, "viewer")
    create_user(client, other, "viewer")
    foreign = client.get("/api/v1/audit?limit=1", headers=other.headers).json()["next_cursor"]
    assert_core_error(
        client.get("/api/v1/audit", params={"cursor": foreign}, headers=admin.headers), 400, "invalid_argument"
    )
    assert_core_error(client.get("/api/v1/audit", params={"cursor": "!!!not-base64"}, headers=admin.headers), 400)
    assert_core_error(client.get("/api/v1/audit?limit=0", headers=admin.headers), 400)
