"""A notification: what one alert's change (firing, resolved, a repeat, a test) tells a destination.

It is rendered once, when the alert changes, and travels in the delivery message, so every
retry and every redrive sends the same body under the same id (receivers can deduplicate on
``X-MoleSignal-Delivery``).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from molesignal.clock import iso, now_us


class Status(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    TEST = "test"


def new_notification_id() -> str:
    return f"ntf_{now_us():016x}{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Notification:
    id: str
    org_id: str
    status: Status
    source_id: str  # the rule id, or a platform source (``platform:quota:ingest_qps``)
    source_name: str
    source_kind: str  # realtime, scheduled, platform, test
    severity: str
    fingerprint: str
    labels: dict[str, str]
    message: str
    started_at_us: int
    value: float | int | None = None
    threshold: float | None = None
    resolved_at_us: int | None = None
    sample: dict[str, Any] | None = None
    repeat: bool = False
    created_at_us: int = field(default_factory=now_us)

    @property
    def title(self) -> str:
        state = "TEST" if self.status is Status.TEST else self.status.value.upper()
        return f"[{state}] {self.source_name} ({self.severity})"

    def text(self) -> str:
        """The plain-text body of e-mail and chat messages."""
        lines = [self.title, "", self.message or "(no message)", ""]
        if self.labels:
            lines.append("labels: " + ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items())))
        if self.value is not None:
            threshold = f" (threshold {self.threshold})" if self.threshold is not None else ""
            lines.append(f"value: {self.value}{threshold}")
        lines.append(f"since: {iso(self.started_at_us)}")
        if self.resolved_at_us is not None:
            lines.append(f"resolved: {iso(self.resolved_at_us)}")
        lines.append(f"org: {self.org_id}   fingerprint: {self.fingerprint}")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The JSON body of webhook and SNS notifications (docs/alerts.md)."""
        return {
            "version": "1",
            "id": self.id,
            "status": self.status.value,
            "repeat": self.repeat,
            "org_id": self.org_id,
            "rule": {"id": self.source_id, "name": self.source_name, "kind": self.source_kind},
            "severity": self.severity,
            "fingerprint": self.fingerprint,
            "labels": self.labels,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "started_at": self.started_at_us,
            "resolved_at": self.resolved_at_us,
            "sample": self.sample,
            "sent_at": now_us(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(**{**data, "status": Status(data["status"])})
