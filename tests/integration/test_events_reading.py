"""Audit events out (spec 001) over real HTTP: filters, cursor pagination in the spec's
shape, one event by id, and cursors that cannot be forged or carried to another org."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.api import ROOT_PASSWORD, Session, bearer, create_api_token, create_user, ensure_setup, login
from tests.support.events import drain_events, event, org_admin

BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


@pytest.fixture(scope="module")
def seeded(base_url: str) -> tuple[Session, list[str]]:
    """An org with 7 events a minute apart: actions alternate, targets vary (read-only, shared)."""
    client = httpx.Client(base_url=base_url, timeout=30)
    ensure_setup(client)
    admin = org_admin(client, login(client, "root", ROOT_PASSWORD))
    batch = [
        event(
            "doc.view" if i % 2 else "doc.edit",
            occurred_at=at(i),
            actor={"id": f"user_{i % 3}", "type": "user"},
            targets=[{"id": f"doc_{i}", "type": "doc"}, {"id": "folder_1" if i < 4 else "folder_2", "type": "folder"}],
        )
        for i in range(7)
    ]
    response = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers)
    assert response.status_code == 202, response.text
    drain_events()
    return admin, response.json()["ids"]


def test_pages_cover_every_event_newest_first(client: httpx.Client, seeded: tuple[Session, list[str]]) -> None:
    admin, ids = seeded
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/events", params=params, headers=admin.headers).json()
        assert set(body) >= {"data", "has_more", "total"}
        assert body["total"] == 7
        seen += [e["id"] for e in body["data"]]
        pages += 1
        if not body["has_more"]:
            assert "next_cursor" not in body, "next_cursor appears only when has_more is true"
            break
        cursor = body["next_cursor"]
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor, "URL-safe base64"
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        assert isinstance(position["t"], int), "the cursor encodes the µs position"
    assert pages == 3
    assert seen == list(reversed(ids)), "newest occurred_at first"


def test_ascending_order_and_a_full_event(client: httpx.Client, seeded: tuple[Session, list[str]]) -> None:
    admin, ids = seeded
    body = client.get("/api/v1/events", params={"order": "asc", "limit": 100}, headers=admin.headers).json()
    assert [e["id"] for e in body["data"]] == ids
    first = body["data"][0]
    assert first["seq"] == 1 and first["occurred_at"] == "2026-11-01T12:00:00Z"
    assert first["targets"][0] == {"id": "doc_0", "type": "doc"}
    assert first["metadata"] == {"plan": "pro", "seats": 3}
    assert len(first["hash"]) == 64 and first["prev_hash"] == "0" * 64


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "doc.view"}, [1, 3, 5]),
        ({"action": ["doc.view", "doc.edit"]}, [0, 1, 2, 3, 4, 5, 6]),
        ({"actor_id": "user_2"}, [2, 5]),
        ({"target_id": "folder_2"}, [4, 5, 6]),
        ({"target_id": "doc_3"}, [3]),
        ({"target_id": "doc_"}, []),  # a whole id, not a prefix
        ({"from": at(2), "to": at(5)}, [2, 3, 4]),
        ({"from": at(5), "action": "doc.view"}, [5]),
    ],
)
def test_filters(
    client: httpx.Client, seeded: tuple[Session, list[str]], params: dict[str, object], expected: list[int]
) -> None:
    admin, ids = seeded
    body = client.get("/api/v1/events", params={**params, "order": "asc"}, headers=admin.headers).json()  # type: ignore[arg-type]
    assert [e["id"] for e in body["data"]] == [ids[i] for i in expected]
    assert body["total"] == len(expected)


def test_one_event_by_id(client: httpx.Client, seeded: tuple[Session, list[str]]) -> None:
    admin, ids = seeded
    response = client.get(f"/api/v1/events/{ids[3]}", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["seq"] == 4 and response.json()["action"] == "doc.view"
    missing = "0190d3c8-1234-7abc-8abc-0123456789ab"
    for unknown in (missing, "not-an-id"):
        response = client.get(f"/api/v1/events/{unknown}", headers=admin.headers)
        assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_another_orgs_event_is_not_found(
    client: httpx.Client, root: Session, seeded: tuple[Session, list[str]]
) -> None:
    _, ids = seeded
    stranger = org_admin(client, root)
    response = client.get(f"/api/v1/events/{ids[0]}", headers=stranger.headers)
    assert response.status_code == 404


def test_forged_and_foreign_cursors_are_400(
    client: httpx.Client, root: Session, seeded: tuple[Session, list[str]]
) -> None:
    admin, _ = seeded
    cursor = client.get("/api/v1/events", params={"limit": 2}, headers=admin.headers).json()["next_cursor"]
    for forged in ("not base64!", base64.urlsafe_b64encode(b'{"t": "x"}').decode(), "e30"):
        response = client.get("/api/v1/events", params={"cursor": forged}, headers=admin.headers)
        assert response.status_code == 400 and response.json()["error"] == "invalid_cursor", forged
    # The same listing with other filters, or another org, refuses the cursor: never another org's rows.
    response = client.get("/api/v1/events", params={"cursor": cursor, "action": "doc.view"}, headers=admin.headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_cursor"
    stranger = org_admin(client, root)
    response = client.get("/api/v1/events", params={"cursor": cursor, "limit": 2}, headers=stranger.headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_cursor"


def test_bad_parameters_are_422(client: httpx.Client, admin: Session) -> None:
    for params in ({"from": "yesterday"}, {"limit": 0}, {"limit": 101}, {"order": "sideways"}):
        response = client.get("/api/v1/events", params=params, headers=admin.headers)
        assert response.status_code == 422 and response.json()["error"] == "validation_failed", params
    response = client.get("/api/v1/events", params={"from": at(5), "to": at(1)}, headers=admin.headers)
    assert response.status_code == 422


def test_roles_and_an_org_without_events(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    viewer = create_user(client, admin, "viewer")
    body = client.get("/api/v1/events", headers=viewer.headers).json()
    assert body == {"data": [], "has_more": False, "total": 0}
    ingest = create_api_token(client, admin, "ingest")
    response = client.get("/api/v1/events", headers=bearer(ingest))
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
