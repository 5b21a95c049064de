"""The HTTP contract of spec 004's topic endpoints (docs/topics.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from molesignal.topics.consumer import DEFAULT_LIMIT, MAX_LIMIT, MAX_TIMEOUT_S

_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
_GROUP = r"^[A-Za-z0-9_.:-]{1,128}$"
MAX_OFFSET = 2**63 - 1


class StartOffset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    Offset: int = Field(ge=0, le=MAX_OFFSET, description="the offset to read from")


class ConsumeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_id: str = Field(pattern=_NAME, description="the topic's name (CREATE TOPIC)")
    group_id: str = Field(pattern=_GROUP, description="the consumer group: 1-128 of A-Z a-z 0-9 _ . : -")
    start: Literal["Latest", "Earliest"] | StartOffset = Field(
        default="Latest",
        description='where a group that never read the partition begins: "Latest" (only new messages), '
        '"Earliest" (the oldest retained); {"Offset": n} reads from n whatever the group acknowledged',
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    partition_id: int = Field(default=0, ge=0, le=1023)
    timeout_seconds: float = Field(
        default=0,
        ge=0,
        le=MAX_TIMEOUT_S,
        description=f"wait up to this long for a message when none is ready (long poll; at most {MAX_TIMEOUT_S})",
    )


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_id: str = Field(pattern=_NAME)
    group_id: str = Field(pattern=_GROUP)
    partition_id: int = Field(default=0, ge=0, le=1023)
    upto_offset: int = Field(ge=0, le=MAX_OFFSET, description="commit every message up to and including this offset")


class TopicMessage(BaseModel):
    offset: int
    partition_id: int
    key: str | None
    op: Literal["insert", "update", "delete"]
    row: Any
    ts: int = Field(description="µs since the epoch when the change was committed")


class ConsumeAnswer(BaseModel):
    messages: list[TopicMessage]
    next_offset: int = Field(description="the offset after the last message returned (where to read next)")


class AckAnswer(BaseModel):
    success: bool
    topic_id: str
    group_id: str
    partition_id: int
    acknowledged_offset: int = Field(description="the group's committed offset in the partition after this ack")
