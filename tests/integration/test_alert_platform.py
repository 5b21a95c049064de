"""MoleSignal's own alerts over HTTP: a quota 429 alerts the org's platform destinations (once
per quota, however many requests are refused); root's deployment destinations hear about
dead letters and worker failures, and about their end."""

from __future__ import annotations

from typing import Any

import httpx

from molesignal import aws, counters
from molesignal.settings import get_settings
from molesignal.storage.table import Table
from tests.support.alerts import drain_alerts, evaluate, webhook
from tests.support.api import Session, assert_core_error, create_org, create_user
from tests.support.receivers import receiver


def test_a_quota_429_alerts_the_orgs_platform_destinations_once(client: httpx.Client, root: Session) -> None:
    org_id = create_org(client, root)
    response = client.put(
        f"/api/v1/orgs/{org_id}/quotas",
        json={"ingest_qps": 1, "query_qps": 10, "storage_bytes": 10**9},
        headers=root.headers,
    )
    assert response.status_code == 200, response.text
    admin = create_user(client, root, "admin", org_id=org_id)
    with receiver() as platform_hook, receiver() as rule_hook:
        webhook(client, admin, platform_hook.url, default_for_platform=True)
        webhook(client, admin, rule_hook.url)  # not marked for platform alerts: hears nothing
        refused = 0
        for _ in range(40):
            answer = client.post("/api/v1/ingest/app", json=[{"n": 1}], headers=admin.headers)
            if answer.status_code == 429:
                refused += 1
                if refused >= 3:
                    break
        assert refused >= 3
        drain_alerts()
        (alert,) = platform_hook.received  # however many refusals, in however many windows
        body = alert.json()
        assert body["status"] == "firing" and body["org_id"] == org_id
        assert body["rule"]["id"] == "platform:quota:ingest_qps" and body["rule"]["kind"] == "platform"
        assert body["labels"]["quota"] == "ingest_qps"
        assert "(1)" in body["message"] and org_id in body["message"]
        assert rule_hook.received == []
    audit = client.get("/api/v1/audit", params={"limit": 50}, headers=admin.headers).json()["items"]
    assert any(e["action"] == "quota.exceeded" for e in audit)
    history = client.get(
        "/api/v1/alerts/history", params={"rule_id": "platform:quota:ingest_qps"}, headers=admin.headers
    )
    assert [e["to_state"] for e in history.json()["items"] if e["type"] == "transition"] == ["firing"]


def _queue_url(logical: str) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=get_settings().queue_name(logical))["QueueUrl"])


def _empty(url: str) -> None:
    """Delete every visible message (PurgeQueue allows one call a minute per queue)."""
    sqs = aws.client("sqs")
    while found := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages"):
        for message in found:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _deployment_alerts(received: list[Any], rule_id: str) -> list[str]:
    return [r.json()["status"] for r in received if r.json()["rule"]["id"] == rule_id]


def test_root_hears_about_dead_letters_and_worker_failures(client: httpx.Client, root: Session, admin: Session) -> None:
    sqs = aws.client("sqs")
    ingest_dlq = _queue_url("ingest-dlq")
    with receiver() as hook:
        destination = webhook(client, root, hook.url, deployment_alerts=True)
        try:
            # An org admin cannot mark a destination for the deployment's alerts.
            body = {"name": "x", "type": "webhook", "url": hook.url, "deployment_alerts": True}
            assert_core_error(client.post("/api/v1/alerts/destinations", json=body, headers=admin.headers), 403)

            evaluate()  # a first look: what failed before this test is not news after it
            # Earlier tests' notifications (some backing off towards receivers long closed) are not
            # this test's: dropped, in flight or not.
            sqs.purge_queue(QueueUrl=_queue_url("alert-delivery"))
            _empty(ingest_dlq)
            evaluate()
            drain_alerts()
            baseline = len(hook.received)

            sqs.send_message(QueueUrl=ingest_dlq, MessageBody='{"poison": true}')
            counters.increment(Table(), "worker_failures_total")
            evaluate()
            drain_alerts()
            news = hook.received[baseline:]
            assert _deployment_alerts(news, "platform:dlq:ingest-dlq") == ["firing"]
            assert _deployment_alerts(news, "platform:worker-failures") == ["firing"]
            dlq_alert = next(r.json() for r in news if r.json()["rule"]["id"] == "platform:dlq:ingest-dlq")
            assert dlq_alert["value"] == 1 and dlq_alert["severity"] == "critical"

            _empty(ingest_dlq)
            evaluate()
            drain_alerts()
            later = hook.received[baseline + len(news) :]
            assert _deployment_alerts(later, "platform:dlq:ingest-dlq") == ["resolved"]
            assert _deployment_alerts(later, "platform:worker-failures") == ["resolved"]
        finally:
            client.delete(f"/api/v1/alerts/destinations/{destination}", headers=root.headers)
