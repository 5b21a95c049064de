"""OTLP/HTTP receiver routes (spec 002) and the audited session-content read."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from molesignal.ingest.service import Ingestor
from molesignal.otlp.content import policy_for_org
from molesignal.otlp.decode import is_protobuf
from molesignal.otlp.reader import read_session_content
from molesignal.otlp.receiver import OtlpReceiver
from molesignal.otlp.response import PROTOBUF_RESPONSE_TYPE, export_response
from molesignal.query.service import QueryService
from molesignal.web.deps import CurrentPrincipal, SourceIp

router = APIRouter(tags=["otlp"])

_OTLP_BODY = {
    "requestBody": {"required": True, "content": {"application/x-protobuf": {}, "application/json": {}}},
    "responses": {
        "200": {
            "description": "a protobuf request, answered as OTLP/HTTP says: an Export*ServiceResponse whose "
            "partial_success carries the number of skipped records and why",
            "content": {PROTOBUF_RESPONSE_TYPE: {}},
        },
        "415": {"description": "neither application/x-protobuf nor application/json"},
        "503": {"description": "ingestion is paused for this org"},
    },
}


class Counts(BaseModel):
    logEvents: int
    metricPoints: int
    spans: int


class OtlpAccepted(BaseModel):
    accepted: bool
    counts: Counts
    sessionIds: list[str]
    skipped: int
    requestId: str


async def _receive(signal: Literal["logs", "metrics", "traces"], request: Request, principal: Any) -> Response:
    ingestor = Ingestor()
    org = ingestor.admit(principal)  # role, paused org (503), ingest QPS — before reading the body
    body = await request.body()
    result = OtlpReceiver(ingestor).receive(
        principal,
        signal,
        body,
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
        policy=policy_for_org(org),
    )
    if is_protobuf(request.headers.get("content-type")):
        return Response(
            export_response(signal, result.skipped, result.skip_reason),
            status_code=200,
            media_type=PROTOBUF_RESPONSE_TYPE,
            headers={"X-MoleSignal-Request-Id": result.request_id},
        )
    return JSONResponse(result.to_response(), status_code=202)


def _register(signal: Literal["logs", "metrics", "traces"]) -> None:
    async def receive(request: Request, principal: CurrentPrincipal) -> Response:
        return await _receive(signal, request, principal)

    for path in (f"/v1/{signal}", f"/api/ingest/otlp/{signal}"):
        router.add_api_route(
            path,
            receive,
            methods=["POST"],
            status_code=202,
            response_model=OtlpAccepted,
            summary=f"OTLP/HTTP {signal} (protobuf or JSON, gzip)",
            openapi_extra=_OTLP_BODY,
            name=f"otlp_{signal}_{path.count('/')}",
        )


for _signal in ("logs", "metrics", "traces"):
    _register(_signal)  # type: ignore[arg-type]


class ContentRecord(BaseModel):
    record_id: str | None
    timestamp: int
    source_stream: str | None
    content: dict[str, Any] | None = None
    error: str | None = None


class SessionContent(BaseModel):
    session_id: str
    records: list[ContentRecord]


@router.get(
    "/api/v1/sessions/{session_id}/content",
    response_model=SessionContent,
    tags=["otlp"],
    summary="Decrypted session content (org admins and the session's own user; every read is audited)",
)
def session_content(session_id: str, principal: CurrentPrincipal, ip: SourceIp) -> SessionContent:
    service = QueryService()
    service.admit(principal)
    records = read_session_content(service, principal, session_id, source_ip=ip)
    return SessionContent.model_validate({"session_id": session_id, "records": records})
