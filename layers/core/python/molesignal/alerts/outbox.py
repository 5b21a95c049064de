"""Handing notifications to the delivery worker: one queue message per destination, so a
receiver that fails is retried (and dead-lettered) alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from molesignal import aws
from molesignal.alerts.notification import Notification
from molesignal.platform_events import ALERT_QUEUE
from molesignal.queues import queue_url

NOTIFICATION = "notification"


def message(notification: Notification, destination_id: str) -> dict[str, Any]:
    return {"kind": NOTIFICATION, "destination_id": destination_id, "notification": notification.to_dict()}


def send(notification: Notification, destination_ids: Sequence[str]) -> None:
    entries = [
        {
            "Id": str(index),
            "MessageBody": orjson.dumps(message(notification, destination_id)).decode(),
            "MessageAttributes": {"org_id": {"DataType": "String", "StringValue": notification.org_id}},
        }
        for index, destination_id in enumerate(destination_ids)
    ]
    sqs = aws.client("sqs")
    url = queue_url(ALERT_QUEUE)
    for start in range(0, len(entries), 10):
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries[start : start + 10])
        if answer.get("Failed"):
            raise RuntimeError(f"the delivery queue refused notifications: {answer['Failed'][:3]}")
