"""Reading traces: list, detail, events, the live stream, blobs (spec 003)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, StreamingResponse

from molesignal.errors import Invalid
from molesignal.traces.model import SOURCES, STATUSES, TIERS
from molesignal.traces.repository import ListQuery
from molesignal.traces.service import TraceService, public_detail, public_summary
from molesignal.traces.sse import event_stream
from traces_api.deps import EventsQuery, Reader
from traces_api.schemas import EventsResponse, TraceDetail, TraceListResponse

router = APIRouter(tags=["trace"])


def _instant_us(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(f"invalid argument: {name} must be an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise Invalid(f"invalid argument: {name} needs a time zone (Z or +hh:mm)")
    return max(0, int(moment.timestamp() * 1_000_000))


def _one_of(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise Invalid(f"invalid argument: {name} must be one of {', '.join(allowed)}")
    return value


@router.get("/v1/traces", response_model=TraceListResponse, summary="List traces, newest first")
def list_traces(
    principal: Reader,
    scenario_id: str | None = None,
    status: str | None = None,
    source: str | None = None,
    signature: Annotated[str | None, Query(max_length=200, description="exact failure_signature")] = None,
    tier: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words that must all appear")] = None,
    from_: Annotated[str | None, Query(alias="from", description="ISO 8601, inclusive")] = None,
    to: Annotated[str | None, Query(description="ISO 8601, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> TraceListResponse:
    query = ListQuery(
        org_id=principal.org_id,
        scenario_id=scenario_id,
        status=_one_of(status, "status", STATUSES),
        source=_one_of(source, "source", SOURCES),
        signature=signature,
        tier=_one_of(tier, "tier", TIERS),
        q=q,
        from_us=_instant_us(from_, "from"),
        to_us=_instant_us(to, "to"),
        limit=limit,
        cursor=cursor,
    )
    if query.from_us is not None and query.to_us is not None and query.from_us > query.to_us:
        raise Invalid("invalid argument: from is after to")
    items, next_cursor = TraceService().list_traces(principal, query)
    return TraceListResponse.model_validate({"items": [public_summary(i) for i in items], "next_cursor": next_cursor})


@router.get("/v1/traces/{trace_id}", response_model=TraceDetail, summary="One trace, with presigned artifact URLs")
def get_trace(trace_id: str, principal: Reader) -> TraceDetail:
    service = TraceService()
    item = service.trace(principal, trace_id)
    detail = public_detail(item, service.repo.counters(trace_id), service.signed_urls(item))
    return TraceDetail.model_validate(detail)


@router.get("/v1/traces/{trace_id}/events", response_model=EventsResponse, summary="A slice of the trace's events")
def get_events(trace_id: str, principal: Reader, page: EventsQuery) -> EventsResponse:
    events = TraceService().events(principal, trace_id, page.selection, limit=page.limit, offset=page.offset)
    return EventsResponse(events=events)


@router.get(
    "/v1/traces/{trace_id}/stream",
    summary="The trace's events as Server-Sent Events (live while it runs)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_events(
    trace_id: str,
    principal: Reader,
    live: Annotated[int, Query(ge=0, le=1, description="1: only events appended from now on")] = 0,
) -> StreamingResponse:
    service = TraceService()
    item = service.trace(principal, trace_id)
    service.require_readable(item)
    body = event_stream(service.repo, service.log, item, live=bool(live))
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/traces/{trace_id}/blob/{sha256}",
    summary="302 to a presigned URL of one of the trace's blobs",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Location: the presigned URL"}},
)
def get_blob(trace_id: str, sha256: str, principal: Reader) -> Any:
    url = TraceService().blob_url(principal, trace_id, sha256)
    return RedirectResponse(url, status_code=302)
