"""The events family's HTTP contract (spec 001). Event input models live in the domain
(``molesignal.events.model``): the worker and the offline checker share their limits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EventAccepted(BaseModel):
    id: str = Field(description="the event's id (UUIDv7 carrying its receive time), issued before processing")


class BatchAccepted(BaseModel):
    ids: list[str] = Field(description="one id per event, in request order")


class EventOut(BaseModel):
    id: str
    seq: int = Field(description="position in the org's hash chain, from 1")
    action: str
    occurred_at: str
    received_at: str
    actor: dict[str, Any]
    targets: list[dict[str, Any]]
    context: dict[str, Any] = Field(description="location, user_agent, and geo (country, asn, scope) when known")
    metadata: dict[str, Any]
    version: int
    prev_hash: str
    hash: str = Field(description="SHA-256(prev_hash || SHA-256(JCS(event without hashes))), hex")


class EventPage(BaseModel):
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None = Field(
        default=None, description="URL-safe base64 of the last item's µs position; only when has_more"
    )
    total: int = Field(description="events matching the filters")
