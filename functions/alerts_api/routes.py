"""Alerting routes (spec 000): destinations, rules, silences, history and dead deliveries.

Everything is scoped to the caller's org: another org's id answers 404. Viewers read;
editors and admins change; the dead-delivery routes are for admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from alerts_api.schemas import (
    AlertDeadDeliveryPage,
    AlertDeliveryReport,
    AlertDestination,
    AlertDestinationCreate,
    AlertDestinationList,
    AlertDestinationPatch,
    AlertHistoryPage,
    AlertRedriveAnswer,
    AlertRedriveBody,
    AlertRule,
    AlertRuleCreate,
    AlertRuleDetail,
    AlertRuleList,
    AlertRulePatch,
    AlertSilence,
    AlertSilenceCreate,
    AlertSilenceList,
    AlertStateList,
)
from molesignal import audit
from molesignal.alerts import dead_letters, history
from molesignal.alerts.destinations import Destinations, DestinationSpec
from molesignal.alerts.engine import AlertEngine
from molesignal.alerts.probe import send_test
from molesignal.alerts.realtime import forget as forget_realtime_rules
from molesignal.alerts.rule_checks import prepare_rule
from molesignal.alerts.rules import Rule, RuleKind, Rules
from molesignal.alerts.silences import Matcher, Silences
from molesignal.alerts.state import State
from molesignal.auth.principal import Principal, Role
from molesignal.errors import Conflict, Forbidden
from molesignal.storage.table import Table
from molesignal.web.deps import AdminPrincipal, SourceIp, TableDep, require_role

Reader = Annotated[Principal, Depends(require_role(Role.VIEWER, Role.EDITOR, Role.ADMIN))]
Writer = Annotated[Principal, Depends(require_role(Role.EDITOR, Role.ADMIN))]

destinations_router = APIRouter(prefix="/api/v1/alerts/destinations", tags=["alerts"])
rules_router = APIRouter(prefix="/api/v1/alerts/rules", tags=["alerts"])
active_router = APIRouter(prefix="/api/v1/alerts/active", tags=["alerts"])
silences_router = APIRouter(prefix="/api/v1/alerts/silences", tags=["alerts"])
history_router = APIRouter(prefix="/api/v1/alerts/history", tags=["alerts"])
dlq_router = APIRouter(prefix="/api/v1/alerts/dlq", tags=["alerts"])


def _destination_spec(body: AlertDestinationCreate | AlertDestinationPatch) -> DestinationSpec:
    given = body.model_fields_set
    return DestinationSpec(
        name=body.name,
        type=getattr(body, "type", None),
        url=body.url,
        address=body.address,
        topic_arn=body.topic_arn,
        secret=body.secret,
        headers=body.headers,
        default_for_platform=body.default_for_platform,
        deployment_alerts=body.deployment_alerts,
        cleared=frozenset(name for name in ("secret", "headers") if name in given and getattr(body, name) is None),
    )


# --- destinations ----------------------------------------------------------------------------
@destinations_router.get("", response_model=AlertDestinationList, summary="The org's alert destinations")
def list_destinations(principal: Reader, table: TableDep) -> AlertDestinationList:
    items = [d.public() for d in Destinations(table).all(principal.org_id)]
    return AlertDestinationList.model_validate({"items": items})


@destinations_router.post(
    "", response_model=AlertDestination, status_code=201, summary="Add a destination (webhook, slack, email, sns)"
)
def create_destination(
    body: AlertDestinationCreate, principal: Writer, table: TableDep, ip: SourceIp
) -> AlertDestination:
    destination = Destinations(table).create(principal, _destination_spec(body))
    audit.record_by(
        table, principal, "alert.destination.create", target=destination.id, source_ip=ip, details={"type": body.type}
    )
    return AlertDestination.model_validate(destination.public())


@destinations_router.get("/{destination_id}", response_model=AlertDestination, summary="One destination")
def get_destination(destination_id: str, principal: Reader, table: TableDep) -> AlertDestination:
    return AlertDestination.model_validate(Destinations(table).get(principal.org_id, destination_id).public())


@destinations_router.patch("/{destination_id}", response_model=AlertDestination, summary="Change a destination")
def update_destination(
    destination_id: str, body: AlertDestinationPatch, principal: Writer, table: TableDep, ip: SourceIp
) -> AlertDestination:
    destination = Destinations(table).update(principal, destination_id, _destination_spec(body))
    changed = sorted(body.model_fields_set)
    audit.record_by(
        table, principal, "alert.destination.update", target=destination_id, source_ip=ip, details={"fields": changed}
    )
    return AlertDestination.model_validate(destination.public())


@destinations_router.delete(
    "/{destination_id}", response_model=AlertDestination, summary="Remove a destination no rule names"
)
def delete_destination(destination_id: str, principal: Writer, table: TableDep, ip: SourceIp) -> AlertDestination:
    Destinations(table).get(principal.org_id, destination_id)
    naming = Rules(table).naming_destination(principal.org_id, destination_id)
    if naming:
        names = ", ".join(sorted(r.id for r in naming)[:10])
        raise Conflict(f"conflict: rules still send to this destination ({names}); change them first")
    destination = Destinations(table).delete(principal.org_id, destination_id)
    audit.record_by(table, principal, "alert.destination.delete", target=destination_id, source_ip=ip)
    return AlertDestination.model_validate(destination.public())


@destinations_router.post(
    "/{destination_id}/test",
    response_model=AlertDeliveryReport,
    summary="Send a test notification now and report the receiver's answer",
)
def test_destination(destination_id: str, principal: Writer, table: TableDep) -> AlertDeliveryReport:
    destination = Destinations(table).get(principal.org_id, destination_id)
    return AlertDeliveryReport.model_validate(send_test(table, destination, actor=principal.actor).to_dict())


# --- rules -----------------------------------------------------------------------------------
def _rule_changed(table: Table, principal: Principal, rule: Rule, action: str, ip: str, **details: object) -> None:
    forget_realtime_rules(principal.org_id)
    audit.record_by(table, principal, action, target=rule.id, source_ip=ip, details=dict(details))


def _rule_detail(table: Table, rule: Rule) -> AlertRuleDetail:
    states = AlertEngine(table).states(rule.org_id, rule.id).values()
    alerts = [{**s.public(), "rule_name": rule.name} for s in sorted(states, key=lambda s: s.fingerprint)]
    return AlertRuleDetail.model_validate({**rule.public(), "alerts": alerts})


@rules_router.get("", response_model=AlertRuleList, summary="The org's alert rules")
def list_rules(
    principal: Reader,
    table: TableDep,
    kind: Annotated[RuleKind | None, Query()] = None,
    enabled: Annotated[bool | None, Query()] = None,
) -> AlertRuleList:
    rules = [
        r.public()
        for r in Rules(table).all(principal.org_id)
        if (kind is None or r.kind is kind) and (enabled is None or r.enabled is enabled)
    ]
    return AlertRuleList.model_validate({"items": rules})


@rules_router.post("", response_model=AlertRuleDetail, status_code=201, summary="Add a realtime or scheduled rule")
def create_rule(body: AlertRuleCreate, principal: Writer, table: TableDep, ip: SourceIp) -> AlertRuleDetail:
    rule = prepare_rule(table, principal.org_id, principal.actor, body.model_dump(), current=None)
    Rules(table).create(rule)
    _rule_changed(table, principal, rule, "alert.rule.create", ip, kind=rule.kind.value)
    return _rule_detail(table, rule)


@rules_router.get("/{rule_id}", response_model=AlertRuleDetail, summary="One rule and its alerts")
def get_rule(rule_id: str, principal: Reader, table: TableDep) -> AlertRuleDetail:
    return _rule_detail(table, Rules(table).get(principal.org_id, rule_id))


def _update(table: Table, principal: Principal, rule_id: str, fields: dict[str, object], ip: str) -> AlertRuleDetail:
    rules = Rules(table)
    current = rules.get(principal.org_id, rule_id)
    updated = rules.store_update(
        current, prepare_rule(table, principal.org_id, principal.actor, fields, current=current)
    )
    if current.enabled and not updated.enabled:
        AlertEngine(table).forget_source(principal.org_id, rule_id, updated.name, reason="rule disabled")
    _rule_changed(table, principal, updated, "alert.rule.update", ip, fields=sorted(fields))
    return _rule_detail(table, updated)


@rules_router.patch("/{rule_id}", response_model=AlertRuleDetail, summary="Change a rule")
def update_rule(
    rule_id: str, body: AlertRulePatch, principal: Writer, table: TableDep, ip: SourceIp
) -> AlertRuleDetail:
    fields = body.model_dump(exclude_unset=True)
    for name in ("message", "value_column"):  # null clears these
        if name in fields and fields[name] is None:
            fields[name] = ""
    return _update(table, principal, rule_id, fields, ip)


@rules_router.post("/{rule_id}/enable", response_model=AlertRuleDetail, summary="Enable a rule")
def enable_rule(rule_id: str, principal: Writer, table: TableDep, ip: SourceIp) -> AlertRuleDetail:
    return _update(table, principal, rule_id, {"enabled": True}, ip)


@rules_router.post(
    "/{rule_id}/disable", response_model=AlertRuleDetail, summary="Disable a rule (its alerts return to ok)"
)
def disable_rule(rule_id: str, principal: Writer, table: TableDep, ip: SourceIp) -> AlertRuleDetail:
    return _update(table, principal, rule_id, {"enabled": False}, ip)


@rules_router.delete("/{rule_id}", response_model=AlertRule, summary="Remove a rule and its alerts")
def delete_rule(rule_id: str, principal: Writer, table: TableDep, ip: SourceIp) -> AlertRule:
    rule = Rules(table).delete(principal.org_id, rule_id)
    AlertEngine(table).forget_source(principal.org_id, rule_id, rule.name, reason="rule deleted")
    _rule_changed(table, principal, rule, "alert.rule.delete", ip)
    return AlertRule.model_validate(rule.public())


@active_router.get("", response_model=AlertStateList, summary="The org's pending and firing alerts")
def list_active(principal: Reader, table: TableDep) -> AlertStateList:
    names = {r.id: r.name for r in Rules(table).all(principal.org_id, consistent=False)}
    live = [
        {**s.public(), "rule_name": names.get(s.source_id, s.source_id)}
        for s in AlertEngine(table).states(principal.org_id).values()
        if s.state in (State.PENDING, State.FIRING)
    ]
    return AlertStateList.model_validate({"items": sorted(live, key=lambda s: (s["rule_name"], s["fingerprint"]))})


# --- silences --------------------------------------------------------------------------------
@silences_router.get("", response_model=AlertSilenceList, summary="The org's silences, latest ending first")
def list_silences(principal: Reader, table: TableDep) -> AlertSilenceList:
    return AlertSilenceList.model_validate({"items": [s.public() for s in Silences(table).all(principal.org_id)]})


@silences_router.post("", response_model=AlertSilence, status_code=201, summary="Mute matching notifications")
def create_silence(body: AlertSilenceCreate, principal: Writer, table: TableDep, ip: SourceIp) -> AlertSilence:
    silence = Silences(table).create(
        principal.org_id,
        [Matcher(m.name, m.value, m.op) for m in body.matchers],
        starts_at_us=body.starts_at,
        ends_at_us=body.ends_at,
        comment=body.comment,
        created_by=principal.actor,
    )
    audit.record_by(table, principal, "alert.silence.create", target=silence.id, source_ip=ip)
    return AlertSilence.model_validate(silence.public())


@silences_router.get("/{silence_id}", response_model=AlertSilence, summary="One silence")
def get_silence(silence_id: str, principal: Reader, table: TableDep) -> AlertSilence:
    return AlertSilence.model_validate(Silences(table).get(principal.org_id, silence_id).public())


@silences_router.delete("/{silence_id}", response_model=AlertSilence, summary="Expire a silence now")
def expire_silence(silence_id: str, principal: Writer, table: TableDep, ip: SourceIp) -> AlertSilence:
    silence = Silences(table).expire(principal.org_id, silence_id)
    audit.record_by(table, principal, "alert.silence.expire", target=silence_id, source_ip=ip)
    return AlertSilence.model_validate(silence.public())


# --- history and dead deliveries -------------------------------------------------------------
@history_router.get("", response_model=AlertHistoryPage, summary="State changes and delivery attempts, newest first")
def list_history(
    principal: Reader,
    table: TableDep,
    rule_id: Annotated[str | None, Query(max_length=128, description="only this rule's entries")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> AlertHistoryPage:
    items, next_cursor = history.list_entries(table, principal.org_id, rule_id=rule_id, limit=limit, cursor=cursor)
    return AlertHistoryPage.model_validate(
        {"items": items, "has_more": next_cursor is not None, "next_cursor": next_cursor}
    )


@dlq_router.get("", response_model=AlertDeadDeliveryPage, summary="Deliveries that failed every attempt (admins)")
def list_dead_deliveries(
    principal: AdminPrincipal,
    table: TableDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> AlertDeadDeliveryPage:
    items, next_cursor = dead_letters.list_dead(table, principal.org_id, limit=limit, cursor=cursor)
    depth = dead_letters.depth() if principal.role is Role.ROOT else None
    return AlertDeadDeliveryPage.model_validate(
        {"items": items, "has_more": next_cursor is not None, "next_cursor": next_cursor, "queue_depth": depth}
    )


@dlq_router.post("/redrive", response_model=AlertRedriveAnswer, summary="Send dead deliveries back for another round")
def redrive_dead_deliveries(
    principal: AdminPrincipal, table: TableDep, ip: SourceIp, body: AlertRedriveBody | None = None
) -> AlertRedriveAnswer:
    body = body or AlertRedriveBody()
    if body.all_orgs and principal.role is not Role.ROOT:
        raise Forbidden("forbidden: only root may redrive every org's dead deliveries")
    moved = dead_letters.redrive(
        table,
        org_id=None if body.all_orgs else principal.org_id,
        ids=set(body.ids) if body.ids is not None else None,
        actor=principal.actor,
    )
    audit.record_by(table, principal, "alert.dlq.redrive", source_ip=ip, details={"moved": moved})
    return AlertRedriveAnswer(moved=moved)
