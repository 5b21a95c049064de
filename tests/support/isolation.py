"""Isolated DynamoDB transactions in the embedded emulator, for tests of concurrent writers.

moto 5.2.5 backs up the *whole* table before a ``TransactWriteItems`` and, when the
transaction is cancelled (a condition failed: the very case concurrent writers rely on),
puts that backup back, losing whatever other requests wrote in between; its deep copy also
fails now and then while another request changes the table. DynamoDB itself isolates
transactions, and so does the durable local emulator (ADR on the local emulator): tests that
race writers on purpose serialise moto's DynamoDB calls so that they test MoleSignal, not
that emulator bug. Requests still interleave between calls, as they do on AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

_CALLS = (
    "transact_write_items",
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "get_item",
    "batch_get_item",
    "query",
    "scan",
)


@pytest.fixture
def isolated_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in _CALLS:
        original = getattr(DynamoDBBackend, name)

        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialised)
    yield
