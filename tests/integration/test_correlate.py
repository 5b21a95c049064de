"""Correlation: everything sharing a trace id or a session id, across streams, time-ordered."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_org, create_user
from tests.support.lake import drain_ingest

T0 = 1_800_000_000_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def tenant(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    ingest = bearer(create_api_token(client, admin, role="ingest"))
    spans = [
        {
            "_timestamp": T0 + 10,
            "trace_id": TRACE,
            "span_id": "00f067aa0ba902b7",
            "name": "GET /cart",
            "session_id": "s-1",
        },
        {"_timestamp": T0 + 30, "trace_id": TRACE, "span_id": "00f067aa0ba902b8", "name": "db.query"},
        {"_timestamp": T0 + 20, "trace_id": "0" * 32, "span_id": "1111111111111111", "name": "other trace"},
    ]
    logs = [
        {"_timestamp": T0 + 25, "trace_id": TRACE, "body": "cart loaded", "session_id": "s-1"},
        {"_timestamp": T0 + 5, "trace_id": "f" * 32, "body": "unrelated"},
    ]
    events = [{"_timestamp": T0 + 40, "kind": "checkout", "session_id": "s-1"}]
    for stream, rows in (("spans", spans), ("logs", logs), ("events", events)):
        assert client.post(f"/api/v1/ingest/{stream}", json=rows, headers=ingest).status_code == 202
    drain_ingest()
    return {"org": org, "viewer": create_user(client, admin, "viewer")}


def test_correlate_by_trace_id_returns_spans_and_logs_in_time_order(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    response = client.get(
        "/api/v1/correlate",
        params={"trace_id": TRACE.upper(), "start": T0, "end": T0 + 1000},
        headers=tenant["viewer"].headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["trace_id"] == TRACE
    assert [(i["_stream"], i["_timestamp"]) for i in body["items"]] == [
        ("spans", T0 + 10),
        ("logs", T0 + 25),
        ("spans", T0 + 30),
    ]
    assert body["count"] == 3


def test_correlate_by_session_id_spans_every_stream_with_the_column(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    body = client.get(
        "/api/v1/correlate",
        params={"session_id": "s-1", "start": T0, "end": T0 + 1000},
        headers=tenant["viewer"].headers,
    ).json()
    assert [i["_stream"] for i in body["items"]] == ["spans", "logs", "events"]


@pytest.mark.parametrize(
    ("what", "params"),
    [
        ("neither id", {}),
        ("both ids", {"trace_id": TRACE, "session_id": "s"}),
        ("trace id not hex", {"trace_id": "z" * 32}),
        ("trace id too short", {"trace_id": "abc"}),
        ("start after end", {"trace_id": TRACE, "start": 10, "end": 5}),
    ],
)
def test_correlate_rejects_bad_arguments(
    client: httpx.Client, tenant: dict[str, Any], what: str, params: dict[str, Any]
) -> None:
    assert_core_error(client.get("/api/v1/correlate", params=params, headers=tenant["viewer"].headers), 400)


def test_correlate_stays_inside_the_org(client: httpx.Client, tenant: dict[str, Any], root: Session) -> None:
    outsider = create_user(client, root, "admin", org_id=create_org(client, root))
    body = client.get(
        "/api/v1/correlate", params={"trace_id": TRACE, "start": T0, "end": T0 + 1000}, headers=outsider.headers
    ).json()
    assert body["items"] == []
