"""Consume and ack (spec 004's ``/v1/api/topics/consume`` and ``/ack``), for one partition.

A group reads from where it resumes (its last acknowledged offset + 1); ``start`` decides where
a group that never read the partition begins (``Latest``, ``Earliest``), and ``{"Offset": n}``
seeks to n whatever was acknowledged. Reading moves nothing: until an ack commits them, the same
messages come back on the next consume (at-least-once). An empty read waits up to
``timeout_seconds`` for a message (a long poll, bounded under API Gateway's 30 s).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from molesignal.auth.principal import Principal, Role
from molesignal.errors import Forbidden, Invalid
from molesignal.storage.table import Table
from molesignal.topics.catalog import Topic, Topics
from molesignal.topics.groups import Groups
from molesignal.topics.log import Message, TopicLog
from molesignal.topics.wakeups import generation, wait_for_append

TOPIC_ROLE = Role.SERVICE  # service, and every role covering it: dba, system, admin, root
MAX_TIMEOUT_S = 25  # under API Gateway's 30 s integration limit, with room for the answer
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# Deployed, consumers and publishers are different functions: an empty long poll looks again
# at this interval (2 reads a second per waiting consumer).
POLL_INTERVAL_S = 0.5

StartKind = Literal["Latest", "Earliest"]


@dataclass(frozen=True)
class ConsumeRequest:
    topic_id: str
    group_id: str
    start: StartKind | int = "Latest"  # an int is {"Offset": n}
    limit: int = DEFAULT_LIMIT
    partition_id: int = 0
    timeout_seconds: float = 0


@dataclass
class Consumed:
    messages: list[Message] = field(default_factory=list)
    next_offset: int = 0


def require_topic_role(principal: Principal) -> None:
    if not principal.holds(TOPIC_ROLE):
        raise Forbidden(
            f"PERMISSION_DENIED: topics are read by roles service, dba and system (not {principal.role.value})",
            code="PERMISSION_DENIED",
        )


class TopicConsumer:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.log = TopicLog(table)
        self.groups = Groups(table)
        self.catalog_requests = 0

    @property
    def requests(self) -> int:
        """DynamoDB requests this consumer made (the benchmark counts them)."""
        return self.log.requests + self.groups.requests + self.catalog_requests

    def _topic(self, principal: Principal, topic_id: str, partition_id: int) -> Topic:
        require_topic_role(principal)
        self.catalog_requests += 1
        topic = Topics(self.table).get(principal.org_id, topic_id)
        if not 0 <= partition_id < topic.partitions:
            raise Invalid(
                f"invalid argument: partition_id: topic {topic.name!r} has partitions 0 to {topic.partitions - 1}",
                code="INVALID_REQUEST",
            )
        return topic

    def consume(self, principal: Principal, request: ConsumeRequest) -> Consumed:
        topic = self._topic(principal, request.topic_id, request.partition_id)
        position = self._position(topic, request)
        deadline = time.monotonic() + min(max(request.timeout_seconds, 0), MAX_TIMEOUT_S)
        while True:
            seen = generation()
            messages = self.log.read(topic, request.partition_id, position, request.limit)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                break
            wait_for_append(seen, min(POLL_INTERVAL_S, remaining))
        next_offset = messages[-1].offset + 1 if messages else position
        return Consumed(messages, next_offset)

    def _position(self, topic: Topic, request: ConsumeRequest) -> int:
        partition = request.partition_id
        if isinstance(request.start, int):
            self.groups.establish(topic, request.group_id, partition, request.start)
            return request.start
        resume = self.groups.next_offset(topic, request.group_id, partition)
        if resume is not None:
            return resume
        earliest = request.start == "Earliest"
        first = self.log.earliest(topic, partition) if earliest else self.log.head(topic, partition)
        return self.groups.establish(topic, request.group_id, partition, first)

    def ack(self, principal: Principal, topic_id: str, group_id: str, partition_id: int, upto_offset: int) -> int:
        topic = self._topic(principal, topic_id, partition_id)
        head = self.log.head(topic, partition_id)
        if upto_offset >= head:
            last = f"the last message is at offset {head - 1}" if head else "the partition holds no message yet"
            raise Invalid(f"invalid argument: upto_offset {upto_offset}: {last}", code="INVALID_REQUEST")
        return self.groups.ack(topic, group_id, partition_id, upto_offset)
