"""Exports (spec 001) over real HTTP: jobs run by the export worker, 302 to a presigned link
that is followed and compared with the events, 409 before completion, 410 after expiry (an
injected clock), SQL exports of any stream, and refused requests in the events envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from molesignal.exports import jobs
from molesignal.exports.formats import read_events
from tests.support.api import Session
from tests.support.events import drain_events, drain_exports, event, org_admin
from tests.support.lake import drain_ingest


@pytest.fixture(scope="module")
def org(base_url: str) -> Session:
    """An org with 12 chained events (shared, read-only)."""
    from tests.support.api import ROOT_PASSWORD, ensure_setup, login

    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        admin = org_admin(client, login(client, "root", ROOT_PASSWORD))
        batch = [event(f"file.{'read' if i % 3 else 'write'}", metadata={"n": i, "ratio": i / 7}) for i in range(12)]
        assert client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers).status_code == 202
    drain_events()
    return admin


def listed(client: httpx.Client, admin: Session, **params: Any) -> list[dict[str, Any]]:
    body = client.get("/api/v1/events", params={"order": "asc", "limit": 100, **params}, headers=admin.headers).json()
    return list(body["data"])


def export(client: httpx.Client, admin: Session, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/exports", json=body, headers=admin.headers)
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] == "pending"
    return dict(created)


def download(client: httpx.Client, admin: Session, export_id: str) -> bytes:
    response = client.get(f"/api/v1/exports/{export_id}/download", headers=admin.headers)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = parse_qs(urlparse(location).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(signed_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert 0 < int(query["X-Amz-Expires"][0]) <= jobs.LINK_TTL_S
    file = httpx.get(location, timeout=30)
    assert file.status_code == 200
    return file.content


@pytest.mark.parametrize(("fmt", "gzipped"), [("ndjson", False), ("ndjson", True), ("csv", True), ("parquet", False)])
def test_events_export_download_equals_the_events(client: httpx.Client, org: Session, fmt: str, gzipped: bool) -> None:
    created = export(client, org, {"format": fmt, "gzip": gzipped, "events": {}})
    drain_exports()
    shown = client.get(f"/api/v1/exports/{created['id']}", headers=org.headers).json()
    assert shown["status"] == "completed" and shown["rows"] == 12 and shown["bytes"] > 0
    data = download(client, org, created["id"])
    assert (data[:2] == b"\x1f\x8b") is gzipped
    assert read_events(data, fmt) == listed(client, org)


def test_a_json_client_gets_the_link_in_the_body(client: httpx.Client, org: Session) -> None:
    # The console's case: a browser app cannot read a cross-origin redirect's Location.
    created = export(client, org, {"format": "ndjson", "events": {}})
    drain_exports()
    headers = {**org.headers, "Accept": "application/json"}
    response = client.get(f"/api/v1/exports/{created['id']}/download", headers=headers)
    assert response.status_code == 200, response.text
    link = response.json()["url"]
    assert 0 < int(parse_qs(urlparse(link).query)["X-Amz-Expires"][0]) <= jobs.LINK_TTL_S
    assert read_events(httpx.get(link, timeout=30).content, "ndjson") == listed(client, org)
    # A browser navigation (HTML first) keeps the redirect.
    html = {**org.headers, "Accept": "text/html,application/json;q=0.9"}
    assert client.get(f"/api/v1/exports/{created['id']}/download", headers=html).status_code == 302


def test_filtered_events_export(client: httpx.Client, org: Session) -> None:
    created = export(client, org, {"format": "ndjson", "events": {"actions": ["file.write"]}})
    drain_exports()
    assert read_events(download(client, org, created["id"]), "ndjson") == listed(client, org, action="file.write")


def test_sql_export_of_any_stream(client: httpx.Client, org: Session) -> None:
    response = client.post(
        "/api/v1/ingest/app_logs", json=[{"level": "info", "n": i} for i in range(5)], headers=org.headers
    )
    assert response.status_code == 202
    drain_ingest()
    sql = {"query": "SELECT level, n FROM app_logs WHERE n >= 2 ORDER BY n"}
    created = export(client, org, {"format": "csv", "sql": sql})
    drain_exports()
    assert download(client, org, created["id"]).decode().splitlines() == [
        '"level","n"',
        '"info",2',
        '"info",3',
        '"info",4',
    ]


def test_download_is_409_until_completed_and_410_after_expiry(
    client: httpx.Client, org: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = export(client, org, {"format": "ndjson", "events": {}, "retention_hours": 2})
    response = client.get(f"/api/v1/exports/{created['id']}/download", headers=org.headers)
    assert response.status_code == 409 and response.json()["error"] == "export_not_ready"
    drain_exports()
    assert client.get(f"/api/v1/exports/{created['id']}/download", headers=org.headers).status_code == 302
    # The injected clock: two hours later the export has expired.
    real_now = jobs.now_us
    monkeypatch.setattr(jobs, "now_us", lambda: real_now() + 2 * 3600 * 1_000_000 + 1)
    response = client.get(f"/api/v1/exports/{created['id']}/download", headers=org.headers)
    assert response.status_code == 410 and response.json()["error"] == "export_expired"
    # Just before expiry the link's lifetime is cut to what is left, never past it.
    monkeypatch.setattr(jobs, "now_us", lambda: real_now() + 2 * 3600 * 1_000_000 - 30 * 1_000_000)
    location = client.get(f"/api/v1/exports/{created['id']}/download", headers=org.headers).headers["location"]
    assert int(parse_qs(urlparse(location).query)["X-Amz-Expires"][0]) <= 30


def test_exports_list_in_the_spec_shape(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    made = [export(client, admin, {"format": "ndjson", "events": {}})["id"] for _ in range(3)]
    first = client.get("/api/v1/exports", params={"limit": 2}, headers=admin.headers).json()
    assert first["total"] == 3 and first["has_more"] is True
    second = client.get(
        "/api/v1/exports", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers
    ).json()
    assert second["has_more"] is False and "next_cursor" not in second
    assert [e["id"] for e in first["data"] + second["data"]] == list(reversed(made))
    drain_exports()


@pytest.mark.parametrize(
    ("what", "body", "status"),
    [
        ("neither events nor sql", {"format": "csv"}, 422),
        ("both events and sql", {"events": {}, "sql": {"query": "SELECT 1"}}, 422),
        ("gzip on parquet", {"format": "parquet", "gzip": True, "events": {}}, 422),
        ("an unknown format", {"format": "xlsx", "events": {}}, 422),
        ("a retention past the limit", {"events": {}, "retention_hours": 100_000}, 422),
        ("SQL that writes", {"sql": {"query": "DROP TABLE app_logs"}}, 400),
        ("an unknown field", {"events": {"colour": "red"}}, 422),
    ],
)
def test_refused_exports(client: httpx.Client, org: Session, what: str, body: dict[str, Any], status: int) -> None:
    response = client.post("/api/v1/exports", json=body, headers=org.headers)
    assert response.status_code == status, (what, response.text)
    assert set(response.json()) >= {"error", "message"}


def test_another_orgs_export_is_not_found(client: httpx.Client, root: Session, org: Session) -> None:
    created = export(client, org, {"format": "ndjson", "events": {}})
    stranger = org_admin(client, root)
    for path in (f"/api/v1/exports/{created['id']}", f"/api/v1/exports/{created['id']}/download"):
        response = client.get(path, headers=stranger.headers)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    drain_exports()
