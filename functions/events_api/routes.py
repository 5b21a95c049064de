"""Events routes (spec 001). Intake answers 202 with pre-issued ids; the events worker
chains and lands the events moments later."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from events_api.schemas import BatchAccepted, EventAccepted, EventOut, EventPage
from events_api.timeparams import epoch_us
from molesignal.errors import Unprocessable
from molesignal.events.intake import Accepted, EventIntake
from molesignal.events.model import EventBatchIn, EventIn
from molesignal.events.reading import MAX_PAGE, EventFilter, EventReader
from molesignal.web.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1/events", tags=["events"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retry with the same key and body returns the same ids and stores nothing twice (24 h)",
    ),
]


def _accepted(body: dict[str, object], outcome: Accepted) -> JSONResponse:
    headers = {"Idempotency-Replayed": "true"} if outcome.replayed else {}
    return JSONResponse(body, status_code=202, headers=headers)


@router.post("", status_code=202, response_model=EventAccepted, summary="Record one audit event (202, id issued)")
def create_event(event: EventIn, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    intake = EventIntake()
    intake.admit(principal)
    outcome = intake.accept(principal, [event], idempotency_key)
    return _accepted({"id": outcome.ids[0]}, outcome)


@router.post(
    "/batch", status_code=202, response_model=BatchAccepted, summary="Record up to 1,000 audit events (202, ids issued)"
)
def create_events(
    batch: EventBatchIn, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    intake = EventIntake()
    intake.admit(principal)
    outcome = intake.accept(principal, batch.events, idempotency_key)
    return _accepted({"ids": outcome.ids}, outcome)


@router.get("", response_model=EventPage, summary="List events, newest first (cursor pagination)")
def list_events(
    principal: CurrentPrincipal,
    from_: Annotated[datetime | None, Query(alias="from", description="occurred_at at or after (ISO 8601)")] = None,
    to: Annotated[datetime | None, Query(description="occurred_at before (ISO 8601)")] = None,
    action: Annotated[list[str] | None, Query(max_length=50, description="one or more actions")] = None,
    actor_id: Annotated[str | None, Query(max_length=256)] = None,
    target_id: Annotated[str | None, Query(max_length=256)] = None,
    order: Literal["desc", "asc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    EventReader.admit(principal)
    filters = EventFilter(
        from_us=epoch_us(from_),
        to_us=epoch_us(to),
        actions=tuple(action or ()),
        actor_id=actor_id,
        target_id=target_id,
        order=order,
    )
    if filters.from_us is not None and filters.to_us is not None and filters.from_us >= filters.to_us:
        raise Unprocessable("invalid argument: from must be before to", code="validation_failed")
    page = EventReader().page(principal, filters, limit=limit, cursor=cursor)
    return JSONResponse(page.body())


@router.get("/{event_id}", response_model=EventOut, summary="One event, with its sequence number and hashes")
def get_event(event_id: str, principal: CurrentPrincipal) -> JSONResponse:
    EventReader.admit(principal)
    return JSONResponse(EventReader().get(principal, event_id))
