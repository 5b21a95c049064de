"""The local SQS pollers (``molesignal.local.pollers``): a long poll returns as soon as a message
is there, and a poller stopped while it waits invokes nothing with what that receive brings."""

from __future__ import annotations

import time
from typing import Any

from molesignal import aws
from molesignal.local.pollers import QueuePoller
from molesignal.settings import get_settings
from registry import QueueWorker
from tests.support import recording_worker
from tests.support.api import unique


def _wait_for(predicate: Any, timeout_s: float = 20) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_a_long_poll_delivers_at_once_and_a_stopped_poller_takes_nothing(system: Any) -> None:
    logical = unique("pollertest")
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=get_settings().queue_name(logical))["QueueUrl"]
    worker = QueueWorker(name="pollertest", handler="tests.support.recording_worker.handler", queue=logical)
    poller = QueuePoller(worker, wait_seconds=20)
    recording_worker.bodies.clear()
    poller.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="one")
        # Within a 20 s long poll: the receive returns with the message, not at the end of the wait.
        assert _wait_for(lambda: recording_worker.bodies == ["one"])
        assert _wait_for(lambda: _in_queue(url) == 0)  # handled, then deleted
    finally:
        poller.stop()
    sqs.send_message(QueueUrl=url, MessageBody="two")
    thread = poller._thread
    assert thread is not None
    thread.join(timeout=30)  # a receive still waiting takes "two" and, stopped, leaves it
    assert not thread.is_alive()
    assert recording_worker.bodies == ["one"]


def _in_queue(url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
