"""What an audit event may hold, and the limits that keep it bounded (docs/events.md).

Validation failures name the field (``targets.1.id``) and become 422 in the events family.
Metadata is a flat object of scalars, bounded in keys, key length and value length; numbers
must be finite and integers within ±2**53 so the canonical form (RFC 8785, IEEE doubles)
hashes exactly what was stored.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

MAX_BATCH = 1000
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500
MAX_TARGETS = 50
MAX_ID_LENGTH = 256
MAX_ACTION_LENGTH = 128
MAX_USER_AGENT_LENGTH = 1024
FUTURE_SKEW = timedelta(minutes=5)
EXACT_INTEGER = 2**53

_ACTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_text(value: Any) -> Any:
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, BeforeValidator(_plain_text), Field(min_length=1, max_length=MAX_ID_LENGTH)]
MetadataValue = str | bool | int | float | None


def check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        if not key or len(key) > MAX_METADATA_KEY_LENGTH:
            raise ValueError(f"key {key[:50]!r}: keys are 1-{MAX_METADATA_KEY_LENGTH} characters")
        if isinstance(item, str) and len(item) > MAX_METADATA_VALUE_LENGTH:
            raise ValueError(f"key {key!r}: values are at most {MAX_METADATA_VALUE_LENGTH} characters")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"key {key!r}: numbers must be finite")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > EXACT_INTEGER:
            raise ValueError(f"key {key!r}: integers must lie within ±2**53")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Party(_Strict):
    """An actor or a target: who did it, or what it was done to."""

    id: Text
    type: Annotated[str, BeforeValidator(_plain_text), Field(min_length=1, max_length=128)]
    # The length limit sits on the str branch: on the whole Optional it would be checked on None too.
    name: Annotated[str, BeforeValidator(_plain_text), Field(max_length=MAX_ID_LENGTH)] | None = None
    metadata: dict[str, MetadataValue] | None = None

    _metadata = field_validator("metadata")(check_metadata)


class Context(_Strict):
    location: str = Field(description="the IP address (v4 or v6) the action came from")
    user_agent: Annotated[str | None, Field(max_length=MAX_USER_AGENT_LENGTH)] = None

    @field_validator("location")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError as exc:
            raise ValueError("must be an IPv4 or IPv6 address") from exc


class EventIn(_Strict):
    action: Annotated[str, Field(min_length=1, max_length=MAX_ACTION_LENGTH, pattern=_ACTION.pattern)]
    occurred_at: datetime = Field(description="ISO 8601, optional µs; without an offset it is read as UTC")
    actor: Party
    targets: Annotated[list[Party], Field(max_length=MAX_TARGETS)]
    context: Context
    metadata: dict[str, MetadataValue] | None = None
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] = 1

    _metadata = field_validator("metadata")(check_metadata)

    @field_validator("occurred_at")
    @classmethod
    def _when(cls, value: datetime) -> datetime:
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        if moment.year < 1971:
            raise ValueError("must be after 1970")
        if moment > datetime.now(UTC) + FUTURE_SKEW:
            raise ValueError("must not be more than 5 minutes in the future")
        return moment.astimezone(UTC)

    @property
    def occurred_at_us(self) -> int:
        delta = self.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class EventBatchIn(_Strict):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


def iso_us(epoch_us: int) -> str:
    """ISO 8601 in UTC with 'Z', µs shown only when there are any (one spelling per instant)."""
    seconds, micros = divmod(epoch_us, 1_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{micros:06d}Z" if micros else f"{text}Z"


def party(model: Party) -> dict[str, Any]:
    out: dict[str, Any] = {"id": model.id, "type": model.type}
    if model.name is not None:
        out["name"] = model.name
    if model.metadata:
        out["metadata"] = model.metadata
    return out


def accepted(event: EventIn, event_id: str, received_us: int) -> dict[str, Any]:
    """The event as queued: canonical values only (the worker adds sequence, geo and hashes)."""
    context: dict[str, Any] = {"location": event.context.location}
    if event.context.user_agent is not None:
        context["user_agent"] = event.context.user_agent
    return {
        "id": event_id,
        "received_us": received_us,
        "action": event.action,
        "occurred_at_us": event.occurred_at_us,
        "actor": party(event.actor),
        "targets": [party(t) for t in event.targets],
        "context": context,
        "metadata": event.metadata or {},
        "version": event.version,
    }
