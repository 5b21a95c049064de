"""Log streams (spec 001 fan-out) over real HTTP: an org's admin configures destinations through
the events API, events posted to the API are chained by the events worker and delivered by the
fan-out worker to local receivers (a signed webhook, Datadog's and Splunk HEC's formats, a
customer S3 bucket in the emulator); failures are retried with backoff, then dead-lettered,
listed and redriven; bad configurations are refused in the events envelope."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.logstreams.processing import backoff_s, max_attempts
from molesignal.outbound import signing
from molesignal.settings import get_settings
from tests.support.api import Session, create_user
from tests.support.events import drain_events, drain_fanout, event, org_admin
from tests.support.lake import queue_depth
from tests.support.log_receivers import receiver

SECRET = "whsec_0123456789abcdef0123"
STREAMS = "/api/v1/events/log-streams"


def create_stream(client: httpx.Client, admin: Session, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(STREAMS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_events(client: httpx.Client, admin: Session, count: int) -> list[str]:
    batch = [event(f"doc.{'edit' if i % 2 else 'view'}", metadata={"n": i}) for i in range(count)]
    response = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers)
    assert response.status_code == 202, response.text
    drain_events()
    drain_fanout()
    return list(response.json()["ids"])


def listed(client: httpx.Client, admin: Session) -> list[dict[str, Any]]:
    body = client.get("/api/v1/events", params={"order": "asc", "limit": 100}, headers=admin.headers).json()
    return list(body["data"])


def test_webhook_receives_the_chained_events_signed(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    with receiver() as hook:
        stream = create_stream(
            client,
            admin,
            {"name": "SIEM", "type": "webhook", "webhook": {"url": f"{hook.url}/audit?tenant=a", "secret": SECRET}},
        )
        # The secret and the URL's query are sealed, never shown again.
        assert stream["webhook"] == {"url": f"{hook.url}/audit", "has_secret": True}
        assert SECRET not in json.dumps(stream) and "tenant=a" not in json.dumps(stream)

        ids = post_events(client, admin, 5)

        deliveries = hook.received()
        assert len(deliveries) == 1
        delivery = deliveries[0]
        assert delivery.path == "/audit?tenant=a"
        assert signing.verify(SECRET, delivery.headers["x-molesignal-signature"], delivery.body)
        assert not signing.verify(SECRET.upper(), delivery.headers["x-molesignal-signature"], delivery.body)
        assert not signing.verify(SECRET, delivery.headers["x-molesignal-signature"], delivery.body + b" ")
        body = json.loads(delivery.body)
        assert body["delivery_id"] == delivery.headers["x-molesignal-delivery"] == f"{stream['id']}-s1"
        assert (body["first_seq"], body["last_seq"], body["count"]) == (1, 5, 5)
        assert [e["id"] for e in body["events"]] == ids
        assert body["events"] == listed(client, admin)  # the same events the API lists, hashes included

    shown = client.get(f"{STREAMS}/{stream['id']}", headers=admin.headers).json()
    assert shown["delivery"]["last_outcome"] == "delivered"
    assert shown["delivery"]["events_delivered"] == 5 and shown["delivery"]["dead_letters"] == 0


def test_datadog_and_splunk_receive_their_own_formats(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    with receiver() as datadog, receiver() as splunk:
        create_stream(
            client,
            admin,
            {
                "name": "dd",
                "type": "datadog",
                "datadog": {"url": datadog.url, "api_key": "dd-api-key-0123456789", "tags": ["env:test"]},
            },
        )
        create_stream(
            client,
            admin,
            {
                "name": "hec",
                "type": "splunk",
                "splunk": {"url": splunk.url, "token": "hec-token-0123456789", "index": "audit"},
            },
        )
        ids = post_events(client, admin, 3)
        events = listed(client, admin)

        (dd,) = datadog.received()
        assert dd.path == "/api/v2/logs" and dd.headers["dd-api-key"] == "dd-api-key-0123456789"
        entries = json.loads(dd.body)
        assert [e["audit"]["id"] for e in entries] == ids
        assert entries[0]["ddsource"] == "molesignal" and entries[0]["service"] == "molesignal-audit"
        assert f"org_id:{admin.org_id}" in entries[0]["ddtags"].split(",") and "env:test" in entries[0]["ddtags"]
        assert entries[0]["message"] == f"{events[0]['action']} by user user_1"

        (hec,) = splunk.received()
        assert hec.path == "/services/collector/event"
        assert hec.headers["authorization"] == "Splunk hec-token-0123456789"
        objects = [json.loads(line) for line in hec.body.splitlines()]  # HEC's batch: objects back to back
        assert [o["event"] for o in objects] == events
        assert {o["index"] for o in objects} == {"audit"} and objects[0]["sourcetype"] == "molesignal:audit"
        assert objects[0]["fields"] == {"org_id": admin.org_id, "action": events[0]["action"]}


def test_s3_log_stream_writes_gzip_ndjson_to_the_customers_bucket(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    bucket = f"{get_settings().resource_prefix}-customer-{admin.org_id[-6:]}".lower()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    create_stream(client, admin, {"name": "archive", "type": "s3", "s3": {"bucket": bucket, "prefix": "audit/"}})
    post_events(client, admin, 4)

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith("audit/") and keys[0].endswith("-s1.ndjson.gz")
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    assert [json.loads(line) for line in lines] == listed(client, admin)


def test_failed_deliveries_back_off_then_dead_letter_and_redrive(
    client: httpx.Client, root: Session, use_env: Callable[..., None]
) -> None:
    use_env(fanout_retry_base_s=0)  # no waiting between attempts in the test
    admin = org_admin(client, root)
    other = org_admin(client, root)
    with receiver() as hook:
        hook.status = 503
        stream = create_stream(
            client, admin, {"name": "flaky", "type": "webhook", "webhook": {"url": hook.url, "secret": SECRET}}
        )
        ids = post_events(client, admin, 2)

        attempts = hook.received()
        assert [int(r.headers["x-molesignal-attempt"]) for r in attempts] == list(range(1, max_attempts() + 1))
        assert {r.headers["x-molesignal-delivery"] for r in attempts} == {f"{stream['id']}-s1"}

        dead = client.get(f"{STREAMS}/{stream['id']}/dead-letters", headers=admin.headers).json()
        assert dead["total"] == 1 and dead["has_more"] is False
        (letter,) = dead["data"]
        assert letter["attempts"] == max_attempts() and letter["status_code"] == 503
        assert letter["state"] == "dead" and "HTTP 503" in letter["error"]
        shown = client.get(f"{STREAMS}/{stream['id']}", headers=admin.headers).json()["delivery"]
        assert shown["last_outcome"] == "failed" and shown["dead_letters"] == 1

        # Another org can neither see the log stream nor move its dead letters.
        assert client.get(f"{STREAMS}/{stream['id']}/dead-letters", headers=other.headers).status_code == 404
        assert client.post(f"{STREAMS}/{stream['id']}/dead-letters/redrive", headers=other.headers).status_code == 404

        hook.status = 200
        moved = client.post(f"{STREAMS}/{stream['id']}/dead-letters/redrive", headers=admin.headers)
        assert moved.status_code == 200 and moved.json() == {"moved": 1}
        drain_fanout()
        delivered = hook.received()[len(attempts) :]
        assert len(delivered) == 1
        assert [e["id"] for e in json.loads(delivered[0].body)["events"]] == ids

    assert client.get(f"{STREAMS}/{stream['id']}/dead-letters", headers=admin.headers).json()["total"] == 0
    assert client.get(f"{STREAMS}/{stream['id']}", headers=admin.headers).json()["delivery"]["last_outcome"] == (
        "delivered"
    )


def test_backoff_doubles_up_to_its_cap() -> None:
    settings = get_settings()
    waits = [backoff_s(attempt) for attempt in range(1, max_attempts() + 1)]
    assert waits[:3] == [int(settings.fanout_retry_base_s * k) for k in (1, 2, 4)]
    assert max(waits) == settings.fanout_retry_max_s and waits == sorted(waits)


def test_test_delivery_answers_the_receivers_reply(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    with receiver() as hook:
        stream = create_stream(
            client, admin, {"name": "t", "type": "webhook", "webhook": {"url": hook.url, "secret": SECRET}}
        )
        answer = client.post(f"{STREAMS}/{stream['id']}/test", headers=admin.headers)
        assert answer.status_code == 200 and answer.json()["ok"] is True and answer.json()["status"] == 200
        (sent,) = hook.received()
        assert json.loads(sent.body)["events"][0]["action"] == "molesignal.log_stream.test"
        assert signing.verify(SECRET, sent.headers["x-molesignal-signature"], sent.body)

        hook.status = 500
        failed = client.post(f"{STREAMS}/{stream['id']}/test", headers=admin.headers).json()
        assert failed["ok"] is False and failed["status"] == 500 and "the receiver is down" in failed["detail"]


def test_log_stream_lifecycle(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    with receiver() as hook:
        stream = create_stream(
            client, admin, {"name": "a", "type": "webhook", "webhook": {"url": hook.url, "secret": SECRET}}
        )
        patched = client.patch(f"{STREAMS}/{stream['id']}", json={"name": "b", "enabled": False}, headers=admin.headers)
        assert patched.status_code == 200 and patched.json()["name"] == "b" and patched.json()["enabled"] is False
        post_events(client, admin, 1)
        assert hook.received() == []  # a disabled stream is not delivered to
        listing = client.get(STREAMS, headers=admin.headers).json()
        assert listing["total"] == 1 and listing["has_more"] is False and listing["data"][0]["id"] == stream["id"]
        assert client.delete(f"{STREAMS}/{stream['id']}", headers=admin.headers).status_code == 204
        assert client.get(f"{STREAMS}/{stream['id']}", headers=admin.headers).status_code == 404


def assert_refused(response: httpx.Response, status: int, code: str, mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and mentions in body["message"], body


@pytest.mark.parametrize(
    ("why", "body", "code", "mentions"),
    [
        (
            "a signing secret shorter than 16 characters",
            {"name": "x", "type": "webhook", "webhook": {"url": "https://example.com/hook", "secret": "short"}},
            "validation_failed",
            "secret",
        ),
        (
            "the cloud metadata address as the URL",
            {"name": "x", "type": "webhook", "webhook": {"url": "http://169.254.169.254/latest", "secret": SECRET}},
            "destination_refused",
            "link-local",
        ),
        (
            "a URL with credentials in it",
            {"name": "x", "type": "webhook", "webhook": {"url": "https://u:p@example.com/", "secret": SECRET}},
            "destination_refused",
            "credentials",
        ),
        (
            "an s3 object on a webhook stream",
            {"name": "x", "type": "webhook", "s3": {"bucket": "customer-bucket"}},
            "validation_failed",
            "webhook",
        ),
        (
            "an invalid bucket name",
            {"name": "x", "type": "s3", "s3": {"bucket": "Not_A_Bucket"}},
            "validation_failed",
            "s3.bucket",
        ),
        (
            "a Splunk stream without its token",
            {"name": "x", "type": "splunk", "splunk": {"url": "https://hec.example.com"}},
            "validation_failed",
            "splunk.token",
        ),
        (
            "an unknown type",
            {"name": "x", "type": "kafka"},
            "validation_failed",
            "type",
        ),
    ],
)
def test_bad_log_streams_are_refused(
    client: httpx.Client, root: Session, why: str, body: dict[str, Any], code: str, mentions: str
) -> None:
    admin = org_admin(client, root)
    assert_refused(client.post(STREAMS, json=body, headers=admin.headers), 422, code, mentions)
    assert client.get(STREAMS, headers=admin.headers).json()["total"] == 0, why


def test_own_bucket_type_change_and_roles_are_refused(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    own = get_settings().resource_name("lake")
    refused = client.post(STREAMS, json={"name": "x", "type": "s3", "s3": {"bucket": own}}, headers=admin.headers)
    assert_refused(refused, 422, "validation_failed", "own buckets")
    stream = create_stream(
        client, admin, {"name": "a", "type": "webhook", "webhook": {"url": "https://example.com/h", "secret": SECRET}}
    )
    changed = client.patch(f"{STREAMS}/{stream['id']}", json={"s3": {"bucket": "abc"}}, headers=admin.headers)
    assert_refused(changed, 422, "validation_failed", "cannot change")
    viewer = create_user(client, admin, "viewer")
    assert client.get(STREAMS, headers=viewer.headers).status_code == 403
    assert client.post(f"{STREAMS}/{stream['id']}/test", headers=viewer.headers).status_code == 403
    assert client.get(f"{STREAMS}/ls_0000000000000000", headers=admin.headers).status_code == 404


def test_a_refused_address_is_dead_lettered_at_once(
    client: httpx.Client, root: Session, use_env: Callable[..., None]
) -> None:
    """A destination that becomes one MoleSignal may not call (here: the deployment stops
    allowing private targets after the stream was saved) is never retried: its delivery goes
    to the DLQ on the first attempt, with the reason, and nothing is sent."""
    admin = org_admin(client, root)
    with receiver() as hook:
        stream = create_stream(
            client, admin, {"name": "local", "type": "webhook", "webhook": {"url": hook.url, "secret": SECRET}}
        )
        use_env(outbound_allow_private_targets=False)
        post_events(client, admin, 1)
        assert hook.received() == []
    (letter,) = client.get(f"{STREAMS}/{stream['id']}/dead-letters", headers=admin.headers).json()["data"]
    assert letter["attempts"] == 1 and letter["status_code"] is None and "https" in letter["error"]
    assert queue_depth("fanout-dlq") >= 1
