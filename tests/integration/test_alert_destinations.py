"""Alert destinations over HTTP: CRUD, sealed secrets, test sends to real receivers (a signed
webhook on 127.0.0.1, SES through the emulator, an SNS topic with an HTTP subscriber), roles,
other orgs, and the URL policy."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table
from tests.support.alerts import land_and_deliver, ses_sent_to
from tests.support.api import Session, assert_core_error, create_org, create_user, unique
from tests.support.receivers import Receiver, receiver

SECRET = "whsec-" + "k" * 26
BASE = "/api/v1/alerts/destinations"


def _create(client: httpx.Client, by: Session, **body: Any) -> dict[str, Any]:
    response = client.post(BASE, json={"name": unique("dst"), **body}, headers=by.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_webhook_destination_is_created_listed_and_never_returns_its_secrets(
    client: httpx.Client, admin: Session
) -> None:
    created = _create(
        client,
        admin,
        type="webhook",
        url="http://127.0.0.1:9/hook?token=abc",
        secret=SECRET,
        headers={"Authorization": "Bearer sekret-token"},
    )
    assert created["type"] == "webhook"
    assert created["url"] == "http://127.0.0.1:9/hook"  # the query (often a token) is not shown
    assert created["has_secret"] is True
    assert created["headers"] == ["Authorization"]
    text = json.dumps(created)
    assert SECRET not in text and "sekret-token" not in text and "token=abc" not in text

    listed = client.get(BASE, headers=admin.headers).json()["items"]
    assert created["id"] in [d["id"] for d in listed]
    assert SECRET not in json.dumps(listed)

    # At rest: sealed by KMS, not stored in the clear.
    item = Table().get(keys.alert_destinations(admin.org_id), created["id"])
    assert item is not None
    assert SECRET not in json.dumps(item) and "sekret-token" not in json.dumps(item)
    assert item["sealed"]

    fetched = client.get(f"{BASE}/{created['id']}", headers=admin.headers).json()
    assert fetched == created


def test_patch_keeps_secrets_unless_told_and_null_clears_them(client: httpx.Client, admin: Session) -> None:
    created = _create(client, admin, type="webhook", url="http://127.0.0.1:9/a", secret=SECRET)
    renamed = client.patch(f"{BASE}/{created['id']}", json={"name": "renamed"}, headers=admin.headers).json()
    assert renamed["name"] == "renamed" and renamed["has_secret"] is True
    cleared = client.patch(f"{BASE}/{created['id']}", json={"secret": None}, headers=admin.headers).json()
    assert cleared["has_secret"] is False
    # A type cannot change; a field of another type is refused.
    response = client.patch(f"{BASE}/{created['id']}", json={"address": "a@example.com"}, headers=admin.headers)
    assert_core_error(response, 400)


def test_test_send_reaches_a_real_receiver_signed_and_reports_its_answer(client: httpx.Client, admin: Session) -> None:
    with receiver(secret=SECRET, statuses=[200, 503]) as hook:
        created = _create(client, admin, type="webhook", url=hook.url, secret=SECRET, headers={"X-Team": "ops"})
        report = client.post(f"{BASE}/{created['id']}/test", headers=admin.headers)
        assert report.status_code == 200, report.text
        assert report.json()["ok"] is True and report.json()["status"] == 200
        got = hook.received[0]
        assert got.signature_ok is True
        assert got.headers["x-team"] == "ops"
        body = got.json()
        assert body["status"] == "test" and body["org_id"] == admin.org_id
        assert got.headers["x-molesignal-delivery"] == body["id"]

        failed = client.post(f"{BASE}/{created['id']}/test", headers=admin.headers).json()
        assert failed["ok"] is False and failed["status"] == 503
        assert "receiver says no" in failed["detail"]


def test_slack_destination_posts_an_incoming_webhook_message(client: httpx.Client, admin: Session) -> None:
    with receiver() as hook:
        created = _create(client, admin, type="slack", url=hook.url + "/T000/B000/XXXX")
        assert created["url"] == "http://127.0.0.1/…"  # the path is the credential
        assert client.post(f"{BASE}/{created['id']}/test", headers=admin.headers).json()["ok"] is True
        message = hook.received[0].json()
        assert message["text"].startswith("[TEST]")
        assert message["blocks"][0]["type"] == "header"
        assert hook.received[0].path == "/hook/T000/B000/XXXX"


def test_email_destination_sends_through_ses(client: httpx.Client, admin: Session, system: Any) -> None:
    address = f"{unique('oncall')}@example.com"
    created = _create(client, admin, type="email", address=address)
    assert created["address"] == address
    report = client.post(f"{BASE}/{created['id']}/test", headers=admin.headers).json()
    assert report["ok"] is True, report
    sent = ses_sent_to(address)
    assert len(sent) == 1
    assert sent[0]["Source"] == get_settings().alert_email_from
    assert sent[0]["Subject"].startswith("[TEST]")


def _sns_copies(hook: Receiver) -> list[dict[str, Any]]:
    """The SNS envelopes the HTTP subscriber got, with their ``Message`` (MoleSignal's JSON) parsed."""
    copies = []
    for received in hook.received:
        envelope = received.json()
        copies.append({**envelope, "Message": json.loads(envelope["Message"])})
    return copies


def test_sns_destination_publishes_to_the_topic_and_its_subscriber_gets_a_copy(
    client: httpx.Client, admin: Session
) -> None:
    # An HTTP(S) endpoint subscribed to the topic, as a real subscriber would be: the emulator's SNS
    # posts each published message to it over HTTP. (An SQS subscription cannot show it here: the
    # durable local SQS is outside moto's SNS fan-out.)
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name=f"molesignal-alerts-{unique('t')}")["TopicArn"]
    with receiver() as hook:
        sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=hook.url)
        created = _create(client, admin, type="sns", topic_arn=topic_arn)
        tested = client.post(f"{BASE}/{created['id']}/test", headers=admin.headers).json()
        assert tested["ok"] is True, tested
        hook.wait_for(1)
        (copy,) = _sns_copies(hook)
        assert copy["Type"] == "Notification" and copy["TopicArn"] == topic_arn
        assert copy["Message"]["status"] == "test" and copy["Message"]["org_id"] == admin.org_id
        assert copy["SignatureVersion"] == "2" and copy["Signature"]  # the emulator's HTTP delivery omits
        # MessageAttributes, so the status/severity attributes are not checked through the subscriber

        # A firing alert takes the same way: rule -> ingest worker -> delivery worker -> topic -> subscriber.
        stream = unique("sns").replace("-", "_")
        rule = client.post(
            "/api/v1/alerts/rules",
            json={
                "name": unique("rule"),
                "kind": "realtime",
                "stream": stream,
                "where": "level = 'error'",
                "severity": "critical",
                "destinations": [created["id"]],
            },
            headers=admin.headers,
        )
        assert rule.status_code == 201, rule.text
        ingested = client.post(
            f"/api/v1/ingest/{stream}", json=[{"level": "error", "msg": "boom"}], headers=admin.headers
        )
        assert ingested.status_code == 202, ingested.text
        land_and_deliver()
        hook.wait_for(2)
        fired = _sns_copies(hook)[1]
        assert fired["Message"]["status"] == "firing" and fired["Message"]["rule"]["id"] == rule.json()["id"]
        assert fired["Message"]["sample"]["msg"] == "boom"
        assert fired["Message"]["severity"] == "critical"

        # Leave nothing behind that would publish later (the quiet sweep's resolve) to an endpoint
        # that is gone: that delivery would fail into the org's DLQ, which other tests redrive.
        assert client.delete(f"/api/v1/alerts/rules/{rule.json()['id']}", headers=admin.headers).status_code == 200
        sns.delete_topic(TopicArn=topic_arn)

    # A topic outside the prefix MoleSignal may publish to is refused up front.
    response = client.post(
        BASE,
        json={"name": "other", "type": "sns", "topic_arn": "arn:aws:sns:us-east-1:123456789012:someone-elses"},
        headers=admin.headers,
    )
    assert_core_error(response, 400)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"type": "webhook"}, "a webhook without url"),
        ({"type": "webhook", "url": "ftp://example.com/x"}, "not http(s)"),
        ({"type": "webhook", "url": "http://169.254.169.254/latest/meta-data/"}, "the metadata service"),
        ({"type": "webhook", "url": "http://[fe80::1]/x"}, "a link-local address"),
        ({"type": "webhook", "url": "http://user:pw@example.com/x"}, "credentials in the URL"),
        ({"type": "webhook", "url": "http://example.com/x", "secret": "short"}, "a secret under 16 characters"),
        (
            {"type": "webhook", "url": "http://example.com/x", "headers": {"X-MoleSignal-Signature": "x"}},
            "a header MoleSignal sets",
        ),
        ({"type": "webhook", "url": "http://example.com/x", "headers": {"Host": "evil"}}, "the Host header"),
        ({"type": "email", "address": "not an address"}, "a bad address"),
        ({"type": "email", "url": "http://example.com/x", "address": "a@example.com"}, "a url on an email destination"),
        ({"type": "sns", "topic_arn": "arn:aws:s3:::bucket"}, "not a topic ARN"),
        ({"type": "pager", "url": "http://example.com/x"}, "an unknown type"),
    ],
)
def test_bad_destinations_are_400(client: httpx.Client, admin: Session, body: dict[str, Any], why: str) -> None:
    response = client.post(BASE, json={"name": "bad", **body}, headers=admin.headers)
    assert response.status_code == 400, f"{why}: {response.text}"
    assert_core_error(response, 400)


