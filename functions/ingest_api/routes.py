"""Ingest routes: native JSON/NDJSON, Elasticsearch _bulk, Loki push, Prometheus remote_write.

Every route answers as soon as the records are validated, counted and enqueued; the
ingest worker writes the Parquet later.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ingest_api.bodies import JSON_TYPES, read_body, require_media
from ingest_api.es import (
    ELASTIC_HEADERS,
    INFO,
    bulk_response,
    cat_health,
    cat_health_text,
    new_doc_id,
    response_media_type,
)
from molesignal.auth.principal import Role
from molesignal.errors import Invalid
from molesignal.ingest import dlq
from molesignal.ingest.service import Ingestor, IngestResult, check_tenant_stream
from molesignal.web.deps import CurrentPrincipal

router = APIRouter(tags=["ingest"])
es_router = APIRouter(prefix="/api/v1/es", tags=["ingest: elasticsearch"])

StreamParam = Annotated[str, Query(description="target stream", max_length=128)]


class IngestAccepted(BaseModel):
    request_id: str
    accepted: int
    rejected: int
    streams: dict[str, int]
    errors: list[dict[str, Any]] = Field(description="the first 100 rejected records: index, code, error")


def _answer(result: IngestResult) -> JSONResponse:
    if result.accepted == 0 and result.rejected:
        first = result.rejections[0]
        body = {"error": f"no record was accepted: {first.reason}", "code": first.code, **result.to_response()}
        return JSONResponse(body, status_code=400)
    return JSONResponse(result.to_response(), status_code=202)


@router.post(
    "/api/v1/ingest/{stream}",
    status_code=202,
    response_model=IngestAccepted,
    summary="Ingest a JSON array or NDJSON into a stream",
    openapi_extra={"requestBody": {"content": {"application/json": {}, "application/x-ndjson": {}}, "required": True}},
)
async def ingest_json(stream: str, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    ingestor = Ingestor()
    # The rate window is counted while the body is read and parsed; its 429 still comes first.
    with ingestor.admit_alongside(principal) as admission:
        check_tenant_stream(stream)
        require_media(request, JSON_TYPES, "JSON ingest")
        return _answer(ingestor.submit_body(principal, stream, await read_body(request), admission=admission))


@router.post(
    "/api/v1/loki/api/v1/push",
    status_code=204,
    summary="Loki push (JSON, or protobuf + snappy); answers 204 like Loki",
    openapi_extra={
        "requestBody": {"content": {"application/json": {}, "application/x-protobuf": {}}, "required": True}
    },
)
async def loki_push(request: Request, principal: CurrentPrincipal, stream: StreamParam = "loki") -> Response:
    from molesignal.ingest.decoders.loki import decode_push

    ingestor = Ingestor()
    ingestor.admit(principal)
    check_tenant_stream(stream)
    body = await request.body()
    if not body:
        raise Invalid("invalid argument: request body is required", code="empty_body")
    records = decode_push(body, request.headers.get("content-type", ""), request.headers.get("content-encoding"))
    result = ingestor.submit(principal, ((i, stream, r) for i, r in enumerate(records)))
    if result.accepted == 0 and result.rejected:
        return _answer(result)
    # Loki clients (python-logging-loki among them) treat only 204 as success.
    return Response(status_code=204, headers=_count_headers(result))


@router.post(
    "/api/v1/prometheus/api/v1/write",
    status_code=202,
    response_model=IngestAccepted,
    summary="Prometheus remote_write 1.0 (protobuf + snappy)",
    openapi_extra={"requestBody": {"content": {"application/x-protobuf": {}}, "required": True}},
)
async def prometheus_write(
    request: Request, principal: CurrentPrincipal, stream: StreamParam = "prometheus"
) -> JSONResponse:
    from molesignal.ingest.decoders.prometheus import decode_remote_write

    ingestor = Ingestor()
    ingestor.admit(principal)
    check_tenant_stream(stream)
    body = await request.body()
    if not body:
        raise Invalid("invalid argument: request body is required", code="empty_body")
    records = decode_remote_write(
        body, request.headers.get("content-type", ""), request.headers.get("content-encoding")
    )
    return _answer(ingestor.submit(principal, ((i, stream, r) for i, r in enumerate(records))))


def _count_headers(result: IngestResult) -> dict[str, str]:
    return {
        "X-MoleSignal-Request-Id": result.request_id,
        "X-MoleSignal-Accepted": str(result.accepted),
        "X-MoleSignal-Rejected": str(result.rejected),
    }


# --- Elasticsearch ---------------------------------------------------------
@es_router.get("", summary="Elasticsearch-compatible info (clients call it first, at the base URL)")
def es_info(principal: CurrentPrincipal, request: Request) -> JSONResponse:
    return JSONResponse(
        INFO, headers=ELASTIC_HEADERS, media_type=response_media_type(request.headers.get("accept", ""))
    )


@es_router.head("", summary="Elasticsearch ping: 200 with no body for a valid credential")
def es_ping(principal: CurrentPrincipal) -> Response:
    return Response(status_code=200, headers=ELASTIC_HEADERS)


@es_router.get("/_cat/health", summary="Elasticsearch _cat/health (rsyslog asks before it resumes sending)")
def es_cat_health(principal: CurrentPrincipal, request: Request) -> Response:
    if "json" in request.query_params.get("format", "") or "json" in request.headers.get("accept", ""):
        return JSONResponse(cat_health(), headers=ELASTIC_HEADERS)
    return Response(cat_health_text(), media_type="text/plain; charset=UTF-8", headers=ELASTIC_HEADERS)


async def _bulk(request: Request, principal: Any, index: str | None) -> JSONResponse:
    from molesignal.ingest.decoders.es_bulk import parse_bulk

    started = time.perf_counter()
    ingestor = Ingestor()
    ingestor.admit(principal)
    items = parse_bulk(await read_body(request), index)
    ids: list[str | None] = [item.doc_id or (new_doc_id() if item.error is None else None) for item in items]
    submitted = (
        (position, item.index or "", {**(item.document or {}), "_id": ids[position]})
        for position, item in enumerate(items)
        if item.error is None
    )
    result = ingestor.submit(principal, submitted)
    return JSONResponse(
        bulk_response(items, ids, result, started),
        status_code=202,
        headers={**ELASTIC_HEADERS, **_count_headers(result)},
        media_type=response_media_type(request.headers.get("accept", "")),
    )


_BULK_BODY = {"requestBody": {"content": {"application/x-ndjson": {}}, "required": True}}


@es_router.post("/_bulk", status_code=202, summary="Elasticsearch _bulk (index/create)", openapi_extra=_BULK_BODY)
async def es_bulk(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    return await _bulk(request, principal, None)


@es_router.put("/_bulk", status_code=202, summary="Elasticsearch _bulk (index/create)", openapi_extra=_BULK_BODY)
async def es_bulk_put(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    return await _bulk(request, principal, None)


@es_router.post(
    "/{index}/_bulk", status_code=202, summary="Elasticsearch _bulk into one index", openapi_extra=_BULK_BODY
)
async def es_index_bulk(index: str, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    return await _bulk(request, principal, index)


@es_router.put(
    "/{index}/_bulk", status_code=202, summary="Elasticsearch _bulk into one index", openapi_extra=_BULK_BODY
)
async def es_index_bulk_put(index: str, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    return await _bulk(request, principal, index)


# --- dead letters ----------------------------------------------------------
class DlqDepth(BaseModel):
    messages: int
    in_flight: int


class RedriveOut(BaseModel):
    moved: int


@router.get("/api/v1/ingest/_dlq", response_model=DlqDepth, summary="Ingest dead-letter queue depth (root)")
def dlq_depth(principal: CurrentPrincipal) -> DlqDepth:
    principal.require(Role.ROOT)
    return DlqDepth.model_validate(dlq.depth())


@router.post(
    "/api/v1/ingest/_dlq/redrive", response_model=RedriveOut, summary="Move dead letters back to the queue (root)"
)
def dlq_redrive(principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> RedriveOut:
    principal.require(Role.ROOT)
    return RedriveOut(moved=dlq.redrive(limit))
