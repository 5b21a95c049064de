"""Acting on traces: pin, share, the forensic report and the diff of two runs (spec 003)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from molesignal.clock import iso
from molesignal.errors import Invalid
from molesignal.settings import get_settings
from molesignal.traces.diff import DIMENSIONS, compare
from molesignal.traces.digest import digest
from molesignal.traces.report import render_report
from molesignal.traces.service import TraceService
from molesignal.traces.sharing import Sharing
from molesignal.traces.tiers import Tiers
from traces_api.deps import Reader, Writer
from traces_api.schemas import (
    DiffResponse,
    PinResponse,
    RestoreResponse,
    ShareRequest,
    ShareResponse,
    UnshareResponse,
)

router = APIRouter(tags=["trace"])


def public_base(request: Request) -> str:
    configured = get_settings().trace_public_base_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


@router.get("/v1/traces/diff", response_model=DiffResponse, summary="Compare two traces along one dimension")
def diff_traces(
    principal: Reader,
    a: Annotated[str, Query(description="the source trace")],
    b: Annotated[str, Query(description="the trace to compare with it (e.g. its replay)")],
    dimension: Annotated[str, Query(description=", ".join(DIMENSIONS))] = "overview",
) -> DiffResponse:
    if dimension not in DIMENSIONS:
        raise Invalid(f"invalid argument: dimension must be one of {', '.join(DIMENSIONS)}")
    service = TraceService()
    first, second = service.trace(principal, a), service.trace(principal, b)
    events_a, events_b = digest(service.all_events(first)), digest(service.all_events(second))
    counts = (
        int(service.repo.counters(a).get("event_count", 0)),
        int(service.repo.counters(b).get("event_count", 0)),
    )
    result = compare(dimension, first, second, events_a, events_b, counts)
    return DiffResponse.model_validate({"a": a, "b": b, "dimension": dimension, **result})


def _pin(trace_id: str, principal: Writer, pinned: bool) -> PinResponse:
    item = Sharing(TraceService()).set_pinned(principal, trace_id, pinned)
    return PinResponse(pinned=bool(item.get("pinned")))


@router.post("/v1/traces/{trace_id}/pin", response_model=PinResponse, summary="Pin: the trace stays in its tier")
def pin(trace_id: str, principal: Writer) -> PinResponse:
    return _pin(trace_id, principal, True)


@router.post("/v1/traces/{trace_id}/unpin", response_model=PinResponse, summary="Unpin: the trace ages again")
def unpin(trace_id: str, principal: Writer) -> PinResponse:
    return _pin(trace_id, principal, False)


@router.post("/v1/traces/{trace_id}/share", response_model=ShareResponse, summary="Share the trace's viewer link")
def share(trace_id: str, body: ShareRequest, request: Request, principal: Writer) -> ShareResponse:
    item = Sharing(TraceService()).share(principal, trace_id, body.visibility, body.expires_days)
    expires = item.get("share_expires_at_us")
    return ShareResponse(
        short_id=item["short_id"],
        url=f"{public_base(request)}/r/{item['short_id']}",
        visibility=item["share_visibility"],
        expires_at=iso(int(expires)) if expires else None,
    )


@router.delete(
    "/v1/traces/{trace_id}/share",
    response_model=UnshareResponse,
    summary="Revoke the trace's share link: it then answers 404 to everyone but the org's members",
)
def unshare(trace_id: str, principal: Writer) -> UnshareResponse:
    item = Sharing(TraceService()).unshare(principal, trace_id)
    return UnshareResponse(short_id=item["short_id"], shared=False)


@router.get(
    "/v1/traces/{trace_id}/report.md",
    response_class=PlainTextResponse,
    summary="A forensic Markdown report of the trace",
    responses={200: {"content": {"text/markdown": {}}}},
)
def report(trace_id: str, request: Request, principal: Reader) -> PlainTextResponse:
    service = TraceService()
    item = service.trace(principal, trace_id)
    events = digest(service.all_events(item))
    base = public_base(request)
    links = {
        "detail": f"{base}/v1/traces/{trace_id}",
        "events": f"{base}/v1/traces/{trace_id}/events",
        "viewer": f"{base}/r/{item.get('short_id')}",
    }
    for role, sha in sorted((item.get("artifacts") or {}).items()):
        links[role] = f"{base}/v1/traces/{trace_id}/blob/{sha}"
    text = render_report(
        item, events, event_count=int(service.repo.counters(trace_id).get("event_count", 0)), links=links
    )
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="trace-{trace_id}.md"'},
    )


@router.post(
    "/v1/traces/{trace_id}/restore",
    response_model=RestoreResponse,
    summary="Bring a warm or cold trace back to the hot tier",
)
def restore(trace_id: str, principal: Writer) -> RestoreResponse:
    status, eta = Tiers(TraceService()).restore(principal, trace_id)
    return RestoreResponse.model_validate({"status": status, "eta_seconds": eta})
