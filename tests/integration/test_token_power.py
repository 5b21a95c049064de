"""An API token never has more power than its user has now, and managing tokens takes the
role that creating them takes.

A token's role is capped by its user's current role on every request (demotion caps it at
once, promotion back restores it up to the token's own role); a disabled user's tokens are
refused; a deleted user's tokens are revoked. Viewer and ingest credentials can neither
list nor revoke tokens, and no credential sees or revokes a token stronger than itself.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_user

T0_US = 1_700_000_000_000_000


def _token(client: httpx.Client, by: Session | str, role: str) -> tuple[str, str]:
    headers = by.headers if isinstance(by, Session) else bearer(by)
    response = client.post("/api/v1/tokens", json={"name": f"{role}-token", "role": role}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["token"]), str(response.json()["id"])


def _set(client: httpx.Client, admin: Session, user: Session, **change: object) -> None:
    response = client.patch(f"/api/v1/users/{user.user_id}", json=change, headers=admin.headers)
    assert response.status_code == 200, response.text


def _editor_powers(client: httpx.Client, token: str) -> dict[str, int]:
    """Status codes of things an editor may do and a viewer may not (and one both may)."""
    headers = bearer(token)
    stream = "tp_" + token.split("_")[1]
    return {
        "ingest": client.post(
            f"/api/v1/ingest/{stream}", json=[{"a": 1, "_timestamp": T0_US}], headers=headers
        ).status_code,
        "create_token": client.post(
            "/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=headers
        ).status_code,
        "patch_stream": client.patch(
            "/api/v1/streams/otel_logs", json={"retention_days": 7}, headers=headers
        ).status_code,
        "query": client.post("/v1/api/sql", json={"sql": "SELECT 1 AS one"}, headers=headers).status_code,
    }


def test_a_demoted_users_token_is_capped_at_once_and_restored_on_promotion(
    client: httpx.Client, admin: Session
) -> None:
    # Given an editor with an editor token
    editor = create_user(client, admin, "editor")
    token, _ = _token(client, editor, "editor")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["role"] == "editor"
    # When the editor is demoted to viewer
    _set(client, admin, editor, role="viewer")
    # Then the token acts as a viewer from the next request on
    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["role"] == "viewer" and me.json()["user"]["role"] == "viewer"
    powers = _editor_powers(client, token)
    assert powers["ingest"] == 403 and powers["create_token"] == 403 and powers["patch_stream"] == 403
    assert powers["query"] == 200
    # And the user's login session is gone too (as before)
    assert_core_error(client.get("/api/v1/auth/me", headers=editor.headers), 401, "token_revoked")
    # When the user is made an editor again, the token is back to its own role, never above it
    _set(client, admin, editor, role="admin")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["role"] == "editor"
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 403


def test_a_demoted_admins_admin_token_keeps_only_the_new_role(client: httpx.Client, admin: Session) -> None:
    other_admin = create_user(client, admin, "admin")
    token, _ = _token(client, other_admin, "admin")
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    _set(client, admin, other_admin, role="editor")
    assert_core_error(client.get("/api/v1/users", headers=bearer(token)), 403, "forbidden")
    refused = client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=bearer(token))
    assert_core_error(refused, 403)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["role"] == "editor"


def test_a_token_whose_role_its_user_no_longer_covers_is_refused(client: httpx.Client, admin: Session) -> None:
    # Given an editor's ingest token, when the editor becomes a viewer (who may not ingest)
    editor = create_user(client, admin, "editor")
    token, _ = _token(client, editor, "ingest")
    _set(client, admin, editor, role="viewer")
    # Then the token has no power left: refused, not silently turned into a reader
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer(token)), 401, "token_role_exceeds_user")
    refused = client.post("/api/v1/ingest/tp_cover", json=[{"a": 1}], headers=bearer(token))
    assert_core_error(refused, 401, "token_role_exceeds_user")


def test_a_disabled_users_tokens_are_refused_until_enabled_again(client: httpx.Client, admin: Session) -> None:
    editor = create_user(client, admin, "editor")
    token, _ = _token(client, editor, "editor")
    mtk = client.post("/api/v1/tokens", json={"name": "m", "role": "ingest", "kind": "mtk"}, headers=editor.headers)
    assert mtk.status_code == 201, mtk.text
    _set(client, admin, editor, disabled=True)
    for credential in (token, mtk.json()["token"]):
        assert_core_error(client.get("/api/v1/auth/me", headers=bearer(credential)), 401, "user_disabled")
        refused = client.post("/api/v1/ingest/tp_disabled", json=[{"a": 1}], headers=bearer(credential))
        assert_core_error(refused, 401, "user_disabled")
    refused = client.post("/v1/api/sql", json={"sql": "SELECT 1"}, headers=bearer(token))
    assert refused.status_code == 401 and "disabled" in refused.json()["error"]["message"]
    _set(client, admin, editor, disabled=False)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["role"] == "editor"


def test_a_deleted_users_tokens_are_revoked(client: httpx.Client, admin: Session) -> None:
    editor = create_user(client, admin, "editor")
    token, token_id = _token(client, editor, "editor")
    assert client.delete(f"/api/v1/users/{editor.user_id}", headers=admin.headers).status_code == 200
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer(token)), 401, "token_revoked")
    assert_core_error(client.post("/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=bearer(token)), 401)
    shown = client.get(f"/api/v1/tokens/{token_id}", headers=admin.headers)
    assert shown.status_code == 200 and shown.json()["revoked"] is True


def test_tokens_made_before_owner_tracking_follow_their_user_too(client: httpx.Client, admin: Session) -> None:
    """A token item written before tokens carried their user's state (no ``owner_*`` fields)
    is checked against the user item, then adopted, and from then on follows the user."""
    from molesignal.storage import keys
    from molesignal.storage.table import Table

    editor = create_user(client, admin, "editor")
    token, token_id = _token(client, editor, "editor")
    table = Table()
    pk, sk = keys.api_token(token_id)
    table.update(pk, sk, "REMOVE owner_role, owner_active, owner_version")
    table.delete(*keys.user_token(editor.org_id, editor.user_id, token_id))
    # the user is demoted while the token knows nothing of them
    _set(client, admin, editor, role="viewer")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["role"] == "viewer"
    adopted = table.get(pk, sk)
    assert adopted is not None and adopted["owner_role"] == "viewer" and adopted["owner_active"] is True
    # and having been adopted, it follows the next change like any other token
    _set(client, admin, editor, disabled=True)
    assert_core_error(client.get("/api/v1/auth/me", headers=bearer(token)), 401, "user_disabled")


@pytest.mark.parametrize("role", ["viewer", "ingest"])
def test_low_privilege_tokens_cannot_list_or_revoke_tokens(client: httpx.Client, admin: Session, role: str) -> None:
    # Given an admin's admin token and one of their low-privilege tokens
    admin_token, admin_token_id = _token(client, admin, "admin")
    weak, weak_id = _token(client, admin, role)
    headers = bearer(weak)
    # Then the weak token can neither list, read nor revoke tokens (its own included)
    assert_core_error(client.get("/api/v1/tokens", headers=headers), 403, "forbidden")
    assert_core_error(client.get(f"/api/v1/tokens/{admin_token_id}", headers=headers), 403, "forbidden")
    assert_core_error(client.delete(f"/api/v1/tokens/{admin_token_id}", headers=headers), 403, "forbidden")
    assert_core_error(client.delete(f"/api/v1/tokens/{weak_id}", headers=headers), 403, "forbidden")
    # And the admin token still works
    assert client.get("/api/v1/users", headers=bearer(admin_token)).status_code == 200
    # Nor can a viewer user manage tokens with their own login
    viewer = create_user(client, admin, "viewer")
    assert_core_error(client.get("/api/v1/tokens", headers=viewer.headers), 403, "forbidden")


def test_a_credential_sees_and_revokes_no_token_stronger_than_itself(client: httpx.Client, admin: Session) -> None:
    # Given an admin's admin token and editor token
    admin_token, admin_token_id = _token(client, admin, "admin")
    editor_token, editor_token_id = _token(client, admin, "editor")
    viewer_token_id = _token(client, admin, "viewer")[1]
    # Then the editor token lists its user's tokens up to editor, and cannot touch the admin one
    listed = client.get("/api/v1/tokens", headers=bearer(editor_token))
    assert listed.status_code == 200, listed.text
    ids = {t["id"] for t in listed.json()["tokens"]}
    assert {editor_token_id, viewer_token_id} <= ids and admin_token_id not in ids
    assert_core_error(client.get(f"/api/v1/tokens/{admin_token_id}", headers=bearer(editor_token)), 404)
    assert_core_error(client.delete(f"/api/v1/tokens/{admin_token_id}", headers=bearer(editor_token)), 404)
    assert client.get("/api/v1/users", headers=bearer(admin_token)).status_code == 200
    # It may revoke a weaker one; and the admin, with their login, revokes any
    assert client.delete(f"/api/v1/tokens/{viewer_token_id}", headers=bearer(editor_token)).status_code == 200
    assert client.delete(f"/api/v1/tokens/{admin_token_id}", headers=admin.headers).status_code == 200
    assert_core_error(client.get("/api/v1/users", headers=bearer(admin_token)), 401, "token_revoked")


def test_an_editor_still_manages_their_own_tokens(client: httpx.Client, admin: Session) -> None:
    editor = create_user(client, admin, "editor")
    token = create_api_token(client, editor, role="ingest")
    token_id = token.split("_")[1]
    assert token_id in {t["id"] for t in client.get("/api/v1/tokens", headers=editor.headers).json()["tokens"]}
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=editor.headers).status_code == 200
    assert_core_error(client.post("/api/v1/ingest/tp_own", json=[{"a": 1}], headers=bearer(token)), 401)


def test_a_stamp_from_an_older_user_change_never_overwrites_a_newer_one(client: httpx.Client, admin: Session) -> None:
    """Two admins changing one user at once: each change stamps the tokens with the user's
    ``power_version``, and a late stamp of an earlier change is ignored."""
    from molesignal.auth.api_tokens import ApiTokens
    from molesignal.auth.principal import Role
    from molesignal.storage import keys
    from molesignal.storage.table import Table

    editor = create_user(client, admin, "editor")
    token, token_id = _token(client, editor, "editor")
    _set(client, admin, editor, role="viewer")  # power_version 1
    tokens = ApiTokens(Table())
    assert tokens.follow_user(editor.org_id, editor.user_id, role=Role.EDITOR, active=True, version=0) == 0
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["role"] == "viewer"
    stamp = Table().get(*keys.api_token(token_id))
    assert stamp is not None and (stamp["owner_role"], stamp["owner_version"]) == ("viewer", 1)
