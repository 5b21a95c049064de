"""``/r/{shortId}``: the read-only viewer of a shared trace, without the /v1 prefix (spec 003)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from molesignal.traces.blobs import blob_key
from molesignal.traces.digest import digest
from molesignal.traces.limits import TraceRate, check_trace_rate
from molesignal.traces.service import TraceService
from molesignal.traces.sharing import Sharing
from molesignal.traces.viewer import content_security_policy, render_viewer
from molesignal.web.deps import OptionalPrincipal

router = APIRouter(tags=["trace"])


def _page(short_id: str, principal: OptionalPrincipal, *, embed: bool) -> HTMLResponse:
    service = TraceService()
    item = Sharing(service).open_shared(short_id, principal)
    check_trace_rate(service.table, item["org_id"], TraceRate.READ)
    events = digest(service.all_events(item))
    video = (item.get("artifacts") or {}).get("video")
    video_url = None
    if video:
        info = (item.get("blobs") or {}).get(video) or {}
        video_url = service.blobs.presign_get(blob_key(item["org_id"], video), content_type=info.get("content_type"))
    page = render_viewer(item, events, video_url=video_url, embed=embed)
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": content_security_policy(video_url, embed=embed),
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/r/{short_id}", response_class=HTMLResponse, summary="Read-only viewer of a shared trace")
def viewer(short_id: str, principal: OptionalPrincipal) -> HTMLResponse:
    return _page(short_id, principal, embed=False)


@router.get("/r/{short_id}/embed", response_class=HTMLResponse, summary="The viewer without chrome, for iframes")
def viewer_embed(short_id: str, principal: OptionalPrincipal) -> HTMLResponse:
    return _page(short_id, principal, embed=True)
