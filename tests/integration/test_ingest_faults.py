"""Faults in the ingest pipeline: a worker killed mid-batch, poison messages, the DLQ.

Whatever happens, the rows stored equal the rows acknowledged — none lost, none twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from molesignal import aws
from molesignal.clock import now_us
from molesignal.ingest.envelope import IngestMessage
from molesignal.lake import garbage
from molesignal.lake.streams import Streams
from molesignal.lake.writer import Lake
from molesignal.local.pollers import QueuePoller
from molesignal.settings import get_settings
from molesignal.storage.table import Table
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
        _empty("ingest")  # a message a test left behind must not reach the next test's drain
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
    # A batch's requests for one stream land with one commit: three streams make three
    # commits in the batch, and the worker dies on the second of them.
    streams = [unique("kill") for _ in range(3)]
    sent = {stream: _send(client, tenant, stream, requests=2, per_request=25) for stream in streams}
    commits = {"n": 0}
    real_commit = Lake._commit

    def dying_commit(self: Lake, *args: Any, **kwargs: Any) -> None:
        commits["n"] += 1
        if commits["n"] == 2 and when == "before the commit":
            raise WorkerKilled
        real_commit(self, *args, **kwargs)
        if commits["n"] == 2 and when != "before the commit":
            raise WorkerKilled

    # When the worker dies on the second commit of its first batch
    with monkeypatch.context() as patched:
        patched.setattr(Lake, "_commit", dying_commit)
        with pytest.raises(WorkerKilled):
            QueuePoller(INGEST_WORKER, wait_seconds=0).poll_once()
    assert commits["n"] == 2
    # Then every message it held is redelivered and the rows land exactly once
    drain_ingest()
    for stream in streams:
        rows = landed_rows(tenant["org"], stream)
        assert len(rows) == sent[stream]
        assert len({(r["r"], r["i"]) for r in rows}) == sent[stream]


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


def _message(org: str, stream: str, request_id: str, ndjson: bytes) -> str:
    import base64

    import cramjam

    payload = base64.b64encode(bytes(cramjam.zstd.compress(ndjson))).decode()
    message = IngestMessage(
        request_id, org, stream, received_us=T0, records=1, raw_bytes=len(ndjson), payload_b64=payload
    )
    return message.to_json()


@pytest.mark.usefixtures("short_visibility")
def test_a_batch_lands_each_stream_as_one_file_and_one_commit_and_a_redelivery_adds_nothing(
    client: httpx.Client, tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    busy, quiet = unique("busy"), unique("quiet")
    sent = _send(client, tenant, busy, requests=5, per_request=20)
    _send(client, tenant, quiet, requests=1, per_request=20)
    commits: list[int] = []
    real_commit = Lake._commit

    def counted(self: Lake, org_id: str, stream: Any, request_ids: Any, *args: Any, **kwargs: Any) -> None:
        commits.append(len(request_ids))
        real_commit(self, org_id, stream, request_ids, *args, **kwargs)

    # When one worker batch holds five requests for one stream and one for another
    with monkeypatch.context() as patched:
        patched.setattr(Lake, "_commit", counted)
        assert QueuePoller(INGEST_WORKER, wait_seconds=0).poll_once() == 6
    # Then each stream is one commit and one file, and every row is there once
    assert sorted(commits) == [1, 5]
    (entry,) = Streams(Table()).manifest(tenant["org"], busy)
    assert entry["rows"] == sent and len(landed_rows(tenant["org"], busy)) == sent
    assert len(landed_rows(tenant["org"], quiet)) == 20

    # And a request of the group delivered again (SQS delivers at least once) adds nothing
    request_id = next(r for r in Lake().landed_of(tenant["org"], [str(entry["request_id"])]))
    again = _message(tenant["org"], busy, request_id, b'{"_timestamp": %d, "r": 99, "i": 0}\n' % T0)
    aws.client("sqs").send_message(QueueUrl=_url("ingest"), MessageBody=again)
    drain_ingest()
    assert len(landed_rows(tenant["org"], busy)) == sent


@pytest.mark.usefixtures("short_visibility")
def test_a_poison_message_in_a_streams_group_fails_alone_and_its_neighbours_land(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    stream = unique("group")
    sent = _send(client, tenant, stream, requests=3, per_request=10)
    # A message for the same stream whose payload is not JSON: the worker cannot read its rows
    poison = _message(tenant["org"], stream, "poison-0", b'{"_timestamp": 1, "broken": \n')
    aws.client("sqs").send_message(QueueUrl=_url("ingest"), MessageBody=poison)

    poller = QueuePoller(INGEST_WORKER, wait_seconds=0)
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (queue_depth() > 0 or queue_depth("ingest-dlq") == 0):
        if poller.poll_once() == 0:
            time.sleep(0.3)
    assert len(landed_rows(tenant["org"], stream)) == sent
    assert queue_depth("ingest-dlq") == 1


@pytest.mark.usefixtures("short_visibility")
def test_a_group_killed_before_its_commit_lands_once_and_leaves_no_listed_garbage(
    client: httpx.Client, tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = unique("reserved")
    sent = _send(client, tenant, stream, requests=4, per_request=10)
    real_commit = Lake._commit

    def dying(self: Lake, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("released"):
            raise WorkerKilled
        real_commit(self, *args, **kwargs)

    # When the worker dies after writing the group's file, before its commit
    with monkeypatch.context() as patched:
        patched.setattr(Lake, "_commit", dying)
        with pytest.raises(WorkerKilled):
            QueuePoller(INGEST_WORKER, wait_seconds=0).poll_once()
    table = Table()
    mine = f"lake/org={tenant['org']}/stream={stream}/"
    pending = [
        i
        for i in table.query_all(garbage.gc_partition(tenant["org"]), sk_prefix="PENDING#")
        if i["key"].startswith(mine)
    ]
    # Then its object is reserved (the sweep finds it without listing S3), not listed
    assert pending and Streams(table).manifest(tenant["org"], stream) == []
    # And after redelivery every row is there once, and a sweep long after removes only what no manifest lists
    drain_ingest()
    assert len(landed_rows(tenant["org"], stream)) == sent
    later = now_us() + 3601 * 1_000_000
    garbage.sweep(table, get_settings().resource_name("lake"), now_us=later, grace_s=60)
    garbage.sweep(table, get_settings().resource_name("lake"), now_us=later + 61_000_000)
    assert len(landed_rows(tenant["org"], stream)) == sent
