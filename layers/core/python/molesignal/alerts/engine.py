"""Moving alerts through their states, recording each change, and notifying.

``observe`` takes what one evaluation saw for one source (a rule, or a platform check) —
one observation per group — and applies ``state.advance`` to each alert with a conditional
write (two evaluators never both move one alert: the loser re-reads and tries again). A
change of state is recorded in the history; a notification (firing, resolved, repeat) is
rendered once, checked against the org's silences and handed to the delivery queue, one
message per destination.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from molesignal.alerts import history, outbox, state_memo
from molesignal.alerts.destinations import Destinations
from molesignal.alerts.notification import Notification, Status, new_notification_id
from molesignal.alerts.rules import Rule, RuleKind
from molesignal.alerts.silences import Silences
from molesignal.alerts.state import AlertState, Observation, Policy, State, Step, advance, fingerprint
from molesignal.alerts.template import context, render
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Table

MAX_WRITE_ATTEMPTS = 8
Sampler = Callable[[dict[str, str]], dict[str, Any] | None]  # a group's labels -> a sample row
PLATFORM_ORG = "org"  # destinations marked default_for_platform
PLATFORM_DEPLOYMENT = "deployment"  # destinations marked deployment_alerts (root's)


@dataclass(frozen=True)
class AlertSource:
    """Something that raises alerts: a rule, or one of MoleSignal's own checks."""

    org_id: str
    id: str
    name: str
    kind: str  # realtime, scheduled, platform
    severity: str
    policy: Policy
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    destinations: tuple[str, ...] = ()
    platform: str = ""  # "", PLATFORM_ORG or PLATFORM_DEPLOYMENT: destinations chosen by their flags
    threshold: float | None = None
    template_values: dict[str, Any] = field(default_factory=dict)

    def alert_labels(self, group: dict[str, str]) -> dict[str, str]:
        return {**self.labels, **group, "rule": self.name, "rule_id": self.id, "severity": self.severity}


def rule_source(rule: Rule) -> AlertSource:
    if rule.kind is RuleKind.REALTIME:
        policy = Policy(repeat_interval_s=rule.repeat_interval_s, resolve_after_s=rule.resolve_after_s)
        default = "{{count}} matching rows landed in {{stream}}"
        extra: dict[str, Any] = {"stream": rule.stream, "where": rule.where}
    else:
        policy = Policy(for_s=rule.for_s, repeat_interval_s=rule.repeat_interval_s)
        default = "{{rule}}: value {{value}} (condition {{op}} {{threshold}})"
        extra = {"op": rule.operator.value if rule.operator else "", "window_s": rule.window_s}
    return AlertSource(
        org_id=rule.org_id,
        id=rule.id,
        name=rule.name,
        kind=rule.kind.value,
        severity=rule.severity.value,
        policy=policy,
        message=rule.message or default,
        labels=dict(rule.labels),
        destinations=rule.destinations,
        threshold=rule.threshold,
        template_values=extra,
    )


