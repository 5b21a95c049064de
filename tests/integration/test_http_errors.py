"""Malformed requests get their status and their family's envelope — never a 500."""

from __future__ import annotations

import httpx

from tests.support.api import Session, assert_core_error, assert_sql_error


def test_unknown_routes_are_404_in_each_family(client: httpx.Client) -> None:
    assert_core_error(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_core_error(client.get("/totally/unknown"), 404, "not_found")
    assert_sql_error(client.get("/v1/api/no-such-thing"), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.delete("/api/v1/auth/login")
    assert_core_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    response = client.put("/v1/api/auth/me")
    assert_sql_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET"


def test_malformed_json_is_400(client: httpx.Client) -> None:
    body = b'{"user": "admin", "password": '  # truncated JSON
    headers = {"content-type": "application/json"}
    assert_core_error(client.post("/api/v1/auth/login", content=body, headers=headers), 400, "malformed_json")
    assert_sql_error(client.post("/v1/api/auth/login", content=body, headers=headers), 400, "INVALID_REQUEST")


def test_wrong_content_type_is_415(client: httpx.Client) -> None:
    form = "user=admin&password=secret123"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert_core_error(client.post("/api/v1/auth/login", content=form, headers=headers), 415, "unsupported_media_type")
    assert_sql_error(client.post("/v1/api/auth/login", content=form, headers=headers), 415, "UNSUPPORTED_MEDIA_TYPE")
    binary = {"content-type": "application/octet-stream"}
    assert_core_error(client.post("/api/v1/auth/login", content=b"\x00\xff\x10", headers=binary), 415)


def test_empty_body_and_wrong_json_types_are_400(client: httpx.Client, admin: Session) -> None:
    empty = client.post("/api/v1/auth/login", headers={"content-type": "application/json"})
    assert assert_core_error(empty, 400, "invalid_argument")["error"] == "invalid argument: request body is required"
    assert_core_error(client.post("/api/v1/auth/login", json=["admin", "pw"]), 400, "invalid_argument")
    assert_core_error(client.post("/api/v1/auth/login", json={"user": 1, "password": None}), 400, "invalid_argument")
    assert_core_error(client.post("/api/v1/users", json="just a string", headers=admin.headers), 400)


def test_oversized_body_is_413(client: httpx.Client, admin: Session) -> None:
    from molesignal.settings import get_settings

    too_big = b'{"user": "' + b"a" * (get_settings().max_body_bytes + 1) + b'"}'
    response = client.post(
        "/api/v1/users", content=too_big, headers={**admin.headers, "content-type": "application/json"}
    )
    assert_core_error(response, 413, "payload_too_large")
    assert_sql_error(
        client.post("/v1/api/auth/login", content=too_big, headers={"content-type": "application/json"}),
        413,
        "PAYLOAD_TOO_LARGE",
    )


def test_bodies_beyond_api_gateway_limit_are_refused_at_the_gateway(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/auth/login", content=b"x" * (10 * 1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_bodies_beyond_lambdas_invocation_limit_once_escaped_are_refused_at_the_gateway(client: httpx.Client) -> None:
    """Bad input: 1.1 MB of control bytes, within API Gateway's 10 MB but 6.6 MB as the event's
    JSON (each escaped as \\u0001), over Lambda's 6 MB; the same count of letters reaches the function."""
    headers = {"content-type": "text/plain"}
    refused = client.post("/api/v1/auth/login", content=b"\x01" * 1_100_000, headers=headers)
    assert refused.status_code == 413
    assert refused.json() == {"message": "Request Entity Too Large"}
    passed = client.post("/api/v1/auth/login", content=b"a" * 1_100_000, headers=headers)
    assert passed.status_code != 413
    assert "error" in passed.json()  # the function's own envelope answered


def test_bad_path_and_query_parameters_are_400_or_404(client: httpx.Client, admin: Session) -> None:
    assert_core_error(client.get("/api/v1/audit?limit=abc", headers=admin.headers), 400, "invalid_argument")
    assert_core_error(client.get("/api/v1/users/%00%ff", headers=admin.headers), 404)
    assert_core_error(client.get("/api/v1/orgs/..%2F..%2Fetc", headers=admin.headers), 404)
