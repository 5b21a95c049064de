"""The scheduled evaluator (EventBridge, every minute): due scheduled rules, quiet realtime
alerts, and the deployment's own checks.

A scheduled rule is claimed before it runs (its next run moves forward with a conditional
write), so two evaluators never run it twice. It runs its query as the org with the same
guard and engine as ``POST /api/v1/query``, over ``[now - window_s, now)``, without the
result cache. Each result row is a group (its ``group_by`` columns are the labels; without
``group_by`` the first row is the one value); the value is ``value_column`` or the first
numeric column that is not a group column. A query over a stream that does not exist yet
has no data. A rule whose query fails records the error on the rule and in the counters;
the others run on.
"""

from __future__ import annotations

import time
from typing import Any

from molesignal import counters
from molesignal.alerts import platform, state_memo
from molesignal.alerts.engine import AlertEngine, rule_source
from molesignal.alerts.rules import Operator, Rule, RuleKind, Rules
from molesignal.alerts.state import SECOND_US, AlertState, Observation
from molesignal.auth.principal import Principal, Role
from molesignal.errors import DomainError, Invalid, NotFound
from molesignal.observability import logger
from molesignal.query.errors import TableNotFound
from molesignal.query.service import QueryRequest, QueryService
from molesignal.storage import keys
from molesignal.storage.table import Table

MAX_RULES_PER_RUN = 500


def run(table: Table, now_us: int, *, budget_s: float) -> dict[str, int]:
    started = time.monotonic()
    summary = {"rules": 0, "rule_errors": 0, "quiet_resolved": 0}
    for org_id, rule_id, _due in Rules(table).due(now_us, limit=MAX_RULES_PER_RUN):
        if time.monotonic() - started > budget_s:
            break  # the rest are still due: the next run takes them
        ok = evaluate_rule(table, org_id, rule_id, now_us)
        if ok is not None:
            summary["rules"] += 1
            summary["rule_errors"] += 0 if ok else 1
    summary["quiet_resolved"] = resolve_quiet(table, now_us)
    platform.check_deployment(table, now_us)
    return summary


def evaluate_rule(table: Table, org_id: str, rule_id: str, now_us: int) -> bool | None:
    """Run one due rule; None when it was not ours to run (gone, disabled, claimed)."""
    rules = Rules(table)
    try:
        rule = rules.get(org_id, rule_id)
    except NotFound:
        return None
    if not rule.enabled or rule.kind is not RuleKind.SCHEDULED or rule.next_run_us > now_us:
        return None
    interval_us = rule.interval_s * SECOND_US
    missed = max(0, (now_us - rule.next_run_us) // interval_us)
    if not rules.claim(rule, rule.next_run_us + (missed + 1) * interval_us):
        return None
    try:
        observations = observe_rule(table, rule, now_us)
        AlertEngine(table).observe(rule_source(rule), observations, now_us=now_us, complete=True)
    except DomainError as exc:
        rules.note_evaluation(rule, at_us=now_us, error=exc.message)
        counters.increment(table, "alert_evaluation_errors_total")
        return False
    except Exception:
        logger.exception("scheduled rule failed", extra={"org_id": org_id, "rule_id": rule_id})
        rules.note_evaluation(rule, at_us=now_us, error="internal error while evaluating the rule")
        counters.increment(table, "alert_evaluation_errors_total")
        return False
    rules.note_evaluation(rule, at_us=now_us)
    return True


def observe_rule(table: Table, rule: Rule, now_us: int) -> list[Observation]:
    principal = Principal(
        org_id=rule.org_id,
        user_id=f"rule:{rule.id}",
        role=Role.VIEWER,
        kind="alert_rule",
        credential_id=rule.id,
        username=f"alert rule {rule.name}",
    )
    request = QueryRequest(sql=rule.query, start_us=now_us - rule.window_s * SECOND_US, end_us=now_us)
    try:
        outcome = QueryService(table).run(principal, request, use_cache=False)
        names = [c.name for c in outcome.columns]
        rows = [dict(zip(names, row, strict=True)) for row in outcome.rows]
    except TableNotFound:
        rows = []
    if rule.operator is Operator.NO_DATA:
        return [Observation({}, active=not rows, value=len(rows))]
    if not rule.group_by:
        row = rows[0] if rows else None
        value = _value(rule, row) if row is not None else None
        active = rule.operator is not None and rule.operator.holds(value, rule.threshold)
        return [Observation({}, active=active, value=value, sample=row)]
    observations = []
    for row in rows:
        missing = [name for name in rule.group_by if name not in row]
        if missing:
            raise Invalid(f"invalid argument: group_by column {missing[0]!r} is not a column of the query's result")
        labels = {name: "" if row[name] is None else str(row[name]) for name in rule.group_by}
        value = _value(rule, row)
        active = rule.operator is not None and rule.operator.holds(value, rule.threshold)
        observations.append(Observation(labels, active=active, value=value, sample=row))
    return observations


def _value(rule: Rule, row: dict[str, Any]) -> float | int | None:
    if rule.value_column:
        if rule.value_column not in row:
            raise Invalid(f"invalid argument: value_column {rule.value_column!r} is not a column of the query's result")
        found = row[rule.value_column]
    else:
        candidates = [
            v
            for k, v in row.items()
            if k not in rule.group_by and isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if not candidates:
            raise Invalid("invalid argument: the query's result has no numeric column to compare (set value_column)")
        found = candidates[0]
    if found is None:
        return None
    if isinstance(found, bool) or not isinstance(found, int | float | str):
        raise Invalid(f"invalid argument: the value {found!r} is not a number")
    try:
        return found if isinstance(found, int | float) else float(found)
    except ValueError as exc:
        raise Invalid(f"invalid argument: the value {found!r} is not a number") from exc


def resolve_quiet(table: Table, now_us: int) -> int:
    """Resolve realtime (and quota) alerts that nothing matched for their ``resolve_after_s``."""
    items, _ = table.query(keys.alert_quiet_index(), index="gsi1", sk_at_most=f"{now_us:017d}#~", limit=500)
    engine = AlertEngine(table)
    resolved = 0
    for item in items:
        current = engine.state(str(item["org_id"]), f"{item['source_id']}#{item['fingerprint']}")
        if current is None:
            continue
        source = _source(table, current)
        if source is None:
            table.delete(keys.alert_states(current.org_id), current.sort_key)  # its rule is gone
            state_memo.dropped(current.org_id, current.sort_key)
            continue
        steps = engine.observe(
            source, [Observation(current.labels, active=False)], now_us=now_us, known={current.sort_key: current}
        )
        resolved += sum(1 for s in steps if s.changed)
    return resolved


def _source(table: Table, state: AlertState) -> Any:
    found = platform.source_for(table, state.org_id, state.source_id)
    if found is not None:
        return found
    try:
        rule = Rules(table).get(state.org_id, state.source_id)
    except NotFound:
        return None
    return rule_source(rule) if rule.enabled else None