def test_private_targets_are_refused_when_the_deployment_forbids_them(
    client: httpx.Client, admin: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from molesignal.settings import reset_settings

    monkeypatch.setenv("MOLESIGNAL_ALERT_ALLOW_PRIVATE_TARGETS", "false")
    reset_settings()
    try:
        for url in ("http://127.0.0.1/x", "https://10.0.0.8/x", "https://localhost/x", "http://example.com/x"):
            response = client.post(BASE, json={"name": "p", "type": "webhook", "url": url}, headers=admin.headers)
            assert_core_error(response, 400, "destination_refused")
        # A public https URL is fine.
        ok = client.post(
            BASE, json={"name": "p", "type": "webhook", "url": "https://93.184.216.34/x"}, headers=admin.headers
        )
        assert ok.status_code == 201, ok.text
    finally:
        monkeypatch.delenv("MOLESIGNAL_ALERT_ALLOW_PRIVATE_TARGETS")
        reset_settings()


def test_viewers_read_but_cannot_change_and_ingest_tokens_see_nothing(client: httpx.Client, admin: Session) -> None:
    created = _create(client, admin, type="webhook", url="http://127.0.0.1:9/v")
    viewer = create_user(client, admin, "viewer")
    assert client.get(f"{BASE}/{created['id']}", headers=viewer.headers).status_code == 200
    assert_core_error(
        client.post(BASE, json={"name": "v", "type": "webhook", "url": "http://127.0.0.1:9/v"}, headers=viewer.headers),
        403,
    )
    assert_core_error(client.patch(f"{BASE}/{created['id']}", json={"name": "x"}, headers=viewer.headers), 403)
    assert_core_error(client.delete(f"{BASE}/{created['id']}", headers=viewer.headers), 403)
    assert_core_error(client.post(f"{BASE}/{created['id']}/test", headers=viewer.headers), 403)
    ingest = create_user(client, admin, "ingest")
    assert_core_error(client.get(BASE, headers=ingest.headers), 403)


def test_another_orgs_destination_is_404_and_only_root_takes_deployment_alerts(
    client: httpx.Client, admin: Session, root: Session
) -> None:
    created = _create(client, admin, type="webhook", url="http://127.0.0.1:9/o")
    other_org = create_org(client, root)
    other = create_user(client, root, "admin", org_id=other_org)
    for method, path in (
        ("GET", f"{BASE}/{created['id']}"),
        ("PATCH", f"{BASE}/{created['id']}"),
        ("DELETE", f"{BASE}/{created['id']}"),
        ("POST", f"{BASE}/{created['id']}/test"),
    ):
        response = client.request(
            method, path, json={"name": "x"} if method == "PATCH" else None, headers=other.headers
        )
        assert_core_error(response, 404)
    assert created["id"] not in [d["id"] for d in client.get(BASE, headers=other.headers).json()["items"]]

    body = {"name": "d", "type": "webhook", "url": "http://127.0.0.1:9/d", "deployment_alerts": True}
    assert_core_error(client.post(BASE, json=body, headers=admin.headers), 403)
    assert client.post(BASE, json=body, headers=root.headers).status_code == 201


def test_delete_removes_the_destination(client: httpx.Client, admin: Session) -> None:
    created = _create(client, admin, type="webhook", url="http://127.0.0.1:9/del")
    assert client.delete(f"{BASE}/{created['id']}", headers=admin.headers).status_code == 200
    assert_core_error(client.get(f"{BASE}/{created['id']}", headers=admin.headers), 404)
