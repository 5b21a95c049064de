"""Scheduled export routes (spec 001): an export job spec run on a rate or cron, its files kept in
the exports bucket and optionally sent to an s3 or webhook log stream. Admins only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from events_api.exports import ExportRequest
from events_api.listing import page_of
from molesignal.auth.principal import Principal
from molesignal.events.reading import MAX_PAGE
from molesignal.exports.delivery import check_delivery
from molesignal.exports.schedules import SCHEDULE_ROLES, ExportSchedules, public_schedule
from molesignal.exports.timing import MAX_EXPRESSION_CHARS
from molesignal.web.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1/exports/schedules", tags=["exports"])
Name = Annotated[str, Field(min_length=1, max_length=128)]
Expression = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_EXPRESSION_CHARS,
        description="rate(N minutes|hours|days) or cron(min hour day-of-month month day-of-week year), UTC",
    ),
]


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["bucket", "log_stream"] = "bucket"
    log_stream_id: Annotated[str | None, Field(default=None, max_length=64)] = None

    @model_validator(mode="after")
    def _stream_when_needed(self) -> Delivery:
        if (self.type == "log_stream") != (self.log_stream_id is not None):
            raise ValueError("log_stream_id is given exactly when type is log_stream")
        return self


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    schedule: Expression
    export: ExportRequest
    delivery: Delivery = Delivery()
    enabled: bool = True


class SchedulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    schedule: Expression | None = None
    export: ExportRequest | None = None
    delivery: Delivery | None = None
    enabled: bool | None = None


def _admin(principal: Principal) -> Principal:
    principal.require(*SCHEDULE_ROLES)
    return principal


@router.get("", summary="The org's export schedules (admin), in the family's list shape")
def list_schedules(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    _admin(principal)
    items = ExportSchedules().all(principal.org_id)  # at most MAX_SCHEDULES: one read
    body = page_of(
        items,
        org_id=principal.org_id,
        listing={"list": "export_schedules"},
        cursor=cursor,
        limit=limit,
        id_of=lambda i: str(i["schedule_id"]),
        created_us_of=lambda i: int(i["created_at_us"]),
        public=public_schedule,
    )
    return JSONResponse(body)


@router.post("", status_code=201, summary="Schedule an export: a rate or cron, the export job spec, a delivery")
def create_schedule(body: ScheduleCreate, principal: CurrentPrincipal) -> JSONResponse:
    schedules = ExportSchedules()
    item = schedules.create(
        _admin(principal),
        name=body.name,
        expression=body.schedule,
        spec=body.export.spec(),
        delivery=check_delivery(schedules.table, principal.org_id, body.delivery.model_dump()),
        enabled=body.enabled,
    )
    return JSONResponse(public_schedule(item), status_code=201)


@router.get("/{schedule_id}", summary="One export schedule: next run, last run and its export")
def get_schedule(schedule_id: str, principal: CurrentPrincipal) -> JSONResponse:
    return JSONResponse(public_schedule(ExportSchedules().get(_admin(principal).org_id, schedule_id)))


@router.patch("/{schedule_id}", summary="Change an export schedule (what is given), enable or disable it")
def update_schedule(schedule_id: str, body: SchedulePatch, principal: CurrentPrincipal) -> JSONResponse:
    _admin(principal)
    schedules = ExportSchedules()
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.schedule is not None:
        changes["expression"] = body.schedule
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if body.export is not None:
        changes["spec"] = body.export.spec()
    if body.delivery is not None:
        changes["delivery"] = check_delivery(schedules.table, principal.org_id, body.delivery.model_dump())
    return JSONResponse(public_schedule(schedules.update(principal, schedule_id, changes)))


@router.delete("/{schedule_id}", status_code=204, summary="Remove an export schedule (its exports stay)")
def delete_schedule(schedule_id: str, principal: CurrentPrincipal) -> Response:
    ExportSchedules().delete(_admin(principal), schedule_id)
    return Response(status_code=204)
