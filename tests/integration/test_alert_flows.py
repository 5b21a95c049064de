"""Alerts end to end over HTTP with real receivers: rows land, rules fire and resolve, each
group separately; silences mute; a failing receiver is retried and dead-lettered, then
redriven; notifications are signed, deduplicated and recorded in the history."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.settings import get_settings
from tests.support.alerts import (
    drain_alerts,
    evaluate,
    history,
    land_and_deliver,
    quick_retries,
    ses_sent_to,
    webhook,
)
from tests.support.api import Session, assert_core_error, create_org, create_user, unique
from tests.support.receivers import receiver

SECRET = "alert-signing-" + "s" * 20
RULES = "/api/v1/alerts/rules"


def _stream() -> str:
    return unique("app").replace("-", "_")


def _ingest(client: httpx.Client, by: Session, stream: str, rows: list[dict[str, Any]]) -> None:
    response = client.post(f"/api/v1/ingest/{stream}", json=rows, headers=by.headers)
    assert response.status_code == 202, response.text


def _rule(client: httpx.Client, by: Session, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(RULES, json={"name": unique("rule"), **body}, headers=by.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_realtime_rule_fires_once_when_rows_land_and_resolves_when_they_stop(
    client: httpx.Client, admin: Session, system: Any
) -> None:
    stream = _stream()
    address = f"{unique('oncall')}@example.com"
    with receiver(secret=SECRET) as hook:
        hook_id = webhook(client, admin, hook.url, secret=SECRET)
        mail = client.post(
            "/api/v1/alerts/destinations",
            json={"name": "mail", "type": "email", "address": address},
            headers=admin.headers,
        ).json()["id"]
        rule = _rule(
            client,
            admin,
            {
                "kind": "realtime",
                "stream": stream,
                "where": "level = 'error' AND service = 'api'",
                "destinations": [hook_id, mail],
                "severity": "critical",
                "message": "{{count}} errors from {{service}}: {{msg}}",
                "resolve_after_s": 0,
                "labels": {"team": "payments"},
            },
        )
        # Given rows where two match the predicate, when they land, then one notification.
        _ingest(
            client,
            admin,
            stream,
            [
                {"level": "error", "service": "api", "msg": "boom"},
                {"level": "error", "service": "api", "msg": "boom again"},
                {"level": "error", "service": "web", "msg": "not this one"},
                {"level": "info", "service": "api", "msg": "fine"},
            ],
        )
        land_and_deliver()
        (fired,) = hook.received
        assert fired.signature_ok is True
        body = fired.json()
        assert body["status"] == "firing" and body["value"] == 2
        assert body["rule"] == {"id": rule["id"], "name": rule["name"], "kind": "realtime"}
        assert body["labels"]["team"] == "payments" and body["severity"] == "critical"
        assert body["message"] == "2 errors from api: boom"
        assert body["sample"]["msg"] == "boom" and "org_id" in body["sample"]
        assert len(ses_sent_to(address)) == 1  # the same alert by e-mail, through SES

        detail = client.get(f"{RULES}/{rule['id']}", headers=admin.headers).json()
        assert [a["state"] for a in detail["alerts"]] == ["firing"]
        active = client.get("/api/v1/alerts/active", headers=admin.headers).json()["items"]
        assert rule["id"] in [a["rule_id"] for a in active]

        # More matching rows while firing: no second notification (the repeat interval is 4 h).
        _ingest(client, admin, stream, [{"level": "error", "service": "api", "msg": "still"}])
        land_and_deliver()
        assert len(hook.received) == 1

        # Rows that do not match: the condition cleared (resolve_after_s 0), one resolve.
        _ingest(client, admin, stream, [{"level": "info", "service": "api", "msg": "recovered"}])
        land_and_deliver()
        assert len(hook.received) == 2
        resolved = hook.received[1].json()
        assert resolved["status"] == "resolved" and resolved["fingerprint"] == body["fingerprint"]
        assert resolved["resolved_at"] is not None
        assert len(ses_sent_to(address)) == 2

    entries = history(client, admin, rule["id"])
    transitions = [(e["from_state"], e["to_state"]) for e in reversed(entries) if e["type"] == "transition"]
    assert transitions == [("ok", "firing"), ("firing", "resolved")]
    deliveries = [e for e in entries if e["type"] == "delivery"]
    assert len(deliveries) == 4 and {e["outcome"] for e in deliveries} == {"delivered"}
    assert {e["destination_type"] for e in deliveries} == {"webhook", "email"}


def test_realtime_rule_resolves_after_its_quiet_period_by_the_evaluator(client: httpx.Client, admin: Session) -> None:
    stream = _stream()
    with receiver() as hook:
        rule = _rule(
            client,
            admin,
            {
                "kind": "realtime",
                "stream": stream,
                "where": "status >= 500",
                "group_by": ["host"],
                "destinations": [webhook(client, admin, hook.url)],
                "resolve_after_s": 120,
            },
        )
        _ingest(client, admin, stream, [{"status": 503, "host": "a"}, {"status": 200, "host": "b"}])
        land_and_deliver()
        assert [r.json()["labels"]["host"] for r in hook.received] == ["a"]
        # A clean batch soon after does not resolve it: nothing matched for less than 120 s.
        _ingest(client, admin, stream, [{"status": 200, "host": "a"}])
        land_and_deliver()
        evaluate()
        drain_alerts()
        assert len(hook.received) == 1
        # Three minutes on, the evaluator finds it quiet and resolves it.
        evaluate(at=time.time() + 180)
        drain_alerts()
        assert [r.json()["status"] for r in hook.received] == ["firing", "resolved"]
    assert client.get(f"{RULES}/{rule['id']}", headers=admin.headers).json()["alerts"][0]["state"] == "resolved"


def _service_rows(counts: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for service, errors in counts.items():
        rows += [{"level": "error", "service": service, "msg": f"e{i}"} for i in range(errors)]
        rows.append({"level": "info", "service": service, "msg": "ok"})
    return rows


def test_scheduled_rule_with_group_by_fires_per_group_after_its_for_duration(
    client: httpx.Client, admin: Session
) -> None:
    stream = _stream()
    _ingest(client, admin, stream, _service_rows({"checkout": 5, "search": 1, "login": 4}))
    land_and_deliver()
    with receiver() as hook:
        rule = _rule(
            client,
            admin,
            {
                "kind": "scheduled",
                "query": f"SELECT service, count(*) AS errors FROM {stream} WHERE level = 'error' GROUP BY service",
                "interval_s": 60,
                "window_s": 3600,
                "condition": {"op": ">", "threshold": 2},
                "group_by": ["service"],
                "for_s": 60,
                "message": "{{service}} logged {{errors}} errors",
                "destinations": [webhook(client, admin, hook.url)],
            },
        )
        now = time.time()
        evaluate(at=now)
        drain_alerts()
        assert hook.received == []  # pending: the condition must hold for 60 s first
        states = {
            a["labels"]["service"]: a["state"]
            for a in client.get(f"{RULES}/{rule['id']}", headers=admin.headers).json()["alerts"]
        }
        assert states == {"checkout": "pending", "login": "pending"}  # search (1 error) never held
        evaluate(at=now + 61)
        drain_alerts()
        fired = sorted((r.json()["labels"]["service"], r.json()["value"], r.json()["message"]) for r in hook.received)
        assert fired == [("checkout", 5, "checkout logged 5 errors"), ("login", 4, "login logged 4 errors")]
        assert len({r.json()["fingerprint"] for r in hook.received}) == 2

        # An hour on, the errors have left the window: both alerts resolve.
        evaluate(at=now + 3600 + 121)
        drain_alerts()
        statuses = [(r.json()["labels"]["service"], r.json()["status"]) for r in hook.received[2:]]
        assert sorted(statuses) == [("checkout", "resolved"), ("login", "resolved")]


def test_scheduled_no_data_rule_fires_when_the_query_finds_nothing(client: httpx.Client, admin: Session) -> None:
    with receiver() as hook:
        _rule(
            client,
            admin,
            {
                "kind": "scheduled",
                "query": f"SELECT count(*) AS n FROM {_stream()} WHERE level = 'heartbeat' HAVING count(*) > 0",
                "interval_s": 60,
                "condition": {"op": "no_data"},
                "destinations": [webhook(client, admin, hook.url)],
            },
        )
        evaluate()
        drain_alerts()
        (fired,) = hook.received
        assert fired.json()["status"] == "firing" and fired.json()["value"] == 0


def test_a_silence_mutes_matching_notifications_only(client: httpx.Client, admin: Session) -> None:
    stream = _stream()
    with receiver() as hook:
        rule = _rule(
            client,
            admin,
            {
                "kind": "realtime",
                "stream": stream,
                "where": "level = 'error'",
                "group_by": ["service"],
                "destinations": [webhook(client, admin, hook.url)],
            },
        )
        silence = client.post(
            "/api/v1/alerts/silences",
            json={
                "matchers": [
                    {"name": "rule_id", "value": rule["id"]},
                    {"name": "service", "value": "chk.*", "op": "=~"},
                ],
                "ends_at": int((time.time() + 3600) * 1_000_000),
                "comment": "deploying checkout",
            },
            headers=admin.headers,
        )
        assert silence.status_code == 201, silence.text
        assert silence.json()["state"] == "active"
        _ingest(
            client, admin, stream, [{"level": "error", "service": "chk-1"}, {"level": "error", "service": "search"}]
        )
        land_and_deliver()
        assert [r.json()["labels"]["service"] for r in hook.received] == ["search"]
        muted = [e for e in history(client, admin, rule["id"]) if e["type"] == "silenced"]
        assert len(muted) == 1 and muted[0]["silence_id"] == silence.json()["id"]
        assert muted[0]["labels"]["service"] == "chk-1"
        # The muted alert still fires (its state moved on); expiring the silence ends the muting.
        states = {
            a["labels"]["service"]: a["state"]
            for a in client.get(f"{RULES}/{rule['id']}", headers=admin.headers).json()["alerts"]
        }
        assert states == {"chk-1": "firing", "search": "firing"}
        expired = client.delete(f"/api/v1/alerts/silences/{silence.json()['id']}", headers=admin.headers).json()
        assert expired["state"] == "expired"


def test_bad_silences_are_400(client: httpx.Client, admin: Session) -> None:
    future = int((time.time() + 60) * 1_000_000)
    for body, why in (
        ({"matchers": [], "ends_at": future}, "no matchers"),
        ({"matchers": [{"name": "x", "value": "(", "op": "=~"}], "ends_at": future}, "a regex that does not compile"),
        ({"matchers": [{"name": "x", "value": "y"}], "ends_at": 1}, "an end in the past"),
        ({"matchers": [{"name": "1x", "value": "y"}], "ends_at": future}, "not a label name"),
        ({"matchers": [{"name": "x", "value": "y", "op": "~"}], "ends_at": future}, "an unknown operator"),
    ):
        response = client.post("/api/v1/alerts/silences", json=body, headers=admin.headers)
        assert response.status_code == 400, f"{why}: {response.text}"
        assert_core_error(response, 400)


@pytest.fixture
def no_backoff() -> Iterator[None]:
    with quick_retries():
        yield


def _dlq_messages() -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().queue_name("alert-delivery-dlq"))["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


def test_a_failing_receiver_is_retried_then_dead_lettered_and_redriven(
    client: httpx.Client, admin: Session, no_backoff: None
) -> None:
    stream = _stream()
    with receiver(statuses=[500] * 5) as hook:
        rule = _rule(
            client,
            admin,
            {
                "kind": "realtime",
                "stream": stream,
                "where": "level = 'error'",
                "destinations": [webhook(client, admin, hook.url)],
            },
        )
        _ingest(client, admin, stream, [{"level": "error"}])
        land_and_deliver()
        # Five attempts of the same notification (same delivery id), each refused, then the DLQ.
        assert len(hook.received) == 5
        assert len({r.headers["x-molesignal-delivery"] for r in hook.received}) == 1
        attempts = [e for e in history(client, admin, rule["id"]) if e["type"] == "delivery"]
        assert sorted(e["attempt"] for e in attempts) == [1, 2, 3, 4, 5]
        assert {e["outcome"] for e in attempts} == {"failed"} and {e["status_code"] for e in attempts} == {500}
        dead = client.get("/api/v1/alerts/dlq", headers=admin.headers).json()
        (mine,) = [d for d in dead["items"] if d["rule_id"] == rule["id"]]
        assert mine["attempts"] == 5 and "HTTP 500" in mine["reason"]
        assert dead["queue_depth"] is None  # only root sees the whole queue
        in_dlq = [m for m in _dlq_messages() if m["notification"]["source_id"] == rule["id"]]
        assert len(in_dlq) == 1

        # The receiver is fixed; an admin redrives; the notification arrives once.
        viewer_try = client.post("/api/v1/alerts/dlq/redrive", json={}, headers=_viewer(client, admin).headers)
        assert_core_error(viewer_try, 403)
        moved = client.post("/api/v1/alerts/dlq/redrive", json={"ids": [mine["id"]]}, headers=admin.headers)
        assert moved.status_code == 200 and moved.json()["moved"] == 1
        drain_alerts()
        assert len(hook.received) == 6 and hook.received[5].json()["status"] == "firing"
        assert mine["id"] not in [
            d["id"] for d in client.get("/api/v1/alerts/dlq", headers=admin.headers).json()["items"]
        ]
        # Redriving again moves nothing: the delivery got through.
        assert client.post("/api/v1/alerts/dlq/redrive", json={}, headers=admin.headers).json()["moved"] == 0


def _viewer(client: httpx.Client, admin: Session) -> Session:
    return create_user(client, admin, "viewer")


def test_history_pages_with_a_cursor(client: httpx.Client, admin: Session, root: Session) -> None:
    stream = _stream()
    with receiver() as hook:
        rule = _rule(
            client,
            admin,
            {
                "kind": "realtime",
                "stream": stream,
                "where": "level = 'error'",
                "resolve_after_s": 0,
                "destinations": [webhook(client, admin, hook.url)],
            },
        )
        for level in ("error", "info", "error"):
            _ingest(client, admin, stream, [{"level": level}])
            land_and_deliver()
    entries = history(client, admin, rule["id"])
    assert len(entries) >= 6  # three transitions, three deliveries
    first = client.get(
        "/api/v1/alerts/history", params={"rule_id": rule["id"], "limit": 2}, headers=admin.headers
    ).json()
    assert len(first["items"]) == 2 and first["has_more"] is True
    second = client.get(
        "/api/v1/alerts/history",
        params={"rule_id": rule["id"], "limit": 2, "cursor": first["next_cursor"]},
        headers=admin.headers,
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in entries[:4]]
    other = create_user(client, root, "admin", org_id=create_org(client, root))
    foreign = client.get(
        "/api/v1/alerts/history", params={"limit": 2, "cursor": first["next_cursor"]}, headers=other.headers
    )
    assert_core_error(foreign, 400)  # a cursor continues only its own org's listing
