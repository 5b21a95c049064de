"""Silences: label matchers and a time window during which matching notifications are muted.

An alert's labels are its rule's (``rule``, ``rule_id``, ``severity``, the rule's own
``labels``) and its group's (the ``group_by`` columns and their values). A silence matches
an alert when every matcher does: ``=`` and ``!=`` compare text, ``=~`` and ``!~`` match a
regular expression against the whole value. A muted notification is not sent; the history
records it, and the alert's state moves on as usual.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, Invalid, NotFound
from molesignal.storage import keys
from molesignal.storage.table import Item, Table

MAX_SILENCES = 1000
MAX_MATCHERS = 20
MAX_PATTERN_CHARS = 256
OPERATORS = ("=", "!=", "=~", "!~")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")


def new_silence_id() -> str:
    return "sil_" + secrets.token_hex(8)


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    op: str = "="

    def check(self) -> Matcher:
        if not _LABEL.match(self.name):
            raise Invalid(f"invalid argument: matchers: {self.name!r} is not a label name")
        if self.op not in OPERATORS:
            raise Invalid(f"invalid argument: matchers: op must be one of {', '.join(OPERATORS)}")
        if len(self.value) > MAX_PATTERN_CHARS:
            raise Invalid(f"invalid argument: matchers: a value is at most {MAX_PATTERN_CHARS} characters")
        if self.op in ("=~", "!~"):
            try:
                _pattern(self.value)
            except re.error as exc:
                raise Invalid(f"invalid argument: matchers: {self.value!r} is not a regular expression: {exc}") from exc
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _pattern(self.value).fullmatch(value) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Silence:
    org_id: str
    id: str
    matchers: tuple[Matcher, ...]
    starts_at_us: int
    ends_at_us: int
    comment: str = ""
    created_by: str = ""
    created_at_us: int = 0

    def active(self, at_us: int) -> bool:
        return self.starts_at_us <= at_us < self.ends_at_us

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    @classmethod
    def from_item(cls, item: Item) -> Silence:
        return cls(
            org_id=str(item["org_id"]),
            id=str(item["id"]),
            matchers=tuple(Matcher(str(m["name"]), str(m["value"]), str(m.get("op", "="))) for m in item["matchers"]),
            starts_at_us=int(item["starts_at_us"]),
            ends_at_us=int(item["ends_at_us"]),
            comment=str(item.get("comment", "")),
            created_by=str(item.get("created_by", "")),
            created_at_us=int(item.get("created_at_us", 0)),
        )

    def public(self, at_us: int | None = None) -> dict[str, Any]:
        moment = now_us() if at_us is None else at_us
        return {
            "id": self.id,
            "matchers": [{"name": m.name, "value": m.value, "op": m.op} for m in self.matchers],
            "starts_at": self.starts_at_us,
            "ends_at": self.ends_at_us,
            "comment": self.comment,
            "created_by": self.created_by,
            "created_at": iso(self.created_at_us),
            "state": "active" if self.active(moment) else ("pending" if moment < self.starts_at_us else "expired"),
        }


class Silences:
    def __init__(self, table: Table) -> None:
        self.table = table

    def all(self, org_id: str) -> list[Silence]:
        items = self.table.query_all(keys.alert_silences(org_id), consistent=True)
        return sorted((Silence.from_item(i) for i in items), key=lambda s: (s.ends_at_us, s.id), reverse=True)

    def get(self, org_id: str, silence_id: str) -> Silence:
        item = self.table.get(keys.alert_silences(org_id), silence_id)
        if not item:
            raise NotFound(f"not found: silence {silence_id!r}")
        return Silence.from_item(item)

    def create(
        self,
        org_id: str,
        matchers: list[Matcher],
        *,
        starts_at_us: int | None,
        ends_at_us: int,
        comment: str,
        created_by: str,
    ) -> Silence:
        now = now_us()
        starts = now if starts_at_us is None else starts_at_us
        if not matchers or len(matchers) > MAX_MATCHERS:
            raise Invalid(f"invalid argument: matchers: give 1-{MAX_MATCHERS}")
        if ends_at_us <= max(starts, now):
            raise Invalid("invalid argument: ends_at must be in the future and after starts_at")
        if len(self.table.query_all(keys.alert_silences(org_id))) >= MAX_SILENCES:
            raise Conflict(f"conflict: an org may have at most {MAX_SILENCES} silences; expire old ones")
        silence = Silence(
            org_id=org_id,
            id=new_silence_id(),
            matchers=tuple(m.check() for m in matchers),
            starts_at_us=starts,
            ends_at_us=ends_at_us,
            comment=comment,
            created_by=created_by,
            created_at_us=now,
        )
        self.table.put(
            {
                "pk": keys.alert_silences(org_id),
                "sk": silence.id,
                "kind": "alert_silence",
                "org_id": org_id,
                "id": silence.id,
                "matchers": [{"name": m.name, "value": m.value, "op": m.op} for m in silence.matchers],
                "starts_at_us": silence.starts_at_us,
                "ends_at_us": silence.ends_at_us,
                "comment": comment,
                "created_by": created_by,
                "created_at_us": now,
                # Kept a week after it ends, for the record; then DynamoDB's TTL may remove it.
                "expires_at": ends_at_us // 1_000_000 + 7 * 86400,
            }
        )
        return silence

    def expire(self, org_id: str, silence_id: str) -> Silence:
        """End a silence now (it stays listed as expired)."""
        current = self.get(org_id, silence_id)
        now = now_us()
        if current.ends_at_us <= now:
            return current
        self.table.update(keys.alert_silences(org_id), silence_id, "SET ends_at_us = :now", values={":now": now})
        return self.get(org_id, silence_id)

    def muting(self, org_id: str, labels: dict[str, str], at_us: int) -> Silence | None:
        """The first active silence that matches ``labels``."""
        for silence in self.all(org_id):
            if silence.active(at_us) and silence.matches(labels):
                return silence
        return None