class AlertEngine:
    def __init__(self, table: Table) -> None:
        self.table = table

    # --- reading ---------------------------------------------------------------------------
    def states(self, org_id: str, source_id: str | None = None) -> dict[str, AlertState]:
        """The stored alerts of an org (or of one source), by their sort key."""
        items = self.table.query_all(
            keys.alert_states(org_id), sk_prefix=f"{source_id}#" if source_id else None, consistent=True
        )
        return {f"{i['source_id']}#{i['fingerprint']}": AlertState.from_item(i) for i in items}

    def state(self, org_id: str, sort_key: str) -> AlertState | None:
        item = self.table.get(keys.alert_states(org_id), sort_key)
        return AlertState.from_item(item) if item else None

    # --- moving ----------------------------------------------------------------------------
    def observe(
        self,
        source: AlertSource,
        observations: list[Observation],
        *,
        now_us: int,
        complete: bool = False,
        known: dict[str, AlertState] | None = None,
        sampler: Sampler | None = None,
    ) -> list[Step]:
        """Apply one evaluation. ``complete``: the observations cover every group, so a stored
        alert of this source that was not observed has its condition false. ``sampler``: where
        an active observation without a sample finds one, asked only when its alert is written."""
        stored = self.states(source.org_id, source.id) if known is None else known
        steps = []
        seen: set[str] = set()
        for observation in observations:
            print_ = fingerprint(source.id, observation.labels)
            seen.add(print_)
            current = stored.get(f"{source.id}#{print_}")
            if current is None and not observation.active:
                steps.append(Step(None, None))  # an alert never stored stays ok while its condition is false
                continue
            current = current or AlertState(source.org_id, source.id, print_, dict(observation.labels))
            steps.append(self._apply(source, current, observation, now_us, sampler))
        if complete:
            for current in stored.values():
                if (
                    current.source_id == source.id
                    and current.fingerprint not in seen
                    and current.state
                    in (
                        State.PENDING,
                        State.FIRING,
                    )
                ):
                    steps.append(self._apply(source, current, Observation(current.labels, active=False), now_us))
        return steps

    def _apply(
        self,
        source: AlertSource,
        current: AlertState,
        observation: Observation,
        now_us: int,
        sampler: Sampler | None = None,
    ) -> Step:
        for _attempt in range(MAX_WRITE_ATTEMPTS):
            step = advance(current, observation, source.policy, now_us)
            if step.new is not None and sampler is not None and observation.active and observation.sample is None:
                observation = replace(observation, sample=sampler(observation.labels))  # only what is written
                step = advance(current, observation, source.policy, now_us)
            if step.new is None:
                return step
            new = replace(step.new, version=current.version + 1)
            try:
                if current.version:
                    self.table.put(new.to_item(), condition="version = :seen", values={":seen": current.version})
                else:
                    self.table.put(new.to_item(), condition="attribute_not_exists(pk)")
            except ConditionFailed:
                current = self.state(source.org_id, current.sort_key) or replace(current, version=0)
                continue
            state_memo.written(new)
            self._after(source, current, new, step, now_us)
            return replace(step, new=new)
        raise RuntimeError(f"alert {source.id}#{current.fingerprint} kept changing under this evaluation")

    def _after(self, source: AlertSource, before: AlertState, after: AlertState, step: Step, now_us: int) -> None:
        if step.changed:
            history.record(
                self.table,
                source.org_id,
                history.EntryType.TRANSITION,
                source_id=source.id,
                source_name=source.name,
                fingerprint=after.fingerprint,
                labels=after.labels,
                from_state=step.previous.value if step.previous else None,
                to_state=after.state.value,
                value=after.value,
            )
        if step.notify is not None:
            started = before.since_us if step.notify is Status.RESOLVED else after.active_since_us
            self.notify(source, after, step.notify, started_at_us=started, repeat=step.repeat, now_us=now_us)

    def notify(
        self, source: AlertSource, alert: AlertState, status: Status, *, started_at_us: int, repeat: bool, now_us: int
    ) -> Notification | None:
        labels = source.alert_labels(alert.labels)
        base = {
            **source.template_values,
            "rule": source.name,
            "severity": source.severity,
            "status": status.value,
            "value": alert.value,
            "count": alert.value,
            "threshold": source.threshold,
        }
        message = render(source.message, context(labels=labels, sample=alert.sample, base=base))
        notification = Notification(
            id=new_notification_id(),
            org_id=source.org_id,
            status=status,
            source_id=source.id,
            source_name=source.name,
            source_kind=source.kind,
            severity=source.severity,
            fingerprint=alert.fingerprint,
            labels=labels,
            message=message,
            started_at_us=started_at_us or now_us,
            value=alert.value,
            threshold=source.threshold,
            resolved_at_us=now_us if status is Status.RESOLVED else None,
            sample=alert.sample,
            repeat=repeat,
        )
        silence = Silences(self.table).muting(source.org_id, labels, now_us)
        if silence is not None:
            history.record(
                self.table,
                source.org_id,
                history.EntryType.SILENCED,
                source_id=source.id,
                source_name=source.name,
                fingerprint=alert.fingerprint,
                labels=labels,
                notification_id=notification.id,
                notification_status=status.value,
                silence_id=silence.id,
            )
            return None
        destinations = self._destinations(source)
        if destinations:
            outbox.send(notification, destinations)
        return notification

    def _destinations(self, source: AlertSource) -> list[str]:
        if not source.platform:
            return list(source.destinations)
        found = Destinations(self.table).for_platform(source.org_id, deployment=source.platform == PLATFORM_DEPLOYMENT)
        return [d.id for d in found]

    def forget_source(self, org_id: str, source_id: str, source_name: str, *, reason: str) -> int:
        """Drop every alert of a source (a rule disabled or deleted), recording each that was live."""
        dropped = 0
        for state in self.states(org_id, source_id).values():
            self.table.delete(keys.alert_states(org_id), state.sort_key)
            state_memo.dropped(org_id, state.sort_key)
            if state.state in (State.PENDING, State.FIRING):
                history.record(
                    self.table,
                    org_id,
                    history.EntryType.TRANSITION,
                    source_id=source_id,
                    source_name=source_name,
                    fingerprint=state.fingerprint,
                    labels=state.labels,
                    from_state=state.state.value,
                    to_state=State.OK.value,
                    reason=reason,
                )
            dropped += 1
        return dropped
