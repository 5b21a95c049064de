"""A full batch of a stream erasure fits one DynamoDB transaction (at most 100 actions).

Found by bench/sql: an erasure touching 48 files sent 40 files' swaps in one transaction,
123 actions, which DynamoDB refuses (ValidationException, a 500)."""

from __future__ import annotations

from typing import Any

from molesignal.lake import garbage
from molesignal.lake.stream_rewrite import FILES_PER_COMMIT, Rewritten, StreamRewriter
from molesignal.storage.table import Table

DYNAMODB_MAX_TRANSACTION_ITEMS = 100


class CapturingClient:
    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]]) -> None:
        self.calls.append(TransactItems)


class CapturingTable(Table):
    captured = CapturingClient()

    @property
    def client(self) -> Any:
        return self.captured


def _entry(i: int) -> dict[str, Any]:
    return {"pk": "FILES#o#s", "sk": f"H#{i:04d}", "key": f"lake/org=o/stream=s/{i}.parquet", "bytes": 10}


def test_a_full_batch_fits_one_transaction(monkeypatch: Any) -> None:
    monkeypatch.setattr(garbage, "release_output", lambda table, org, key: {"Delete": {"TableName": "t", "Key": {}}})
    table = CapturingTable("t")
    batch = [
        Rewritten(_entry(i), {**_entry(i), "sk": f"H#{i:04d}~1", "key": f"lake/org=o/stream=s/{i}-1.parquet"}, 1)
        for i in range(FILES_PER_COMMIT)
    ]
    StreamRewriter(table, "bucket").commit("o", "s", batch)
    (operations,) = table.captured.calls
    assert len(operations) <= DYNAMODB_MAX_TRANSACTION_ITEMS
