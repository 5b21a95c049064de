"""Alerting routes (spec 000): destinations, rules, silences, history and dead deliveries.

Everything is scoped to the caller's org: another org's id answers 404. Viewers read;
editors and admins change; the dead-delivery routes are for admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from alerts_api.schemas import (
    AlertDeliveryReport,
    AlertDestination,
    AlertDestinationCreate,
    AlertDestinationList,
    AlertDestinationPatch,
)
from molesignal import audit
from molesignal.alerts.destinations import Destinations, DestinationSpec
from molesignal.alerts.probe import send_test
from molesignal.auth.principal import Principal, Role
from molesignal.web.deps import SourceIp, TableDep, require_role

Reader = Annotated[Principal, Depends(require_role(Role.VIEWER, Role.EDITOR, Role.ADMIN))]
Writer = Annotated[Principal, Depends(require_role(Role.EDITOR, Role.ADMIN))]

destinations_router = APIRouter(prefix="/api/v1/alerts/destinations", tags=["alerts"])


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
