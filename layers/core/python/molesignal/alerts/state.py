"""The life of one alert (a rule, or one group of a rule): ok, pending, firing, resolved.

Pure transitions, testable without storage (``advance``); ``engine`` stores them.

- ``ok``: never fired, or the condition cleared while pending.
- ``pending``: the condition holds but has not held for the rule's ``for_s`` yet.
- ``firing``: the condition held for ``for_s`` (at once when ``for_s`` is 0): notify.
  While it keeps firing, notify again after each ``repeat_interval_s`` (a repeat).
- ``resolved``: it fired and the condition cleared: notify. It stays resolved until the
  condition holds again.

A realtime alert's condition "clears" when no matching row has landed for the rule's
``resolve_after_s``; a scheduled alert's when an evaluation finds it false.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import orjson

from molesignal.alerts.notification import Status
from molesignal.storage import keys
from molesignal.storage.table import Item

SECOND_US = 1_000_000


class State(StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(source_id: str, labels: dict[str, str]) -> str:
    """A stable id for one alert: its rule and its group's labels."""
    text = orjson.dumps([source_id, sorted(labels.items())])
    return hashlib.sha256(text).hexdigest()[:16]


@dataclass(frozen=True)
class Policy:
    """The timing a source (rule or platform check) gives its alerts."""

    for_s: int = 0
    repeat_interval_s: int = 4 * 3600
    resolve_after_s: int | None = None  # realtime: quiet this long clears; None: the evaluation decides


@dataclass(frozen=True)
class Observation:
    labels: dict[str, str]
    active: bool  # the condition holds now (realtime: rows matched in this batch)
    value: float | int | None = None
    sample: dict[str, Any] | None = None


@dataclass(frozen=True)
class AlertState:
    org_id: str
    source_id: str
    fingerprint: str
    labels: dict[str, str]
    state: State = State.OK
    since_us: int = 0  # when it entered this state
    active_since_us: int = 0  # when the condition started to hold (pending and firing)
    last_match_us: int = 0  # the last time the condition held
    last_notified_us: int = 0
    value: float | int | None = None
    sample: dict[str, Any] | None = None
    version: int = 0  # 0: not stored yet
    resolve_deadline_us: int = 0  # realtime firing alerts: when quiet would clear them

    @property
    def sort_key(self) -> str:
        return f"{self.source_id}#{self.fingerprint}"

    def to_item(self) -> Item:
        item: Item = {
            "pk": keys.alert_states(self.org_id),
            "sk": self.sort_key,
            "kind": "alert_state",
            "org_id": self.org_id,
            "source_id": self.source_id,
            "fingerprint": self.fingerprint,
            "labels": dict(self.labels),
            "state": self.state.value,
            "since_us": self.since_us,
            "active_since_us": self.active_since_us,
            "last_match_us": self.last_match_us,
            "last_notified_us": self.last_notified_us,
            "value": self.value,
            "sample": self.sample,
            "version": self.version,
        }
        if self.state is State.FIRING and self.resolve_deadline_us:
            item["resolve_deadline_us"] = self.resolve_deadline_us
            item["gsi1pk"] = keys.alert_quiet_index()
            item["gsi1sk"] = f"{self.resolve_deadline_us:017d}#{self.org_id}#{self.sort_key}"
        return item

    @classmethod
    def from_item(cls, item: Item) -> AlertState:
        return cls(
            org_id=str(item["org_id"]),
            source_id=str(item["source_id"]),
            fingerprint=str(item["fingerprint"]),
            labels=dict(item.get("labels") or {}),
            state=State(item.get("state", State.OK.value)),
            since_us=int(item.get("since_us", 0)),
            active_since_us=int(item.get("active_since_us", 0)),
            last_match_us=int(item.get("last_match_us", 0)),
            last_notified_us=int(item.get("last_notified_us", 0)),
            value=item.get("value"),
            sample=item.get("sample"),
            version=int(item.get("version", 0)),
            resolve_deadline_us=int(item.get("resolve_deadline_us", 0)),
        )

    def public(self) -> dict[str, Any]:
        return {
            "rule_id": self.source_id,
            "fingerprint": self.fingerprint,
            "labels": dict(self.labels),
            "state": self.state.value,
            "since": self.since_us,
            "active_since": self.active_since_us or None,
            "last_match": self.last_match_us or None,
            "last_notified": self.last_notified_us or None,
            "value": self.value,
        }


@dataclass(frozen=True)
class Step:
    """What one observation does to an alert."""

    new: AlertState | None  # what to store; None: nothing changed worth a write
    previous: State | None  # the state before, when it changed
    notify: Status | None = None
    repeat: bool = False

    @property
    def changed(self) -> bool:
        return self.new is not None and self.previous is not None and self.previous is not self.new.state


def _quiet_for(policy: Policy, current: AlertState, now_us: int) -> bool:
    if policy.resolve_after_s is None:
        return True
    return now_us - current.last_match_us >= policy.resolve_after_s * SECOND_US


def _deadline(policy: Policy, last_match_us: int) -> int:
    return last_match_us + policy.resolve_after_s * SECOND_US if policy.resolve_after_s is not None else 0


def advance(current: AlertState, observation: Observation, policy: Policy, now_us: int) -> Step:
    """The next state of ``current`` given what was observed at ``now_us``."""
    state = current.state
    if observation.active:
        seen = replace(
            current,
            last_match_us=now_us,
            value=observation.value,
            sample=observation.sample,
            resolve_deadline_us=_deadline(policy, now_us),
        )
        if state in (State.OK, State.RESOLVED):
            if policy.for_s > 0:
                return Step(replace(seen, state=State.PENDING, since_us=now_us, active_since_us=now_us), state)
            return _fire(seen, state, now_us)
        if state is State.PENDING:
            if now_us - current.active_since_us >= policy.for_s * SECOND_US:
                return _fire(seen, state, now_us, active_since=current.active_since_us)
            return Step(seen if policy.resolve_after_s is None else None, None)
        # firing
        if now_us - current.last_notified_us >= policy.repeat_interval_s * SECOND_US:
            return Step(replace(seen, last_notified_us=now_us), None, Status.FIRING, repeat=True)
        # Keep the stored last match fresh enough for the quiet sweep, without a write per batch.
        stale = policy.resolve_after_s is not None and now_us - current.last_match_us >= max(
            SECOND_US, policy.resolve_after_s * SECOND_US // 10
        )
        return Step(seen if stale or policy.resolve_after_s is None else None, None)
    if state is State.PENDING:
        return Step(replace(current, state=State.OK, since_us=now_us, active_since_us=0), state)
    if state is State.FIRING and _quiet_for(policy, current, now_us):
        resolved = replace(
            current,
            state=State.RESOLVED,
            since_us=now_us,
            active_since_us=0,
            last_notified_us=now_us,
            resolve_deadline_us=0,
        )
        return Step(resolved, state, Status.RESOLVED)
    return Step(None, None)


def _fire(seen: AlertState, previous: State, now_us: int, *, active_since: int | None = None) -> Step:
    fired = replace(
        seen,
        state=State.FIRING,
        since_us=now_us,
        active_since_us=active_since or now_us,
        last_notified_us=now_us,
    )
    return Step(fired, previous, Status.FIRING)
