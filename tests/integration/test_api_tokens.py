"""API tokens: secret shown once, only a hash stored, role limits, revocation, last use."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_org, create_user


def test_create_shows_the_secret_once_and_lists_without_it(client: httpx.Client, admin: Session) -> None:
    response = client.post(
        "/api/v1/tokens", json={"name": "ci-ingest", "role": "ingest", "expires_in_days": 30}, headers=admin.headers
    )
    assert response.status_code == 201
    created = response.json()
    secret = created["token"]
    assert re.fullmatch(r"ms_[a-z0-9]{10}_[A-Za-z0-9]{40}", secret)
    assert created["prefix"] == f"ms_{created['id']}_"
    assert created["expires_at"] is not None
    listing = client.get("/api/v1/tokens", headers=admin.headers)
    assert listing.status_code == 200
    assert created["id"] in {t["id"] for t in listing.json()["tokens"]}
    assert secret.split("_")[2] not in listing.text
    one = client.get(f"/api/v1/tokens/{created['id']}", headers=admin.headers)
    assert one.status_code == 200
    assert "token" not in one.json()
    assert secret.split("_")[2] not in one.text


def test_only_a_hash_of_the_secret_is_stored(client: httpx.Client, admin: Session) -> None:
    from molesignal.storage.table import Table

    secret = create_api_token(client, admin).split("_")[2]
    table = Table()
    raw = table.client.scan(TableName=table.name)["Items"]
    assert raw
    assert secret not in str(raw)


def test_last_use_is_recorded(client: httpx.Client, admin: Session) -> None:
    token = create_api_token(client, admin)
    prefix = token.split("_")[1]
    assert client.get(f"/api/v1/tokens/{prefix}", headers=admin.headers).json()["last_used_at"] is None
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    assert client.get(f"/api/v1/tokens/{prefix}", headers=admin.headers).json()["last_used_at"] is not None


@pytest.mark.parametrize(
    ("creator_role", "token_role", "status"),
    [
        ("viewer", "viewer", 403),  # viewers create no tokens
        ("editor", "admin", 403),  # no token above its creator
        ("editor", "ingest", 201),
        ("admin", "admin", 201),
        ("admin", "root", 403),
    ],
)
def test_token_roles_never_exceed_their_creator(
    client: httpx.Client, admin: Session, creator_role: str, token_role: str, status: int
) -> None:
    creator = create_user(client, admin, creator_role)
    response = client.post("/api/v1/tokens", json={"name": "t", "role": token_role}, headers=creator.headers)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("unknown role", {"name": "t", "role": "superuser"}),
        ("missing name", {"role": "viewer"}),
        ("negative lifetime", {"name": "t", "expires_in_days": -1}),
        ("name not a string", {"name": ["t"]}),
    ],
)
def test_create_token_rejects_bad_input(
    client: httpx.Client, admin: Session, what: str, body: dict[str, object]
) -> None:
    assert_core_error(client.post("/api/v1/tokens", json=body, headers=admin.headers), 400, "invalid_argument")


def test_tokens_of_other_users_and_orgs_are_not_found(client: httpx.Client, admin: Session, root: Session) -> None:
    # Given a token of another org's admin
    other_org = create_org(client, root)
    other_admin = create_user(client, root, "admin", org_id=other_org)
    other_token = create_api_token(client, other_admin).split("_")[1]
    # Then this org's admin cannot see or revoke it: 404, not 403
    assert_core_error(client.get(f"/api/v1/tokens/{other_token}", headers=admin.headers), 404, "not_found")
    assert_core_error(client.delete(f"/api/v1/tokens/{other_token}", headers=admin.headers), 404, "not_found")
    assert other_token not in client.get("/api/v1/tokens", headers=admin.headers).text
    # And an editor sees only their own tokens, not a colleague's
    editor = create_user(client, admin, "editor")
    colleague = create_api_token(client, admin).split("_")[1]
    assert_core_error(client.get(f"/api/v1/tokens/{colleague}", headers=editor.headers), 404)
    assert_core_error(client.get("/api/v1/tokens/not-a-prefix!", headers=admin.headers), 404)


def test_token_acts_with_its_own_role(client: httpx.Client, admin: Session) -> None:
    viewer_token = create_api_token(client, admin, role="viewer")
    # an admin's viewer token may not use admin routes
    assert_core_error(client.get("/api/v1/users", headers=bearer(viewer_token)), 403, "forbidden")
    admin_token = create_api_token(client, admin, role="admin")
    assert client.get("/api/v1/users", headers=bearer(admin_token)).status_code == 200


def test_mtk_org_ingest_tokens(client: httpx.Client, admin: Session) -> None:
    response = client.post(
        "/api/v1/tokens", json={"name": "otel", "role": "ingest", "kind": "mtk"}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert re.fullmatch(r"mtk_[a-z0-9]{10}_[A-Za-z0-9]{40}", token)
    assert response.json()["prefix"].startswith("mtk_")
    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["role"] == "ingest"
    # the same secret presented with the other kind's prefix is not a valid token
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer("ms_" + token[4:])), 401, "invalid_token")
    # an mtk token is an ingest token and nothing else
    refused = client.post("/api/v1/tokens", json={"name": "x", "role": "viewer", "kind": "mtk"}, headers=admin.headers)
    assert_core_error(refused, 400, "invalid_argument")
