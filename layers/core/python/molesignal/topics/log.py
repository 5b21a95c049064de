"""A topic's messages: one DynamoDB item per message, keyed by partition and offset.

Offsets in a partition are dense and monotonic. Each partition has a head item holding the
next offset; an append is one transaction that moves the head from the offset it read to that
plus the messages it writes, and puts the messages at exactly those offsets. Two writers that
read the same head cannot both commit (the loser re-reads and tries again), and a reader never
sees a gap: offset n+1 can only commit after the transaction that wrote n did.

An append on behalf of a committed change (its ``change_id``) is idempotent: each of its
transactions also puts a marker ``C#<change id>#<chunk>`` in the partition, on condition that
it is not there yet, so a change published twice (its committing process and the outbox
sweeper, or a sweeper run that died half-way) writes each message once.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from molesignal.clock import now_us
from molesignal.storage.table import ConditionFailed, Table
from molesignal.topics.catalog import Topic

# A transaction holds 100 items: the head's update, the change's marker and up to 98
# messages, within 4 MB.
MESSAGES_PER_TRANSACTION = 98
BYTES_PER_TRANSACTION = 3_500_000
# A row whose JSON is larger than this is published without it (``row`` null, ``truncated``):
# a DynamoDB item holds 400 KB.
MAX_ROW_BYTES = 300_000
APPEND_ATTEMPTS = 50
_HEAD = "HEAD"
_MESSAGE = "M#"
_CHANGE = "C#"


@dataclass(frozen=True)
class Message:
    partition_id: int
    offset: int
    key: str | None
    op: str
    row: Any
    ts: int  # µs since the epoch, when the change was committed

    def public(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "partition_id": self.partition_id,
            "key": self.key,
            "op": self.op,
            "row": self.row,
            "ts": self.ts,
        }


@dataclass(frozen=True)
class Draft:
    """A message before it has an offset."""

    key: str | None
    op: str
    row_json: str


def partition_key(topic: Topic, partition_id: int) -> str:
    return f"ORG#{topic.org_id}#TOPIC#{topic.uid}#P#{partition_id}"


def _message_sk(offset: int) -> str:
    return f"{_MESSAGE}{offset:020d}"


def row_json(row: Any) -> str:
    text = json.dumps(row, default=str, separators=(",", ":"))
    if len(text.encode()) > MAX_ROW_BYTES:
        return json.dumps({"truncated": True, "bytes": len(text.encode())})
    return text


class TopicLog:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.requests = 0  # DynamoDB requests this instance made (the benchmark counts them)

    def head(self, topic: Topic, partition_id: int) -> int:
        """The next offset to be written (the count of messages ever written) in the partition."""
        self.requests += 1
        item = self.table.get(partition_key(topic, partition_id), _HEAD)
        return int(item["next_offset"]) if item else 0

    def earliest(self, topic: Topic, partition_id: int) -> int:
        """The first offset still retained (the head when none is)."""
        page = self.read(topic, partition_id, 0, 1)
        return page[0].offset if page else self.head(topic, partition_id)

    def append(
        self, topic: Topic, partition_id: int, drafts: Sequence[Draft], change_id: str | None = None
    ) -> list[int]:
        """Write ``drafts`` at the partition's next offsets, in order; returns their offsets.
        With a ``change_id``, drafts that change already wrote here are not written again
        (their offsets are returned as first written)."""
        offsets: list[int] = []
        for index, chunk in enumerate(_chunks(drafts)):
            marker = None if change_id is None else f"{_CHANGE}{change_id}#{index}"
            offsets.extend(self._append_chunk(topic, partition_id, chunk, marker))
        return offsets

    def _written(self, pk: str, marker: str) -> list[int] | None:
        self.requests += 1
        item = self.table.get(pk, marker)
        if item is None:
            return None
        first = int(item["first_offset"])
        return list(range(first, first + int(item["count"])))

    def _append_chunk(self, topic: Topic, partition_id: int, drafts: Sequence[Draft], marker: str | None) -> list[int]:
        pk = partition_key(topic, partition_id)
        ts = now_us()
        expires_at = ts // 1_000_000 + topic.retention_s
        for attempt in range(APPEND_ATTEMPTS):
            first = self.head(topic, partition_id)
            head_op = self.table.update_op(
                pk,
                _HEAD,
                "SET next_offset = :next",
                condition="attribute_not_exists(next_offset) OR next_offset = :first",
                values={":next": first + len(drafts), ":first": first},
            )
            puts = [
                self.table.put_op(
                    {
                        "pk": pk,
                        "sk": _message_sk(first + index),
                        "offset": first + index,
                        "key": draft.key,
                        "op": draft.op,
                        "row": draft.row_json,
                        "ts": ts,
                        "expires_at": expires_at,
                    },
                    condition="attribute_not_exists(pk)",
                )
                for index, draft in enumerate(drafts)
            ]
            if marker is not None:
                once = {"pk": pk, "sk": marker, "first_offset": first, "count": len(drafts), "expires_at": expires_at}
                puts.append(self.table.put_op(once, condition="attribute_not_exists(pk)"))
            try:
                self.requests += 1
                self.table.transact([head_op, *puts])
                return list(range(first, first + len(drafts)))
            except ConditionFailed:
                if marker is not None and (done := self._written(pk, marker)) is not None:
                    return done  # published before: by the committing process, or an earlier sweep
                # Another writer moved the head: read it again after a short, jittered pause.
                time.sleep(min(0.05, 0.002 * (attempt + 1)) * secrets.randbelow(1000) / 1000)
        raise RuntimeError(f"topic {topic.name!r} partition {partition_id} kept changing; the append gave up")

    def read(self, topic: Topic, partition_id: int, start: int, limit: int) -> list[Message]:
        """Up to ``limit`` retained messages from offset ``start`` on, in offset order."""
        pk = partition_key(topic, partition_id)
        now_s = now_us() // 1_000_000
        found: list[Message] = []
        cursor: str | None = None
        upper = _message_sk(10**19)
        while len(found) < limit:
            self.requests += 1
            items, cursor = self.table.query(
                pk, sk_between=(_message_sk(start), upper), limit=limit - len(found), consistent=True, cursor=cursor
            )
            found += [_message(partition_id, i) for i in items if int(i.get("expires_at", now_s + 1)) > now_s]
            if not cursor:
                break
        return found


def _message(partition_id: int, item: dict[str, Any]) -> Message:
    return Message(
        partition_id=partition_id,
        offset=int(item["offset"]),
        key=item.get("key"),
        op=str(item["op"]),
        row=json.loads(str(item["row"])),
        ts=int(item["ts"]),
    )


def _chunks(drafts: Sequence[Draft]) -> list[list[Draft]]:
    chunks: list[list[Draft]] = [[]]
    size = 0
    for draft in drafts:
        weight = len(draft.row_json) + 200
        if len(chunks[-1]) >= MESSAGES_PER_TRANSACTION or (chunks[-1] and size + weight > BYTES_PER_TRANSACTION):
            chunks.append([])
            size = 0
        chunks[-1].append(draft)
        size += weight
    return [c for c in chunks if c]
