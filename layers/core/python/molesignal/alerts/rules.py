"""Alert rules of an org, as stored: what to watch, when it fires, whom to tell.

``realtime`` rules name a stream and a ``where`` predicate that the ingest worker evaluates on
every batch it lands; ``scheduled`` rules run a query every ``interval_s`` over the last
``window_s`` and compare a value with a threshold (or fire when there is no data). Checking a
rule's SQL needs the query guard and lives in ``rule_checks``; this module stores and reads
rules only, so the delivery worker can import it without the data layer.

Enabled scheduled rules are also listed in one index (gsi1 ``ALERTDUE``) sorted by when they
are next due, so the evaluator finds due rules with one query.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, NotFound
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table

MAX_RULES = 500


class RuleKind(StrEnum):
    REALTIME = "realtime"
    SCHEDULED = "scheduled"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Operator(StrEnum):
    ABOVE = ">"
    AT_LEAST = ">="
    BELOW = "<"
    AT_MOST = "<="
    NO_DATA = "no_data"

    def holds(self, value: float | None, threshold: float | None) -> bool:
        if self is Operator.NO_DATA or value is None or threshold is None:
            return False
        return {
            Operator.ABOVE: value > threshold,
            Operator.AT_LEAST: value >= threshold,
            Operator.BELOW: value < threshold,
            Operator.AT_MOST: value <= threshold,
        }[self]


DEFAULT_REPEAT_INTERVAL_S = 4 * 3600
DEFAULT_RESOLVE_AFTER_S = 300


def new_rule_id() -> str:
    return "rul_" + secrets.token_hex(8)


def due_sort_key(next_run_us: int, org_id: str, rule_id: str) -> str:
    return f"{next_run_us:017d}#{org_id}#{rule_id}"


@dataclass(frozen=True)
class Rule:
    org_id: str
    id: str
    name: str
    kind: RuleKind
    destinations: tuple[str, ...]
    severity: Severity = Severity.WARNING
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    repeat_interval_s: int = DEFAULT_REPEAT_INTERVAL_S
    group_by: tuple[str, ...] = ()
    # realtime
    stream: str = ""
    where: str = ""
    resolve_after_s: int = DEFAULT_RESOLVE_AFTER_S
    # scheduled
    query: str = ""
    interval_s: int = 0
    window_s: int = 0
    operator: Operator | None = None
    threshold: float | None = None
    value_column: str = ""
    for_s: int = 0
    next_run_us: int = 0
    # bookkeeping
    version: int = 1
    created_at_us: int = 0
    updated_at_us: int = 0
    created_by: str = ""
    last_eval_us: int = 0
    last_error: str = ""

    @classmethod
    def from_item(cls, item: Item) -> Rule:
        condition = item.get("condition") or {}
        return cls(
            org_id=str(item["org_id"]),
            id=str(item["id"]),
            name=str(item["name"]),
            kind=RuleKind(item["kind_of_rule"]),
            destinations=tuple(item.get("destinations") or ()),
            severity=Severity(item.get("severity", Severity.WARNING.value)),
            message=str(item.get("message", "")),
            labels=dict(item.get("labels") or {}),
            enabled=bool(item.get("enabled", True)),
            repeat_interval_s=int(item.get("repeat_interval_s", DEFAULT_REPEAT_INTERVAL_S)),
            group_by=tuple(item.get("group_by") or ()),
            stream=str(item.get("stream", "")),
            where=str(item.get("where", "")),
            resolve_after_s=int(item.get("resolve_after_s", DEFAULT_RESOLVE_AFTER_S)),
            query=str(item.get("query", "")),
            interval_s=int(item.get("interval_s", 0)),
            window_s=int(item.get("window_s", 0)),
            operator=Operator(condition["op"]) if condition.get("op") else None,
            threshold=None if condition.get("threshold") is None else float(condition["threshold"]),
            value_column=str(item.get("value_column", "")),
            for_s=int(item.get("for_s", 0)),
            next_run_us=int(item.get("next_run_us", 0)),
            version=int(item.get("version", 1)),
            created_at_us=int(item.get("created_at_us", 0)),
            updated_at_us=int(item.get("updated_at_us", 0)),
            created_by=str(item.get("created_by", "")),
            last_eval_us=int(item.get("last_eval_us", 0)),
            last_error=str(item.get("last_error", "")),
        )

    def to_item(self) -> Item:
        item: Item = {
            "pk": keys.alert_rules(self.org_id),
            "sk": self.id,
            "kind": "alert_rule",
            "kind_of_rule": self.kind.value,
            "org_id": self.org_id,
            "id": self.id,
            "name": self.name,
            "destinations": list(self.destinations),
            "severity": self.severity.value,
            "message": self.message,
            "labels": dict(self.labels),
            "enabled": self.enabled,
            "repeat_interval_s": self.repeat_interval_s,
            "group_by": list(self.group_by),
            "version": self.version,
            "created_at_us": self.created_at_us,
            "updated_at_us": self.updated_at_us,
            "created_by": self.created_by,
            "last_eval_us": self.last_eval_us,
            "last_error": self.last_error,
        }
        if self.kind is RuleKind.REALTIME:
            item.update({"stream": self.stream, "where": self.where, "resolve_after_s": self.resolve_after_s})
        else:
            item.update(
                {
                    "query": self.query,
                    "interval_s": self.interval_s,
                    "window_s": self.window_s,
                    "condition": {"op": self.operator.value if self.operator else None, "threshold": self.threshold},
                    "value_column": self.value_column,
                    "for_s": self.for_s,
                    "next_run_us": self.next_run_us,
                }
            )
            if self.enabled:
                item["gsi1pk"] = keys.alert_due_index()
                item["gsi1sk"] = due_sort_key(self.next_run_us, self.org_id, self.id)
        return item

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "enabled": self.enabled,
            "severity": self.severity.value,
            "destinations": list(self.destinations),
            "message": self.message,
            "labels": dict(self.labels),
            "repeat_interval_s": self.repeat_interval_s,
            "group_by": list(self.group_by),
            "created_at": iso(self.created_at_us),
            "updated_at": iso(self.updated_at_us),
            "created_by": self.created_by,
            "last_evaluated_at": iso(self.last_eval_us) if self.last_eval_us else None,
            "last_error": self.last_error or None,
        }
        if self.kind is RuleKind.REALTIME:
            out.update({"stream": self.stream, "where": self.where, "resolve_after_s": self.resolve_after_s})
        else:
            out.update(
                {
                    "query": self.query,
                    "interval_s": self.interval_s,
                    "window_s": self.window_s,
                    "condition": {"op": self.operator.value if self.operator else None, "threshold": self.threshold},
                    "value_column": self.value_column or None,
                    "for_s": self.for_s,
                    "next_run_at": iso(self.next_run_us) if self.enabled and self.next_run_us else None,
                }
            )
        return out


class Rules:
    def __init__(self, table: Table) -> None:
        self.table = table

    def all(self, org_id: str, *, consistent: bool = True) -> list[Rule]:
        items = self.table.query_all(keys.alert_rules(org_id), consistent=consistent)
        return sorted((Rule.from_item(i) for i in items), key=lambda r: (r.name.lower(), r.id))

    def get(self, org_id: str, rule_id: str) -> Rule:
        item = self.table.get(keys.alert_rules(org_id), rule_id)
        if not item:
            raise NotFound(f"not found: rule {rule_id!r}")
        return Rule.from_item(item)

    def create(self, rule: Rule) -> Rule:
        if len(self.table.query_all(keys.alert_rules(rule.org_id))) >= MAX_RULES:
            raise Conflict(f"conflict: an org may have at most {MAX_RULES} rules")
        self.table.put(rule.to_item(), condition="attribute_not_exists(pk)")
        return rule

    def store_update(self, current: Rule, updated: Rule) -> Rule:
        """Store ``updated`` if the rule is still at ``current``'s version (409 otherwise)."""
        stored = replace(updated, version=current.version + 1, updated_at_us=now_us())
        try:
            self.table.put(stored.to_item(), condition="version = :seen", values={":seen": current.version})
        except ConditionFailed as exc:
            raise Conflict("conflict: the rule changed meanwhile; read it and try again") from exc
        return stored

    def delete(self, org_id: str, rule_id: str) -> Rule:
        current = self.get(org_id, rule_id)
        self.table.delete(keys.alert_rules(org_id), rule_id)
        return current

    def naming_destination(self, org_id: str, destination_id: str) -> list[Rule]:
        return [r for r in self.all(org_id) if destination_id in r.destinations]

    def due(self, now: int, *, limit: int = 100) -> list[tuple[str, str, int]]:
        """(org, rule id, next run) of enabled scheduled rules due by ``now``, soonest first."""
        items, _ = self.table.query(
            keys.alert_due_index(), index="gsi1", sk_at_most=f"{now:017d}#~", limit=limit, forward=True
        )
        return [(str(i["org_id"]), str(i["id"]), int(i.get("next_run_us", 0))) for i in items]

    def claim(self, rule: Rule, next_run_us: int) -> bool:
        """Move a due rule's next run forward, if no other evaluator did first."""
        try:
            self.table.update(
                keys.alert_rules(rule.org_id),
                rule.id,
                "SET next_run_us = :next, gsi1sk = :sk",
                values={
                    ":next": next_run_us,
                    ":sk": due_sort_key(next_run_us, rule.org_id, rule.id),
                    ":seen": rule.next_run_us,
                    ":on": True,
                },
                condition="next_run_us = :seen AND enabled = :on",
            )
        except ConditionFailed:
            return False
        return True

    def note_evaluation(self, rule: Rule, *, at_us: int, error: str = "") -> None:
        """When the rule last ran and what went wrong, without touching its version."""
        try:
            self.table.update(
                keys.alert_rules(rule.org_id),
                rule.id,
                "SET last_eval_us = :at, last_error = :error",
                values={":at": at_us, ":error": error[:1000]},
                condition="attribute_exists(pk)",
            )
        except ConditionFailed:
            return  # deleted meanwhile
