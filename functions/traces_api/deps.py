"""The trace family's caller: the authorizer's principal, the org it acts on (``x-molar-org``
on local and test stages), and the per-org rate limit of the route's class."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from molesignal.auth.principal import Principal, Role
from molesignal.errors import Forbidden
from molesignal.settings import get_settings
from molesignal.storage.table import Table
from molesignal.traces.events import EventFilter
from molesignal.traces.limits import TraceRate, check_trace_rate
from molesignal.web.deps import current_principal, optional_principal

ORG_HEADER = "x-molar-org"


def scoped(principal: Principal, request: Request) -> Principal:
    """The principal acting on the org ``x-molar-org`` names, where the stage honours it.

    Root may act on any org that way; anyone else naming another org is refused (403), and
    on other stages the header is ignored.
    """
    wanted = request.headers.get(ORG_HEADER)
    if not wanted or not get_settings().trusts_org_header or wanted == principal.org_id:
        return principal
    if principal.role is not Role.ROOT:
        raise Forbidden(f"forbidden: {ORG_HEADER} names another org", code="cross_org")
    return dataclasses.replace(principal, org_id=wanted)


def _caller(kind: TraceRate) -> Any:
    def resolve(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        acting = scoped(principal, request)
        check_trace_rate(Table(), acting.org_id, kind)
        return acting

    return resolve


Reader = Annotated[Principal, Depends(_caller(TraceRate.READ))]
Writer = Annotated[Principal, Depends(_caller(TraceRate.WRITE))]
Ingester = Annotated[Principal, Depends(_caller(TraceRate.INGEST))]
MaybeReader = Annotated[Principal | None, Depends(optional_principal)]


@dataclasses.dataclass(frozen=True)
class EventsPage:
    selection: EventFilter
    limit: int
    offset: int


def _events_page(
    step: Annotated[str | None, Query(max_length=200, description="events of this step_id")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EventsPage:
    return EventsPage(EventFilter(step=step, kind=kind), limit, offset)


# The query of an events slice, the same for a trace and for a share.
EventsQuery = Annotated[EventsPage, Depends(_events_page)]
