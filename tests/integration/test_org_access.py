"""IP allowlists and plan rate limits over real HTTP.

The local gateway, like API Gateway, puts the TCP peer's address in the request context; the
tests' client is 127.0.0.1, so an allowlist without it stands for "a non-listed address"."""

from __future__ import annotations

import time

import httpx

from tests.support.api import Session, bearer, create_api_token
from tests.support.events import event, org_admin


def allowlist(client: httpx.Client, by: Session, org_id: str, cidrs: list[str], **extra: object) -> httpx.Response:
    return client.put(f"/api/v1/orgs/{org_id}/ip-allowlist", json={"cidrs": cidrs, **extra}, headers=by.headers)


def test_a_non_listed_address_gets_403_on_every_route_family(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    token = create_api_token(client, admin, "editor")
    response = allowlist(client, admin, admin.org_id, ["10.0.0.0/8", "2001:db8::/32"])
    assert response.status_code == 409 and response.json()["code"] == "would_lock_out", "lock-out protection"
    response = allowlist(client, admin, admin.org_id, ["10.0.0.0/8", "2001:db8::/32"], force=True)
    assert response.status_code == 200 and response.json()["cidrs"] == ["10.0.0.0/8", "2001:db8::/32"]
    spoofed = {**bearer(token), "X-Forwarded-For": "10.1.2.3"}  # a client header never counts
    checks = [
        ("GET", "/api/v1/auth/me", None, "code"),  # core: {"error", "code"}
        ("GET", "/api/v1/events", None, "error"),  # events: {"error": code, "message"}
        ("POST", "/api/v1/ingest/app", [{"a": 1}], "code"),
        ("POST", "/v1/api/sql", {"sql": "SELECT 1"}, None),  # spec 004: {"status": "error", "error": {...}}
    ]
    for method, path, body, code_field in checks:
        for headers in (admin.headers, spoofed):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (path, response.text)
            found = response.json()
            if code_field == "code":
                assert found["code"] == "ip_not_allowed", found
            elif code_field == "error":
                assert found["error"] == "ip_not_allowed", found
            else:
                # Spec 004 speaks its own codes: PERMISSION_DENIED, with the reason in the message.
                assert found["error"]["code"] == "PERMISSION_DENIED" and "allowlist" in found["error"]["message"]
    # Root is never locked out, and can lift the list.
    assert client.get(f"/api/v1/orgs/{admin.org_id}/ip-allowlist", headers=root.headers).status_code == 200
    assert allowlist(client, root, admin.org_id, []).json()["cidrs"] == []
    assert client.get("/api/v1/auth/me", headers=admin.headers).status_code == 200


def test_login_and_refresh_from_a_non_listed_address_issue_no_tokens(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    assert allowlist(client, admin, admin.org_id, ["192.0.2.0/24"], force=True).status_code == 200
    credentials = {"user": admin.user, "password": admin.password}
    login = client.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 403 and login.json()["code"] == "ip_not_allowed", login.text
    assert "access_token" not in login.text
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token})
    assert refresh.status_code == 403 and refresh.json()["code"] == "ip_not_allowed", refresh.text
    # A wrong password is still just wrong: the allowlist tells nothing to who lacks it.
    wrong = client.post("/api/v1/auth/login", json={**credentials, "password": "not-the-password-1"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    # Root logs in from anywhere; once the list is lifted, so does the admin, with the same refresh token.
    assert allowlist(client, root, admin.org_id, []).status_code == 200
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": admin.refresh_token}).status_code == 200
    assert client.post("/api/v1/auth/login", json=credentials).status_code == 200


def test_a_listed_address_passes_and_bad_cidrs_are_refused(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    assert allowlist(client, admin, admin.org_id, ["127.0.0.0/8"]).status_code == 200
    assert client.get("/api/v1/events", headers=admin.headers).status_code == 200
    response = allowlist(client, admin, admin.org_id, ["10.0.0.300/8"])
    assert response.status_code == 400 and "CIDR" in response.json()["error"]
    stranger = org_admin(client, root)
    assert client.get(f"/api/v1/orgs/{admin.org_id}/ip-allowlist", headers=stranger.headers).status_code == 404


def _away_from_a_minute_boundary() -> None:
    # Windows are whole minutes; start early in one so the requests below share it.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def test_plan_limits_answer_429_with_retry_after_and_ratelimit_headers(client: httpx.Client, root: Session) -> None:
    free = org_admin(client, root, plan={"plan": "free"})
    shown = client.get(f"/api/v1/orgs/{free.org_id}/plan", headers=free.headers).json()
    assert shown == {"plan": "free", "requests_per_minute": 60}
    response = client.get("/api/v1/events", headers=free.headers)
    assert response.headers["x-ratelimit-limit"] == "60"
    small = org_admin(client, root, plan={"plan": "enterprise", "requests_per_minute": 5})
    _away_from_a_minute_boundary()
    remaining = []
    for _ in range(5):
        response = client.post("/api/v1/events", json=event(), headers=small.headers)
        assert response.status_code == 202, response.text
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    refused = client.get("/api/v1/events", headers=small.headers)
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    exports = client.post("/api/v1/exports", json={"events": {}}, headers=small.headers)
    assert exports.status_code == 429, "the whole family shares the allowance"
    # Other families keep their own quotas; an org admin cannot raise the plan.
    assert client.get("/api/v1/auth/me", headers=small.headers).status_code == 200
    response = client.put(f"/api/v1/orgs/{small.org_id}/plan", json={"plan": "pro"}, headers=small.headers)
    assert response.status_code == 403
