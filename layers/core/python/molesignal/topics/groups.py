"""Consumer groups' committed offsets, one item per (topic, group, partition).

``last_acked_offset`` is the highest offset the group acknowledged (-1: none yet); the group
resumes at the one after it. A group's first consume on a partition stores where it starts
(``Latest``: the head; ``Earliest``: the first retained offset) as if everything before it
were acknowledged, so a ``Latest`` group that polls again does not skip what arrived between
its polls. Acks only move forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from molesignal.clock import now_us
from molesignal.storage.table import ConditionFailed, Table
from molesignal.topics.catalog import Topic


@dataclass(frozen=True)
class GroupOffset:
    topic: str
    group_id: str
    partition_id: int
    last_acked_offset: int
    updated_at_us: int


def _partition(topic: Topic) -> str:
    return f"ORG#{topic.org_id}#TOPIC#{topic.uid}#GROUPS"


def _sort_key(group_id: str, partition_id: int) -> str:
    return f"{group_id}#P#{partition_id:04d}"


class Groups:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.requests = 0

    def next_offset(self, topic: Topic, group_id: str, partition_id: int) -> int | None:
        """Where the group resumes in the partition, or None when it has never read it."""
        self.requests += 1
        item = self.table.get(_partition(topic), _sort_key(group_id, partition_id))
        return int(item["last_acked_offset"]) + 1 if item else None

    def establish(self, topic: Topic, group_id: str, partition_id: int, start: int) -> int:
        """Record that the group starts at ``start`` unless another consumer of it did first;
        returns where the group resumes."""
        try:
            self.requests += 1
            self.table.put(self._item(topic, group_id, partition_id, start - 1), condition="attribute_not_exists(pk)")
            return start
        except ConditionFailed:
            found = self.next_offset(topic, group_id, partition_id)
            return start if found is None else found

    def ack(self, topic: Topic, group_id: str, partition_id: int, upto_offset: int) -> int:
        """Commit everything up to ``upto_offset``; returns the group's committed offset (a lower
        ack than the one stored changes nothing)."""
        try:
            self.requests += 1
            self.table.put(
                self._item(topic, group_id, partition_id, upto_offset),
                condition="attribute_not_exists(pk) OR last_acked_offset < :upto",
                values={":upto": upto_offset},
            )
            return upto_offset
        except ConditionFailed:
            found = self.next_offset(topic, group_id, partition_id)
            return upto_offset if found is None else found - 1

    def all(self, topic: Topic) -> list[GroupOffset]:
        return [
            GroupOffset(
                topic.name,
                str(i["group_id"]),
                int(i["partition_id"]),
                int(i["last_acked_offset"]),
                int(i.get("updated_at_us", 0)),
            )
            for i in self.table.query_all(_partition(topic), consistent=True)
        ]

    def _item(self, topic: Topic, group_id: str, partition_id: int, last_acked: int) -> dict[str, Any]:
        return {
            "pk": _partition(topic),
            "sk": _sort_key(group_id, partition_id),
            "group_id": group_id,
            "partition_id": partition_id,
            "last_acked_offset": last_acked,
            "updated_at_us": now_us(),
        }
