"""Topic definitions: name, partitions, retention and sources, one item per topic in the org.

A topic is org-scoped: its name is looked up in the caller's org only, so another org's topic
is as unknown as one that never existed. Each topic gets a fresh ``uid`` when created, and its
messages and offsets are keyed by it: a topic dropped and created again starts empty.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from molesignal.clock import now_us
from molesignal.errors import Conflict, Invalid, NotFound
from molesignal.lake.watch import Watch, settle
from molesignal.storage.table import ConditionFailed, Table

MAX_PARTITIONS = 64
DEFAULT_RETENTION_S = 7 * 24 * 3600
MAX_RETENTION_S = 365 * 24 * 3600
MAX_TOPICS_PER_ORG = 100
MAX_SOURCES = 32
OPERATIONS = ("insert", "update", "delete")


class TopicNotFound(NotFound):
    code = "TOPIC_NOT_FOUND"


@dataclass(frozen=True)
class Source:
    relation: str  # "<namespace>.<table>", or "default.<stream>" for an ingest stream
    operations: tuple[str, ...] = OPERATIONS

    def public(self) -> dict[str, Any]:
        return {"relation": self.relation, "operations": list(self.operations)}


@dataclass(frozen=True)
class Topic:
    org_id: str
    name: str
    uid: str
    partitions: int
    retention_s: int
    sources: tuple[Source, ...] = field(default_factory=tuple)
    created_at_us: int = 0
    created_by: str = ""

    def sources_of(self, relation: str, operation: str) -> bool:
        return any(s.relation == relation and operation in s.operations for s in self.sources)


def _partition(org_id: str) -> str:
    return f"ORG#{org_id}#TOPICS"


def _from_item(item: dict[str, Any]) -> Topic:
    return Topic(
        org_id=str(item["org_id"]),
        name=str(item["name"]),
        uid=str(item["uid"]),
        partitions=int(item["partitions"]),
        retention_s=int(item["retention_s"]),
        sources=tuple(Source(str(s["relation"]), tuple(s["operations"])) for s in item.get("sources") or []),
        created_at_us=int(item.get("created_at_us", 0)),
        created_by=str(item.get("created_by", "")),
    )


class Topics:
    def __init__(self, table: Table) -> None:
        self.table = table

    def all(self, org_id: str) -> list[Topic]:
        items = self.table.query_all(_partition(org_id), consistent=True)
        return sorted((_from_item(i) for i in items), key=lambda t: t.name)

    def find(self, org_id: str, name: str) -> Topic | None:
        item = self.table.get(_partition(org_id), name.lower())
        return _from_item(item) if item else None

    def get(self, org_id: str, name: str) -> Topic:
        topic = self.find(org_id, name)
        if topic is None:
            raise TopicNotFound(f"TOPIC_NOT_FOUND: topic {name!r} does not exist")
        return topic

    def create(
        self, org_id: str, name: str, partitions: int, retention_s: int, *, created_by: str, if_not_exists: bool
    ) -> bool:
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise Invalid(f"INVALID_SQL: PARTITIONS must be from 1 to {MAX_PARTITIONS}", code="INVALID_SQL")
        if not 1 <= retention_s <= MAX_RETENTION_S:
            raise Invalid("INVALID_SQL: RETENTION must be from 1 second to 365 days", code="INVALID_SQL")
        if len(self.all(org_id)) >= MAX_TOPICS_PER_ORG:
            raise Invalid(f"INVALID_SQL: an org has at most {MAX_TOPICS_PER_ORG} topics", code="INVALID_SQL")
        item = {
            "pk": _partition(org_id),
            "sk": name,
            "org_id": org_id,
            "name": name,
            "uid": secrets.token_hex(8),
            "partitions": partitions,
            "retention_s": retention_s,
            "sources": [],
            "created_at_us": now_us(),
            "created_by": created_by,
        }
        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            if if_not_exists:
                return False
            raise Conflict(f"CONFLICT: topic {name!r} already exists", code="CONFLICT") from None
        return True

    def add_source(self, org_id: str, name: str, source: Source) -> Topic:
        topic = self.get(org_id, name)
        kept = [s for s in topic.sources if s.relation != source.relation]
        if len(kept) >= MAX_SOURCES:
            raise Invalid(f"INVALID_SQL: a topic has at most {MAX_SOURCES} sources", code="INVALID_SQL")
        self._set_sources(topic, [*kept, source])
        # Writers cache the org's topic list for ``watch_cache_s``: answering after it means
        # every change committed after the answer is published (docs/topics.md).
        settle()
        return self.get(org_id, name)

    def drop_source(self, org_id: str, name: str, relation: str) -> bool:
        topic = self.get(org_id, name)
        kept = [s for s in topic.sources if s.relation != relation]
        if len(kept) == len(topic.sources):
            return False
        self._set_sources(topic, kept)
        return True

    def _set_sources(self, topic: Topic, sources: list[Source]) -> None:
        """Replace the topic's sources, unless it was dropped (and perhaps created again) since
        it was read."""
        try:
            self.table.update(
                _partition(topic.org_id),
                topic.name,
                "SET sources = :sources",
                values={":sources": [s.public() for s in sources], ":uid": topic.uid},
                condition="uid = :uid",
            )
        except ConditionFailed:
            raise TopicNotFound(f"TOPIC_NOT_FOUND: topic {topic.name!r} does not exist") from None
        Watch(self.table).topics_changed(topic.org_id)

    def drop(self, org_id: str, name: str, *, if_exists: bool) -> bool:
        """Forget the topic. Its messages become unreachable at once (keyed by the uid) and
        expire with their retention (DynamoDB TTL)."""
        try:
            self.table.delete(_partition(org_id), name, condition="attribute_exists(pk)")
        except ConditionFailed:
            if if_exists:
                return False
            raise TopicNotFound(f"TOPIC_NOT_FOUND: topic {name!r} does not exist") from None
        Watch(self.table).topics_changed(org_id)
        return True


def describe_sources(sources: tuple[Source, ...]) -> str:
    """``app.orders ON INSERT, UPDATE; default.logs ON INSERT``."""
    return "; ".join(f"{s.relation} ON {', '.join(o.upper() for o in s.operations)}" for s in sources)
