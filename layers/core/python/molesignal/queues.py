"""SQS queue URLs by logical name (``molesignal.resources``), looked up once per process."""

from __future__ import annotations

import threading

from molesignal import aws
from molesignal.settings import get_settings

_urls: dict[tuple[str | None, str], str] = {}
_lock = threading.Lock()


def queue_url(logical: str) -> str:
    settings = get_settings()
    name = settings.queue_name(logical)
    key = (settings.aws_endpoint_url, name)
    found = _urls.get(key)
    if found is None:
        found = str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        with _lock:
            _urls[key] = found
    return found
