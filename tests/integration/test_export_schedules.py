"""Scheduled exports (spec 001) over real HTTP: an admin schedules an export job, the
``export_scheduler`` function (fired through the local scheduler, with an injected clock)
creates one export per run covering the events received since the run before (every event
exactly once), the export worker writes it and delivers it to an S3 or webhook log stream;
bad schedules are refused in the events envelope."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import registry
from molesignal import aws
from molesignal.clock import now_us
from molesignal.exports import schedules
from molesignal.exports.formats import read_events
from molesignal.local.scheduler import Scheduler
from molesignal.outbound import signing
from molesignal.settings import get_settings, reset_settings
from tests.support.api import Session, create_user
from tests.support.events import drain_events, drain_exports, drain_fanout, event, org_admin
from tests.support.log_receivers import receiver

SCHEDULES = "/api/v1/exports/schedules"
HOUR_US = 3600 * 1_000_000
HALF_HOUR_US = HOUR_US // 2
SECRET = "whsec_0123456789abcdef0123"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Set the schedules' clock (creation and the ticker); the events keep the real one. No
    settling delay: the test drains the events worker itself."""
    monkeypatch.setenv("MOLESIGNAL_EXPORT_SCHEDULE_SETTLE_S", "0")
    reset_settings()

    def set_now(at_us: int) -> None:
        monkeypatch.setattr(schedules, "now_us", lambda: at_us)

    yield set_now
    monkeypatch.undo()
    reset_settings()


def tick() -> list[str]:
    """One run of the export_scheduler function, as the local scheduler fires it."""
    return list(Scheduler(tuple(registry.REGISTRY.schedules)).fire("export_scheduler")["exports"])


def post_events(client: httpx.Client, admin: Session, count: int, tag: str) -> list[str]:
    batch = [event("report.run", metadata={"batch": tag, "n": i}) for i in range(count)]
    response = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers)
    assert response.status_code == 202, response.text
    drain_events()
    return list(response.json()["ids"])


