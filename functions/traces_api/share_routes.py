"""``/v1/shares/{shortId}``: what the console's ``/r/{shortId}`` viewer reads (spec 003's public
share). Signed out, only a live public-read share opens; members of the trace's org open any of
its traces. Every read goes through the share's trace: no other trace is reachable from here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from molesignal.settings import get_settings
from molesignal.storage.table import Item
from molesignal.traces.limits import TraceRate, check_trace_rate
from molesignal.traces.service import TraceService, public_detail
from molesignal.traces.sharing import Sharing, is_member
from traces_api.deps import EventsQuery, MaybeReader
from traces_api.schemas import EventsResponse, SharedTrace

router = APIRouter(tags=["trace"])

_NOT_SHARED: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such share, not shared, or shared with its org only and the caller is not a member"},
    410: {"description": "the public link has expired (code share_expired)"},
}


def _open(service: TraceService, short_id: str, principal: MaybeReader) -> Item:
    item = Sharing(service).open_shared(short_id, principal)
    check_trace_rate(service.table, item["org_id"], TraceRate.READ)  # the owning org's read budget
    return item


@router.get(
    "/v1/shares/{short_id}",
    response_model=SharedTrace,
    summary="The shared trace's detail, for the /r/{shortId} viewer",
    responses=_NOT_SHARED,
)
def shared_trace(short_id: str, principal: MaybeReader) -> SharedTrace:
    service = TraceService()
    item = _open(service, short_id, principal)
    member = is_member(principal, item)
    ttl = get_settings().trace_share_url_ttl_s
    detail = public_detail(item, service.repo.counters(item["trace_id"]), service.signed_urls(item, expires_s=ttl))
    # Outsiders see the run, not where the org keeps it.
    return SharedTrace.model_validate(
        {**detail, "s3_prefix": detail["s3_prefix"] if member else None, "signed_urls_expire_in": ttl, "member": member}
    )


@router.get(
    "/v1/shares/{short_id}/events",
    response_model=EventsResponse,
    summary="A slice of the shared trace's events",
    responses=_NOT_SHARED,
)
def shared_events(short_id: str, principal: MaybeReader, page: EventsQuery) -> EventsResponse:
    service = TraceService()
    item = _open(service, short_id, principal)
    return EventsResponse(events=service.events_of(item, page.selection, limit=page.limit, offset=page.offset))


@router.get(
    "/v1/shares/{short_id}/blob/{sha256}",
    summary="302 to a short-lived presigned URL of one of the shared trace's files",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Location: the presigned URL"}, **_NOT_SHARED},
)
def shared_blob(short_id: str, sha256: str, principal: MaybeReader) -> Any:
    service = TraceService()
    item = _open(service, short_id, principal)
    url = service.blob_url_of(item, sha256, expires_s=get_settings().trace_share_url_ttl_s)
    return RedirectResponse(url, status_code=302)
