"""Faults in the ingest pipeline: a worker killed mid-batch, poison messages, the DLQ.

Whatever happens, the rows stored equal the rows acknowledged — none lost, none twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.lake.writer import Lake
from molesignal.local.pollers import QueuePoller
from molesignal.settings import get_settings
from tests.support.api import Session, bearer, create_api_token, create_org, create_user, unique
from tests.support.lake import INGEST_WORKER, drain_ingest, landed_rows, queue_depth

T0 = 1_800_000_000_000_000


class WorkerKilled(BaseException):
    """Escapes every ``except Exception``, like the process dying."""


def _url(logical: str) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=get_settings().queue_name(logical))["QueueUrl"])


def _empty(logical: str) -> None:
    """Delete every message (PurgeQueue may run only once a minute)."""
    sqs = aws.client("sqs")
    url = _url(logical)
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def short_visibility(system: Any) -> Iterator[None]:
    """Messages a dead worker held come back after 1 s instead of 2 minutes."""
    sqs = aws.client("sqs")
    drain_ingest()
    sqs.set_queue_attributes(QueueUrl=_url("ingest"), Attributes={"VisibilityTimeout": "1"})
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=_url("ingest"), Attributes={"VisibilityTimeout": "120"})
        _empty("ingest-dlq")


@pytest.fixture
def tenant(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    return {"org": org, "headers": bearer(create_api_token(client, admin, role="ingest"))}


def _send(client: httpx.Client, tenant: dict[str, Any], stream: str, requests: int, per_request: int) -> int:
    for r in range(requests):
        records = [{"_timestamp": T0 + r * 1000 + i, "r": r, "i": i} for i in range(per_request)]
        assert client.post(f"/api/v1/ingest/{stream}", json=records, headers=tenant["headers"]).status_code == 202
    return requests * per_request


@pytest.mark.usefixtures("short_visibility")
@pytest.mark.parametrize("when", ["before the commit", "after the commit, before the delete"])
def test_worker_killed_mid_batch_then_redelivered_stores_each_row_once(
    client: httpx.Client, tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    stream = unique("kill")
    sent = _send(client, tenant, stream, requests=6, per_request=25)
    commits = {"n": 0}
    real_commit = Lake._commit

    def dying_commit(self: Lake, *args: Any, **kwargs: Any) -> None:
        commits["n"] += 1
        if commits["n"] == 3 and when == "before the commit":
            raise WorkerKilled
        real_commit(self, *args, **kwargs)
        if commits["n"] == 3 and when != "before the commit":
            raise WorkerKilled

    # When the worker dies on the third message of its first batch
    with monkeypatch.context() as patched:
        patched.setattr(Lake, "_commit", dying_commit)
        with pytest.raises(WorkerKilled):
            QueuePoller(INGEST_WORKER, wait_seconds=0).poll_once()
    # Then every message it held is redelivered and the rows land exactly once
    drain_ingest()
    rows = landed_rows(tenant["org"], stream)
    assert len(rows) == sent
    assert len({(r["r"], r["i"]) for r in rows}) == sent


@pytest.mark.usefixtures("short_visibility")
def test_poison_message_goes_to_the_dlq_while_the_batch_lands_and_can_be_redriven(
    client: httpx.Client, tenant: dict[str, Any], root: Session
) -> None:
    stream = unique("poison")
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=_url("ingest"), MessageBody='{"v": 1, "request_id": "broken"}')  # no org, no payload
    sent = _send(client, tenant, stream, requests=3, per_request=10)

    # When the worker keeps running, the poison message fails every time...
    poller = QueuePoller(INGEST_WORKER, wait_seconds=0)
    import time

    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and (queue_depth() > 0):
        if poller.poll_once() == 0:
            time.sleep(0.3)
    # ...the good messages landed, and the poison one is in the DLQ after maxReceiveCount tries
    assert len(landed_rows(tenant["org"], stream)) == sent
    depth = client.get("/api/v1/ingest/_dlq", headers=root.headers)
    assert depth.status_code == 200
    assert depth.json()["messages"] == 1

    # Only root may see or redrive the DLQ
    assert client.post("/api/v1/ingest/_dlq/redrive", headers=tenant["headers"]).status_code == 403
    moved = client.post("/api/v1/ingest/_dlq/redrive", headers=root.headers)
    assert moved.status_code == 200
    assert moved.json() == {"moved": 1}
    assert queue_depth() == 1
    assert client.get("/api/v1/ingest/_dlq", headers=root.headers).json()["messages"] == 0
    _empty("ingest")