def downloaded(client: httpx.Client, admin: Session, export_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/exports/{export_id}/download", headers=admin.headers)
    assert response.status_code == 302, response.text
    return read_events(httpx.get(response.headers["location"], timeout=30).content, "ndjson")


def test_each_run_exports_the_events_received_since_the_last(
    client: httpx.Client, root: Session, clock: Callable[[int], None]
) -> None:
    admin = org_admin(client, root)
    first = post_events(client, admin, 3, "a")
    split = now_us()
    clock(split - HOUR_US)  # the schedule was made an hour ago: its first run is due now
    created = client.post(
        SCHEDULES,
        json={"name": "hourly", "schedule": "rate(1 hour)", "export": {"format": "ndjson", "events": {}}},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["schedule"] == "rate(1 hour)" and schedule["delivery"] == {"type": "bucket"}
    assert schedule["next_run_at"] is not None and schedule["runs"] == 0

    clock(split - 60_000_000)
    assert tick() == []  # not due yet
    clock(split)
    (run1,) = tick()
    assert tick() == []  # one run per due time
    second = post_events(client, admin, 2, "b")
    clock(split + HOUR_US + 1)
    (run2,) = tick()
    drain_exports()

    assert [e["id"] for e in downloaded(client, admin, run1)] == first
    assert [e["id"] for e in downloaded(client, admin, run2)] == second  # no event twice, none lost
    listed = client.get("/api/v1/exports", headers=admin.headers).json()["data"]
    assert {e["id"] for e in listed} == {run1, run2}
    assert {e["schedule_id"] for e in listed} == {schedule["id"]}
    shown = client.get(f"{SCHEDULES}/{schedule['id']}", headers=admin.headers).json()
    assert shown["runs"] == 2 and shown["last_export_id"] == run2


def test_cron_schedule_delivers_to_s3_and_webhook_log_streams(
    client: httpx.Client, root: Session, clock: Callable[[int], None]
) -> None:
    admin = org_admin(client, root)
    bucket = f"{get_settings().resource_prefix}-exports-{admin.org_id[-6:]}".lower()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    with receiver() as hook:
        archive = client.post(
            "/api/v1/events/log-streams",
            json={"name": "archive", "type": "s3", "s3": {"bucket": bucket, "prefix": "ms/"}, "enabled": False},
            headers=admin.headers,
        ).json()
        announce = client.post(
            "/api/v1/events/log-streams",
            json={"name": "hook", "type": "webhook", "webhook": {"url": hook.url, "secret": SECRET}, "enabled": False},
            headers=admin.headers,
        ).json()
        # The schedule is made (on the schedules' clock) before the events arrive and its first
        # run falls after them: no :00 or :30 between the two, or the events would belong to
        # the second run's window (failed at :30-:40 and :00-:10 when this said "10 min ago").
        to_boundary_us = HALF_HOUR_US - now_us() % HALF_HOUR_US
        if to_boundary_us < 90_000_000:  # too close to a :00/:30 boundary: wait until just past it
            time.sleep(to_boundary_us / 1_000_000 + 1)
        received = now_us()
        start = max(received - 10 * 60_000_000, received - received % HALF_HOUR_US + 1)
        ids = post_events(client, admin, 4, "c")
        clock(start)
        made = []
        for stream in (archive, announce):
            response = client.post(
                SCHEDULES,
                json={
                    "name": f"to {stream['name']}",
                    "schedule": "cron(*/30 * * * ? *)",  # on the hour and the half hour, UTC
                    "export": {"format": "ndjson", "gzip": True, "events": {}},
                    "delivery": {"type": "log_stream", "log_stream_id": stream["id"]},
                },
                headers=admin.headers,
            )
            assert response.status_code == 201, response.text
            made.append(response.json())
        clock(start + HOUR_US)
        assert len(tick()) == 2
        drain_exports()
        drain_fanout()

        (sent,) = hook.received()
        assert signing.verify(SECRET, sent.headers["x-molesignal-signature"], sent.body)
        announced = json.loads(sent.body)
        assert announced["type"] == "export.completed" and announced["export"]["rows"] == 4
        assert announced["download"] == f"/api/v1/exports/{announced['export']['id']}/download"
        assert [e["id"] for e in downloaded(client, admin, announced["export"]["id"])] == ids

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="ms/exports/").get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith(f"ms/exports/{made[0]['id']}/") and keys[0].endswith(".ndjson.gz")
    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert [json.loads(line)["id"] for line in body.splitlines()] == ids
    exports = client.get("/api/v1/exports", headers=admin.headers).json()["data"]
    assert {e["delivery"]["status"] for e in exports} == {"delivered"}


def test_schedule_lifecycle_and_isolation(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    other = org_admin(client, root)
    body = {"name": "daily", "schedule": "cron(0 3 * * ? *)", "export": {"format": "csv", "events": {}}}
    schedule = client.post(SCHEDULES, json=body, headers=admin.headers).json()
    assert schedule["next_run_at"].endswith("T03:00:00Z")
    patched = client.patch(
        f"{SCHEDULES}/{schedule['id']}", json={"enabled": False, "name": "nightly"}, headers=admin.headers
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False and patched.json()["next_run_at"] is None
    listing = client.get(SCHEDULES, headers=admin.headers).json()
    assert listing["total"] == 1 and listing["data"][0]["name"] == "nightly" and listing["has_more"] is False
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=other.headers).status_code == 404
    assert client.delete(f"{SCHEDULES}/{schedule['id']}", headers=other.headers).status_code == 404
    for name in ("second", "third"):
        assert client.post(SCHEDULES, json={**body, "name": name}, headers=admin.headers).status_code == 201
    first_page = client.get(SCHEDULES, params={"limit": 2}, headers=admin.headers).json()
    assert first_page["total"] == 3 and first_page["has_more"] is True
    rest = client.get(SCHEDULES, params={"limit": 2, "cursor": first_page["next_cursor"]}, headers=admin.headers)
    assert [s["name"] for s in first_page["data"] + rest.json()["data"]] == ["nightly", "second", "third"]
    assert "next_cursor" not in rest.json() and rest.json()["has_more"] is False
    foreign = client.get(SCHEDULES, params={"cursor": first_page["next_cursor"]}, headers=other.headers)
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_cursor"  # another org's cursor
    viewer = create_user(client, admin, "viewer")
    assert client.get(SCHEDULES, headers=viewer.headers).status_code == 403
    assert client.post(SCHEDULES, json=body, headers=viewer.headers).status_code == 403
    assert client.delete(f"{SCHEDULES}/{schedule['id']}", headers=admin.headers).status_code == 204
    assert client.get(f"{SCHEDULES}/{schedule['id']}", headers=admin.headers).status_code == 404


@pytest.mark.parametrize(
    ("why", "schedule", "mentions"),
    [
        ("more often than every 15 minutes", "rate(5 minutes)", "15 minutes"),
        ("a cron every 5 minutes", "cron(0/5 * * * ? *)", "15 minutes"),
        ("five cron fields (Unix style)", "cron(0 3 * * *)", "six fields"),
        ("both day fields given", "cron(0 3 1 * MON *)", "'?'"),
        ("a minute out of range", "cron(61 3 * * ? *)", "minutes"),
        ("L, W and # are not supported", "cron(0 3 L * ? *)", "not supported"),
        ("a year long past", "cron(0 3 * * ? 2001)", "never runs"),
        ("neither rate nor cron", "every day at 3", "rate("),
    ],
)
def test_bad_schedules_are_refused(client: httpx.Client, root: Session, why: str, schedule: str, mentions: str) -> None:
    admin = org_admin(client, root)
    body = {"name": "x", "schedule": schedule, "export": {"format": "ndjson", "events": {}}}
    response = client.post(SCHEDULES, json=body, headers=admin.headers)
    assert response.status_code == 422, (why, response.text)
    assert response.json()["error"] == "validation_failed" and mentions in response.json()["message"], why


def test_bad_deliveries_and_exports_are_refused(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    datadog = client.post(
        "/api/v1/events/log-streams",
        json={"name": "dd", "type": "datadog", "datadog": {"api_key": "dd-api-key-0123456789"}},
        headers=admin.headers,
    ).json()
    base = {"name": "x", "schedule": "rate(1 day)", "export": {"format": "ndjson", "events": {}}}
    to_datadog = {"type": "log_stream", "log_stream_id": datadog["id"]}
    refused = client.post(SCHEDULES, json={**base, "delivery": to_datadog}, headers=admin.headers)
    assert refused.status_code == 422 and "not files" in refused.json()["message"]
    missing = client.post(SCHEDULES, json={**base, "delivery": {"type": "log_stream"}}, headers=admin.headers)
    assert missing.status_code == 422 and "log_stream_id" in missing.json()["message"]
    unknown = client.post(
        SCHEDULES,
        json={**base, "delivery": {"type": "log_stream", "log_stream_id": "ls_0000000000000000"}},
        headers=admin.headers,
    )
    assert unknown.status_code == 404
    bad_sql = client.post(
        SCHEDULES, json={**base, "export": {"format": "csv", "sql": {"query": "DROP TABLE x"}}}, headers=admin.headers
    )
    assert bad_sql.status_code == 400 and bad_sql.json()["error"] == "INVALID_SQL"
    assert client.get(SCHEDULES, headers=admin.headers).json()["total"] == 0
