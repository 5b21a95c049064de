"""The local stand-ins for Lambda's event sources: SQS pollers (batches, partial failures,
redrive to the DLQ) and the scheduler (EventBridge rules), against the emulator."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import httpx

import registry
from molesignal import aws
from molesignal.local.pollers import QueuePoller
from molesignal.local.scheduler import Scheduler
from molesignal.provision import ensure_queue
from molesignal.resources import QueueDef
from molesignal.storage.table import Table
from tests.support import workers


def test_poller_deletes_successes_and_redrives_poison_to_the_dlq(system: Any) -> None:
    # Given a queue whose messages go to the DLQ after 2 failed receives
    queue = QueueDef(f"pollertest-{uuid.uuid4().hex[:6]}", visibility_timeout_s=1, max_receive_count=2)
    urls = ensure_queue(queue)
    sqs = aws.client("sqs")
    bodies = [f"good-{i}" for i in range(12)] + ["poison"]
    for body in bodies:
        sqs.send_message(
            QueueUrl=urls["url"],
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )
    worker = registry.QueueWorker(
        name="pollertest", handler="tests.support.workers.lambda_handler", queue=queue.logical, batch_size=5
    )
    poller = QueuePoller(worker, wait_seconds=0)
    workers.seen.clear()
    workers.events.clear()

    # When the poller runs until the queue is drained
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        handled = poller.poll_once(urls["url"])
        attributes = sqs.get_queue_attributes(
            QueueUrl=urls["url"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if (
            handled == 0
            and attributes["ApproximateNumberOfMessages"] == "0"
            and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
        ):
            break
        if handled == 0:
            time.sleep(0.3)

    # Then every good message was processed exactly once, in batches of at most 5
    good = [s["body"] for s in workers.seen if s["body"] != "poison"]
    assert sorted(good) == sorted(b for b in bodies if b != "poison")
    assert all(len(e["Records"]) <= 5 for e in workers.events)
    # and the poison message was tried max_receive_count times, then moved to the DLQ
    poison_tries = [s["receive_count"] for s in workers.seen if s["body"] == "poison"]
    assert poison_tries == ["1", "2"]
    # (SQS moves it on the receive after its last allowed one, so poll both queues a little)
    dead: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while not dead and time.monotonic() < deadline:
        poller.poll_once(urls["url"])
        dead = sqs.receive_message(QueueUrl=urls["dlq_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
    assert [m["Body"] for m in dead] == ["poison"]
    assert [s["receive_count"] for s in workers.seen if s["body"] == "poison"] == ["1", "2"]  # never a third try
    # and the events had Lambda's SQS shape
    record = workers.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(queue.logical) or queue.logical in record["eventSourceARN"]
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert {"messageId", "receiptHandle", "body", "attributes", "md5OfBody", "awsRegion"} <= set(record)


def test_a_crashing_worker_leaves_the_whole_batch_for_redelivery(system: Any) -> None:
    queue = QueueDef(f"crashtest-{uuid.uuid4().hex[:6]}", visibility_timeout_s=1, max_receive_count=5)
    urls = ensure_queue(queue)
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=urls["url"], MessageBody="good-once")
    crashing = registry.QueueWorker(
        name="crash", handler="tests.support.workers.not_a_handler_at_all", queue=queue.logical
    )
    assert QueuePoller(crashing, wait_seconds=0).poll_once(urls["url"]) == 1
    time.sleep(1.2)
    # the message is still there for a healthy worker
    healthy = registry.QueueWorker(name="ok", handler="tests.support.workers.lambda_handler", queue=queue.logical)
    workers.seen.clear()
    deadline = time.monotonic() + 10
    while not workers.seen and time.monotonic() < deadline:
        QueuePoller(healthy, wait_seconds=1).poll_once(urls["url"])
    assert [s["body"] for s in workers.seen] == ["good-once"]


def test_housekeeping_schedule_purges_only_expired_items(system: Any) -> None:
    table = Table()
    now = int(time.time())
    tag = uuid.uuid4().hex[:8]
    table.put({"pk": f"LOGINFAIL#old-{tag}", "sk": "COUNTER", "count": 3, "expires_at": now - 10})
    table.put({"pk": f"LOGINFAIL#new-{tag}", "sk": "COUNTER", "count": 1, "expires_at": now + 600})
    table.put({"pk": f"ORG#keep-{tag}", "sk": "META", "expires_at": now - 10})  # tenant data is never purged here
    result = Scheduler(tuple(registry.REGISTRY.schedules)).fire("housekeeping_worker")
    assert result["deleted"] >= 1
    assert table.get(f"LOGINFAIL#old-{tag}", "COUNTER") is None
    assert table.get(f"LOGINFAIL#new-{tag}", "COUNTER") is not None
    assert table.get(f"ORG#keep-{tag}", "META") is not None


def test_the_gateway_answers_keep_alive_connections_without_nagle(system: Any, base_url: str) -> None:
    # Given a client that keeps its connection open between requests, as every SDK does
    # (the gateway's accepted sockets lacked TCP_NODELAY: each response after a connection's
    # first was held ~40 ms behind the client's delayed ACK)
    with httpx.Client(base_url=base_url) as client:
        for _ in range(2):
            assert client.get("/api/v1/nope").status_code == 404

        # Then every connection the gateway holds open sends without delay
        connections = list(system._server.server_state.connections)
        assert connections, "the gateway holds no open connection"
        for protocol in connections:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
