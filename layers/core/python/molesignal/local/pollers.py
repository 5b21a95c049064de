"""SQS pollers: what Lambda's event source mapping does, for the local system.

Each poller receives up to ``batch_size`` messages, invokes the worker with a real SQS
event, deletes the messages the worker did not report in ``batchItemFailures``, and
leaves the rest to reappear after the visibility timeout; SQS itself moves a message to
the DLQ once it has been received ``maxReceiveCount`` times.

A receive long-polls for ``wait_seconds`` (10, as Lambda's pollers wait up to 20): it returns
as soon as a message is there, so the wait costs no latency, and an idle queue costs one
ReceiveMessage per 10 s instead of one a second (the local system runs two pollers for each
of its queues). Stopping does not wait for a receive: a poller stopped while it waits takes
nothing, and only a batch already in hand is finished.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from molesignal import aws
from molesignal.local.lambda_context import LocalLambdaContext
from molesignal.local.loader import load_handler
from molesignal.observability import logger
from molesignal.settings import get_settings


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class QueuePoller:
    worker: Any  # registry.QueueWorker
    wait_seconds: int = 10
    _stop: threading.Event = field(default_factory=threading.Event)
    _busy: threading.Event = field(default_factory=threading.Event)  # a received batch is in hand
    _thread: threading.Thread | None = None
    _arns: dict[str, str] = field(default_factory=dict)

    @property
    def queue_url(self) -> str:
        sqs = aws.client("sqs")
        return str(sqs.get_queue_url(QueueName=get_settings().queue_name(self.worker.queue))["QueueUrl"])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"poller-{self.worker.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Stop after the current receive or batch (see ``join``)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """After ``request_stop``: wait (at most ``timeout``) for the batch in hand, if any. A
        poller waiting in a receive is not waited for: once stopped it invokes nothing."""
        deadline = time.monotonic() + max(0.0, timeout)
        while self._thread is not None and self._thread.is_alive() and self._busy.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._thread.join(timeout=min(left, 0.05))

    def stop(self) -> None:
        self.request_stop()
        self.join(5)

    def _queue_arn(self, url: str) -> str:
        """The queue's ARN, asked once per queue URL: it names the queue, which never changes."""
        arn = self._arns.get(url)
        if arn is None:
            attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arn = self._arns[url] = str(attributes["Attributes"]["QueueArn"])
        return arn

    def _run(self) -> None:
        url = self.queue_url
        while not self._stop.is_set():
            try:
                self.poll_once(url)
            except Exception:
                if self._stop.is_set():
                    return  # the emulator went away under a receive while the system stopped
                logger.exception("poller failed", extra={"worker": self.worker.name})
                self._stop.wait(1)

    def poll_once(self, url: str | None = None) -> int:
        """Receive one batch and invoke the worker; returns how many messages were handled."""
        sqs = aws.client("sqs")
        url = url or self.queue_url
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, self.worker.batch_size),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        self._busy.set()
        try:
            if self._stop.is_set():
                return 0  # stopping: they come back after their visibility timeout
            return self._invoke(sqs, url, received)
        finally:
            self._busy.clear()

    def _invoke(self, sqs: Any, url: str, received: list[dict[str, Any]]) -> int:
        settings = get_settings()
        event = {"Records": [sqs_record(m, self._queue_arn(url), settings.aws_region) for m in received]}
        context = LocalLambdaContext(
            function_name=f"molesignal-{self.worker.name}",
            memory_limit_in_mb=self.worker.memory_mb,
            timeout_s=self.worker.timeout_s,
            region=settings.aws_region,
        )
        try:
            result = load_handler(self.worker.handler)(event, context)
        except Exception:
            # A crashed invocation fails the whole batch: every message comes back later.
            logger.exception("worker invocation failed", extra={"worker": self.worker.name})
            return len(received)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for m in received if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            )
        return len(received)
