"""Checking a rule before it is stored: its fields, its destinations and its SQL.

A realtime predicate is compiled by the query guard (``predicate.compile_predicate``) and,
when the stream exists, bound against its current columns, so a type mismatch is reported
now rather than on every batch. A scheduled query goes through the same guard as
``POST /api/v1/query`` (``query.guard.analyze_query``): a statement the query routes refuse
is refused here with the same code (400 ``INVALID_SQL``, 403 ``PERMISSION_DENIED``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from molesignal.alerts.destinations import Destinations
from molesignal.alerts.predicate import check_against_schema, compile_predicate
from molesignal.alerts.rules import (
    DEFAULT_REPEAT_INTERVAL_S,
    DEFAULT_RESOLVE_AFTER_S,
    Operator,
    Rule,
    RuleKind,
    Severity,
    new_rule_id,
)
from molesignal.alerts.template import MAX_TEMPLATE_CHARS
from molesignal.clock import now_us
from molesignal.errors import Invalid
from molesignal.ingest.normalize import check_stream_name
from molesignal.lake.streams import Streams
from molesignal.query.guard import analyze_query
from molesignal.storage.table import Table

MAX_DESTINATIONS_PER_RULE = 10
MAX_GROUP_BY = 5
MAX_LABELS = 20
RESERVED_LABELS = frozenset({"rule", "rule_id", "severity"})
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
COMMON_FIELDS = frozenset(
    {"name", "kind", "destinations", "severity", "message", "labels", "enabled", "repeat_interval_s", "group_by"}
)
KIND_FIELDS = {
    RuleKind.REALTIME: frozenset({"stream", "where", "resolve_after_s"}),
    RuleKind.SCHEDULED: frozenset({"query", "interval_s", "window_s", "condition", "value_column", "for_s"}),
}


def _check_group_by(names: list[str]) -> tuple[str, ...]:
    if len(names) > MAX_GROUP_BY:
        raise Invalid(f"invalid argument: group_by: at most {MAX_GROUP_BY} columns")
    for name in names:
        if not _COLUMN.match(name):
            raise Invalid(f"invalid argument: group_by: {name!r} is not a column name")
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        raise Invalid("invalid argument: group_by: a column is named twice")
    return tuple(lowered)


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise Invalid(f"invalid argument: labels: at most {MAX_LABELS}")
    for name, value in labels.items():
        if not _LABEL.match(name) or name in RESERVED_LABELS:
            raise Invalid(f"invalid argument: labels: {name!r} is not a label name MoleSignal leaves to rules")
        if len(value) > 256:
            raise Invalid(f"invalid argument: labels: the value of {name} is longer than 256 characters")
    return dict(labels)


def _bounded(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(f"invalid argument: {name} must be a whole number of seconds from {low} to {high}")
    return value


def prepare_rule(table: Table, org_id: str, actor: str, fields: dict[str, Any], *, current: Rule | None) -> Rule:
    """The rule ``fields`` describe (a new one, or ``current`` changed), checked in full."""
    kind = current.kind if current is not None else RuleKind(fields.get("kind") or "")
    if current is not None and "kind" in fields and fields["kind"] is not None and RuleKind(fields["kind"]) is not kind:
        raise Invalid("invalid argument: a rule's kind cannot change; create another rule")
    stray = sorted(
        name for name, value in fields.items() if value is not None and name not in COMMON_FIELDS | KIND_FIELDS[kind]
    )
    if stray:
        raise Invalid(f"invalid argument: {stray[0]} does not apply to a {kind.value} rule")
    now = now_us()
    rule = current or Rule(
        org_id=org_id,
        id=new_rule_id(),
        name="",
        kind=kind,
        destinations=(),
        created_at_us=now,
        updated_at_us=now,
        created_by=actor,
        repeat_interval_s=DEFAULT_REPEAT_INTERVAL_S,
        resolve_after_s=DEFAULT_RESOLVE_AFTER_S,
    )
    given = {name: value for name, value in fields.items() if value is not None}
    rule = _apply_common(table, rule, given)
    rule = _apply_realtime(table, rule, given) if kind is RuleKind.REALTIME else _apply_scheduled(rule, given, current)
    return rule


def _apply_common(table: Table, rule: Rule, given: dict[str, Any]) -> Rule:
    changes: dict[str, Any] = {}
    if "name" in given:
        name = str(given["name"]).strip()
        if not 1 <= len(name) <= 128:
            raise Invalid("invalid argument: name must be 1-128 characters")
        changes["name"] = name
    elif not rule.name:
        raise Invalid("invalid argument: name is required")
    if "destinations" in given:
        ids = list(dict.fromkeys(given["destinations"]))
        if len(ids) > MAX_DESTINATIONS_PER_RULE:
            raise Invalid(f"invalid argument: destinations: at most {MAX_DESTINATIONS_PER_RULE}")
        Destinations(table).existing(rule.org_id, ids)
        changes["destinations"] = tuple(ids)
    if "severity" in given:
        changes["severity"] = Severity(given["severity"])
    if "message" in given:
        if len(given["message"]) > MAX_TEMPLATE_CHARS:
            raise Invalid(f"invalid argument: message is longer than {MAX_TEMPLATE_CHARS} characters")
        changes["message"] = given["message"]
    if "labels" in given:
        changes["labels"] = _check_labels(given["labels"])
    if "enabled" in given:
        changes["enabled"] = bool(given["enabled"])
    if "repeat_interval_s" in given:
        changes["repeat_interval_s"] = _bounded(given["repeat_interval_s"], "repeat_interval_s", 60, 7 * 86400)
    if "group_by" in given:
        changes["group_by"] = _check_group_by(list(given["group_by"]))
    return replace(rule, **changes)


def _apply_realtime(table: Table, rule: Rule, given: dict[str, Any]) -> Rule:
    changes: dict[str, Any] = {}
    if "stream" in given:
        changes["stream"] = check_stream_name(str(given["stream"]))
    if "where" in given:
        changes["where"] = str(given["where"])
    if "resolve_after_s" in given:
        changes["resolve_after_s"] = _bounded(given["resolve_after_s"], "resolve_after_s", 0, 86400)
    rule = replace(rule, **changes)
    if not rule.stream or not rule.where:
        raise Invalid("invalid argument: a realtime rule needs stream and where")
    predicate = compile_predicate(rule.where, org_id=rule.org_id, stream=rule.stream)
    stream = Streams(table).find(rule.org_id, rule.stream)
    if stream is not None:
        check_against_schema(predicate, rule.group_by, stream.schema)
    return rule


def _condition(condition: dict[str, Any]) -> tuple[Operator, float | None]:
    operator = Operator(str(condition.get("op")))
    threshold = condition.get("threshold")
    if operator is Operator.NO_DATA:
        return operator, None
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        raise Invalid(f"invalid argument: condition: {operator.value} needs a numeric threshold")
    return operator, float(threshold)


def _apply_scheduled(rule: Rule, given: dict[str, Any], current: Rule | None) -> Rule:
    changes: dict[str, Any] = {}
    if "query" in given:
        query = str(given["query"])
        analyze_query(query, org_id=rule.org_id)  # the query routes' guard: refused alike
        changes["query"] = query
    if "interval_s" in given:
        interval = _bounded(given["interval_s"], "interval_s", 60, 86400)
        if interval % 60:
            raise Invalid("invalid argument: interval_s must be whole minutes (the evaluator runs every minute)")
        changes["interval_s"] = interval
    if "window_s" in given:
        changes["window_s"] = _bounded(given["window_s"], "window_s", 60, 7 * 86400)
    if "condition" in given:
        changes["operator"], changes["threshold"] = _condition(dict(given["condition"]))
    if "value_column" in given:
        if given["value_column"] and not _COLUMN.match(given["value_column"]):
            raise Invalid("invalid argument: value_column is not a column name")
        changes["value_column"] = given["value_column"]
    if "for_s" in given:
        changes["for_s"] = _bounded(given["for_s"], "for_s", 0, 86400)
    rule = replace(rule, **changes)
    if not rule.query or not rule.interval_s or rule.operator is None:
        raise Invalid("invalid argument: a scheduled rule needs query, interval_s and condition")
    if not rule.window_s:
        rule = replace(rule, window_s=rule.interval_s)
    if rule.operator is Operator.NO_DATA and rule.group_by:
        raise Invalid("invalid argument: a no_data condition has no groups: remove group_by")
    newly_on = rule.enabled and (current is None or not current.enabled or current.interval_s != rule.interval_s)
    if newly_on:
        rule = replace(rule, next_run_us=now_us())  # due at once
    return rule
