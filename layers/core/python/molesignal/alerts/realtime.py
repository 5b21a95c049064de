"""Realtime rules, evaluated by the ingest worker on the rows of each batch it lands.

``evaluate_landed`` is the one call the worker makes after a batch's rows for a stream are
committed. It finds the org's enabled realtime rules for that stream (memoised per process
for ``alert_rules_memo_s``; the alerts API forgets the memo of its own process on every
change), evaluates their predicates over the batch (``predicate.BatchEvaluator``: one pass
for all ungrouped rules), and moves their alerts, reading their states from the process's
recent view where that is safe (``state_memo``). It never fails the landing: the rows are
already in the lake, so a problem is logged and counted instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from molesignal import counters
from molesignal.alerts import state_memo
from molesignal.alerts.engine import AlertEngine, rule_source
from molesignal.alerts.predicate import BatchEvaluator, CompiledPredicate, PredicateCheck, compile_predicate
from molesignal.alerts.rules import Rule, RuleKind, Rules
from molesignal.alerts.state import SECOND_US, AlertState, Observation, State
from molesignal.clock import now_us
from molesignal.lake.streams import SEALED_COLUMNS
from molesignal.observability import logger
from molesignal.observers import Observers
from molesignal.settings import get_settings
from molesignal.storage.table import Table

MAX_MEMO_ORGS = 4096
MAX_COMPILED = 8192
NEAR_DEADLINE_S = 10  # a firing alert this close to its resolve deadline may be resolved elsewhere: read it

_lock = threading.Lock()
_memo: dict[str, tuple[float, list[Rule]]] = {}
_compiled: dict[tuple[str, int], CompiledPredicate] = {}


_forget_observers: Observers[[str]] = Observers()


def forget(org_id: str) -> None:
    """The org's rules changed: read them again on the next batch (this process)."""
    with _lock:
        _memo.pop(org_id, None)
    _forget_observers.notify(org_id)


def on_forget(callback: Callable[[str], None]) -> Callable[[], None]:
    """Call ``callback`` with the org whenever its rules are forgotten here (the local system
    tells its worker process); returns the removal."""
    return _forget_observers.add(callback)


def realtime_rules(table: Table, org_id: str) -> list[Rule]:
    now = time.monotonic()
    with _lock:
        held = _memo.get(org_id)
    if held is not None and now - held[0] < get_settings().alert_rules_memo_s:
        return held[1]
    rules = [r for r in Rules(table).all(org_id, consistent=False) if r.kind is RuleKind.REALTIME and r.enabled]
    with _lock:
        if len(_memo) >= MAX_MEMO_ORGS:
            _memo.clear()
        _memo[org_id] = (now, rules)
    return rules


def _compiled_predicate(rule: Rule) -> CompiledPredicate:
    key = (rule.id, rule.version)
    found = _compiled.get(key)
    if found is None:
        found = compile_predicate(rule.where, org_id=rule.org_id, stream=rule.stream)
        with _lock:
            if len(_compiled) >= MAX_COMPILED:
                _compiled.clear()
            _compiled[key] = found
    return found


def evaluate_landed(table: Table, org_id: str, stream: str, rows: Any, *, at_us: int | None = None) -> int:
    """Evaluate the stream's realtime rules over rows just landed; returns how many rules ran."""
    if rows is None or rows.num_rows == 0:
        return 0
    try:
        rules = [r for r in realtime_rules(table, org_id) if r.stream == stream]
        if not rules:
            return 0
        _evaluate(table, org_id, stream, rows, rules, now_us() if at_us is None else at_us)
        return len(rules)
    except Exception:
        logger.exception("realtime alert evaluation failed", extra={"org_id": org_id, "stream": stream})
        counters.increment(table, "alert_evaluation_errors_total")
        return 0


def _evaluate(table: Table, org_id: str, stream: str, rows: Any, rules: list[Rule], at_us: int) -> None:
    hidden = [name for name in SEALED_COLUMNS.get(stream, ()) if name in rows.column_names]
    if hidden:
        rows = rows.drop_columns(hidden)
    checks, by_id = [], {}
    for rule in rules:
        try:
            checks.append(PredicateCheck(rule.id, _compiled_predicate(rule), rule.group_by))
            by_id[rule.id] = rule
        except Exception as exc:  # a rule stored before the guard tightened: skip it, say why
            Rules(table).note_evaluation(rule, at_us=at_us, error=f"predicate refused: {exc}")
    evaluator = BatchEvaluator(rows)
    outcomes = evaluator.run(checks)
    engine = AlertEngine(table)
    known = _known_states(engine, org_id, [by_id[key] for key, o in outcomes.items() if not o.error], at_us)
    by_rule: dict[str, dict[str, AlertState]] = {}
    for key, state in known.items():
        by_rule.setdefault(state.source_id, {})[key] = state
    for rule_id, outcome in outcomes.items():
        rule = by_id[rule_id]
        if outcome.error:
            Rules(table).note_evaluation(rule, at_us=at_us, error=f"predicate failed on a batch: {outcome.error}")
            counters.increment(table, "alert_evaluation_errors_total")
            continue
        observations = [
            Observation(group.labels, active=group.matched > 0, value=group.matched) for group in outcome.groups
        ]
        engine.observe(
            rule_source(rule),
            observations,
            now_us=at_us,
            known=by_rule.get(rule.id, {}),
            sampler=partial(evaluator.sample, rule_id),
        )


def _known_states(engine: AlertEngine, org_id: str, rules: list[Rule], at_us: int) -> dict[str, AlertState]:
    """The org's alert states as this batch needs them: the process's view (``state_memo``),
    read again in full when it is old, and per rule where another process may have moved an
    alert since (a firing alert near its resolve deadline, which the evaluator may resolve).
    Everything else is safe to take from the view: the writes are conditional on the version."""
    if not rules:
        return {}
    held = state_memo.recall(org_id, get_settings().alert_state_memo_s)
    if held is None:
        held = engine.states(org_id)
        state_memo.remember(org_id, held)
        return held
    near_us = at_us + NEAR_DEADLINE_S * SECOND_US
    by_rule: dict[str, set[str]] = {}
    for key, state in held.items():
        by_rule.setdefault(state.source_id, set()).add(key)
    for rule in rules:
        ours = by_rule.get(rule.id, set())
        if any(held[k].state is State.FIRING and held[k].resolve_deadline_us <= near_us for k in ours):
            fresh = engine.states(org_id, rule.id)
            for key in ours - fresh.keys():
                held.pop(key)
                state_memo.dropped(org_id, key)
            for state in fresh.values():
                held[state.sort_key] = state
                state_memo.written(state)
    return held
