"""Writing traces: bundle ingest (multipart, or a presigned upload) and the internal live feed."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from molesignal.errors import Invalid, UnsupportedMediaType
from molesignal.traces.internal import HEADER, check_internal_token
from molesignal.traces.replays import Replays
from molesignal.traces.service import IngestForm, TraceService
from traces_api.deps import Ingester
from traces_api.schemas import IngestResponse, LiveAppended, LiveFinish, LiveStart, UploadResponse

router = APIRouter(tags=["trace"])

_TEXT_FIELDS = (
    "scenario_slug",
    "scenario_title",
    "source",
    "commit_sha",
    "pr_number",
    "parent_trace_id",
    "replay_from_step",
    "replay_id",
    "upload_id",
)
INGEST_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "bundle": {"type": "string", "format": "binary", "description": ".zip or .tar.gz bundle"},
        "upload_id": {"type": "string", "description": "instead of bundle: an upload from POST /v1/traces/uploads"},
        "scenario_slug": {"type": "string"},
        "scenario_title": {"type": "string"},
        "source": {"type": "string", "enum": ["pr", "schedule", "manual", "shadow_diff"]},
        "commit_sha": {"type": "string"},
        "pr_number": {"type": "integer"},
        "parent_trace_id": {"type": "string", "format": "uuid"},
        "replay_from_step": {"type": "integer"},
        "replay_id": {"type": "string"},
    },
}


def _int(fields: dict[str, str], name: str) -> int | None:
    value = fields.get(name)
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise Invalid(f"invalid argument: {name} must be an integer") from exc


async def _read_form(request: Request) -> tuple[bytes | None, dict[str, str]]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("unsupported media type: send multipart/form-data with a bundle file")
    try:
        form = await request.form()
    except Exception as exc:  # python-multipart's errors have no common base
        raise Invalid(f"invalid argument: unreadable multipart body ({exc})") from exc
    bundle: bytes | None = None
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != "bundle":
                raise Invalid(f"invalid argument: {name} must be a text field, not a file")
            bundle = await value.read()
        elif name in _TEXT_FIELDS:
            fields[name] = value
        elif name == "bundle":
            raise Invalid("invalid argument: bundle must be a file")
    return bundle, fields


@router.post(
    "/v1/traces/ingest",
    status_code=201,
    response_model=IngestResponse,
    summary="Ingest a test-run bundle (.zip or .tar.gz)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": INGEST_FORM_SCHEMA}}}
    },
)
async def ingest(request: Request, principal: Ingester) -> JSONResponse:
    bundle, fields = await _read_form(request)
    upload_id = fields.get("upload_id") or None
    if (bundle is None) == (upload_id is None):
        raise Invalid("invalid argument: send exactly one of a bundle file or an upload_id")
    form = IngestForm(
        scenario_slug=fields.get("scenario_slug") or None,
        scenario_title=fields.get("scenario_title") or None,
        source=fields.get("source") or None,
        commit_sha=fields.get("commit_sha") or None,
        pr_number=_int(fields, "pr_number"),
        parent_trace_id=fields.get("parent_trace_id") or None,
        replay_from_step=_int(fields, "replay_from_step"),
        replay_id=fields.get("replay_id") or None,
    )
    service = TraceService()
    if bundle is None:
        bundle = service.bundle_from_upload(principal, str(upload_id))
    if not bundle:
        raise Invalid("invalid bundle: the bundle file is empty", code="invalid_bundle")
    replays = Replays(service)
    if form.replay_id is not None:
        replays.check_completable(principal, form.replay_id, parent_trace_id=form.parent_trace_id)
    result = service.ingest(principal, bundle, form, upload_id=upload_id)
    if form.replay_id is not None:
        replays.complete(form.replay_id, trace_id=result.item["trace_id"])
    body = IngestResponse(
        trace_id=result.item["trace_id"],
        short_id=result.item["short_id"],
        event_count=result.events,
        status=result.item["status"],
    )
    return JSONResponse(body.model_dump(), status_code=201)


@router.post(
    "/v1/traces/uploads",
    status_code=201,
    response_model=UploadResponse,
    summary="A presigned PUT URL for a bundle larger than the request body limit",
)
def new_upload(principal: Ingester) -> JSONResponse:
    return JSONResponse(UploadResponse.model_validate(TraceService().new_upload(principal)).model_dump(), 201)


InternalToken = Annotated[str | None, Header(alias=HEADER, description="the internal service token")]


@router.post(
    "/v1/traces/live",
    status_code=201,
    response_model=IngestResponse,
    summary="Internal: open a running trace that receives events incrementally",
)
def live_start(body: LiveStart, token: InternalToken = None) -> JSONResponse:
    check_internal_token(token)
    form = IngestForm(
        scenario_slug=body.scenario_slug,
        scenario_title=body.scenario_title,
        source=body.source,
        commit_sha=body.commit_sha,
        pr_number=body.pr_number,
    )
    item = TraceService().start_live(body.org_id, form)
    out = IngestResponse(trace_id=item["trace_id"], short_id=item["short_id"], event_count=0, status="running")
    return JSONResponse(out.model_dump(), status_code=201)


@router.post(
    "/v1/traces/{trace_id}/live/events",
    response_model=LiveAppended,
    summary="Internal: append events (JSON array or NDJSON) to a running trace",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def live_events(trace_id: str, request: Request, token: InternalToken = None) -> LiveAppended:
    check_internal_token(token)
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if media == "application/x-ndjson":
            events: Any = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        elif media == "application/json":
            events = orjson.loads(raw)
        else:
            raise UnsupportedMediaType("unsupported media type: send application/json or application/x-ndjson")
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"invalid argument: body is not JSON ({exc})", code="malformed_json") from exc
    if not isinstance(events, list):
        raise Invalid("invalid argument: send a JSON array of events")
    total = TraceService().append_live(trace_id, events)
    return LiveAppended(accepted=len(events), event_count=total)


@router.post(
    "/v1/traces/{trace_id}/live/finish",
    response_model=IngestResponse,
    summary="Internal: close a running trace with its final status",
)
def live_finish(trace_id: str, body: LiveFinish, token: InternalToken = None) -> IngestResponse:
    check_internal_token(token)
    service = TraceService()
    item = service.finish_live(
        trace_id, body.status, duration_ms=body.duration_ms, failure_signature=body.failure_signature
    )
    counters = service.repo.counters(trace_id)
    return IngestResponse(
        trace_id=trace_id,
        short_id=item["short_id"],
        event_count=int(counters.get("event_count", 0)),
        status=item["status"],
    )
