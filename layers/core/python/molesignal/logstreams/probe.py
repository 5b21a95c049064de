"""A test delivery: one made-up event (action ``molesignal.log_stream.test``, ``seq`` 0, no
hashes) under the delivery id ``<log stream>-test-<time>``.

HTTP log streams are sent it at once from the API, so the admin sees the receiver's answer
(nothing is retried). An S3 log stream's test goes through the fan-out queue like any delivery:
only the fan-out worker may write to customers' buckets; its outcome shows on the log stream.
"""

from __future__ import annotations

from molesignal.clock import iso, now_us
from molesignal.logstreams import message as queue
from molesignal.logstreams.delivery import Report, deliver
from molesignal.logstreams.message import FanoutMessage
from molesignal.logstreams.model import LogStream

TEST_ACTION = "molesignal.log_stream.test"


def test_event(stream: LogStream, actor: str, moment: int) -> dict[str, object]:
    return {
        "id": f"test-{moment}",
        "seq": 0,
        "action": TEST_ACTION,
        "occurred_at": iso(moment),
        "received_at": iso(moment),
        "actor": {"id": actor, "type": "user"},
        "targets": [{"id": stream.id, "type": "log_stream", "name": stream.name}],
        "context": {"location": "127.0.0.1"},
        "metadata": {"test": True},
        "version": 1,
    }


def send_test(stream: LogStream, *, actor: str) -> Report:
    moment = now_us()
    message = FanoutMessage(stream.org_id, stream.id, 0, 0, 1, label=f"test-{moment}")
    return deliver(stream, message, [test_event(stream, actor, moment)], attempt=1)


def queue_test(stream: LogStream, *, actor: str) -> str:
    """Queue a test delivery; its delivery id."""
    moment = now_us()
    built = queue.build(stream.org_id, stream.id, [test_event(stream, actor, moment)])
    labelled = FanoutMessage(**{**built.__dict__, "label": f"test-{moment}"})
    queue.send([labelled])
    return labelled.delivery_id
