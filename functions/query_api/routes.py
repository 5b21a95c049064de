"""Query routes: spec 000's ``/api/v1/query``, spec 004's ``/v1/api/sql``, and streams."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from molesignal import audit, aws
from molesignal.auth.principal import Role
from molesignal.clock import now_us
from molesignal.errors import DomainError, Invalid
from molesignal.lake.maintenance import delete_stream, update_stream_settings
from molesignal.lake.streams import Streams
from molesignal.observability import logger
from molesignal.query.answer_size import response_bytes
from molesignal.query.correlate import correlate, correlation_key
from molesignal.query.deadline import Deadline
from molesignal.query.errors import QueryResultTooLarge
from molesignal.query.service import READ_ROLES, QueryRequest, QueryService
from molesignal.settings import get_settings
from molesignal.sql.files import Upload, check_uploads, locate
from molesignal.sql.session import SqlSession
from molesignal.sql.statements import PLACEHOLDER_NAME
from molesignal.web.deps import CurrentPrincipal, SourceIp, TableDep
from molesignal.web.envelopes import stream_error_line
from molesignal.web.errors import describe_validation
from query_api.schemas import (
    MAX_US,
    SQL_FORM_SCHEMA,
    QueryAnswer,
    QueryBody,
    SqlAnswer,
    SqlBody,
    StreamDeleted,
    StreamList,
    StreamOut,
    StreamUpdate,
)

router = APIRouter(tags=["query"])
files_router = APIRouter(tags=["files"])
# Up to here a download is streamed through the function (a Lambda response holds 6 MB, base64
# included); larger files are a 302 to a presigned S3 URL that lives a minute.
STREAMED_FILE_BYTES = 4 * 1024 * 1024
PRESIGNED_TTL_S = 60
streams_router = APIRouter(prefix="/api/v1/streams", tags=["streams"])


T = TypeVar("T")
# The engine is stopped at the deadline and answers QUERY_TIMEOUT itself; the watchdog below is
# for what cannot be stopped (a DynamoDB call, a thread busy elsewhere), so it waits a little longer.
_WATCHDOG_GRACE_S = 0.5


def _wants_ndjson(request: Request) -> bool:
    return "application/x-ndjson" in request.headers.get("accept", "").lower()


def _deadline(request: Request) -> Deadline:
    """The query budget, counted from when the request reached this function."""
    started = request.scope.get("molesignal.started")
    return Deadline(get_settings().query_timeout_s, started=started if isinstance(started, float) else None)


async def _within(deadline: Deadline, work: Callable[[], T]) -> T:
    """``work`` on a worker thread, answered by the deadline whatever it is blocked on.

    A thread cannot be stopped: past the deadline it is left to finish on its own. It can do
    no harm there: its engine process is killed at the deadline, and it writes no cache entry
    once the deadline has passed (``QueryService.run``).
    """
    try:
        with anyio.fail_after(deadline.remaining() + _WATCHDOG_GRACE_S):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except TimeoutError as exc:
        raise deadline.exceeded("waiting for the answer") from exc


def _bounded_json(payload: dict[str, Any]) -> JSONResponse:
    """The answer, unless its JSON is larger than one response may be."""
    response = JSONResponse(payload)
    limit = get_settings().query_max_result_bytes
    if response_bytes(bytes(response.body)) > limit:
        raise QueryResultTooLarge.over(limit)
    return response


@router.post(
    "/api/v1/query",
    response_model=QueryAnswer,
    summary="SQL over the org's streams within a µs time range (NDJSON with Accept: application/x-ndjson)",
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def query(body: QueryBody, request: Request, principal: CurrentPrincipal) -> Any:
    deadline = _deadline(request)
    service = QueryService()
    spec = QueryRequest(sql=body.sql, start_us=body.time_range.start, end_us=body.time_range.end)
    if _wants_ndjson(request):

        def start_stream() -> Iterator[bytes]:
            service.admit(principal)
            return service.stream(principal, spec, deadline=deadline)

        chunks = await _within(deadline, start_stream)
        return StreamingResponse(_ndjson(chunks), media_type="application/x-ndjson")

    def answer() -> JSONResponse:
        service.admit(principal)
        outcome = service.run(principal, spec, deadline=deadline)
        names = [c.name for c in outcome.columns]
        return _bounded_json(
            {
                "rows": [dict(zip(names, row, strict=True)) for row in outcome.rows],
                "columns": names,
                "scanned_rows": outcome.scanned_rows,
                "took_ms": round(outcome.took_ms, 3),
                "cache_hit": outcome.cache_hit,
            }
        )

    return await _within(deadline, answer)


def _ndjson(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The stream's chunks; a failure after the first row ends it with one error line."""
    try:
        yield from chunks
    except DomainError as exc:
        yield stream_error_line(exc.code, exc.message)
    except Exception:
        logger.exception("query stream failed")
        yield stream_error_line("internal", "internal error")


async def _sql_body(request: Request) -> tuple[SqlBody, dict[str, Upload]]:
    """JSON, or multipart with ``sql``, ``params`` (a JSON array string), ``namespace_id`` and
    ``file:<placeholder>`` parts."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        fields, uploads = await _multipart_parts(request)
        return _validated(fields), uploads
    body = await request.body()
    if media != "application/json":
        from molesignal.errors import UnsupportedMediaType

        raise UnsupportedMediaType("unsupported media type: send application/json or multipart/form-data")
    return _validated(body), {}


async def _multipart_parts(request: Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """The text fields of a multipart body, as ``SqlBody`` reads them, and its file parts."""
    from starlette.datastructures import UploadFile

    form = await request.form(max_files=get_settings().sql_max_files + 1, max_fields=100)
    fields: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    for name, value in form.multi_items():
        if name.startswith("file:"):
            placeholder = name.removeprefix("file:")
            if not isinstance(value, UploadFile):
                raise Invalid(f"invalid argument: {name}: send it as a file part", code="INVALID_REQUEST")
            if placeholder in uploads or not PLACEHOLDER_NAME.match(placeholder):
                raise Invalid(
                    f"invalid argument: {name}: one part per placeholder of 1-64 of A-Z a-z 0-9 _ . -",
                    code="INVALID_REQUEST",
                )
            uploads[placeholder] = Upload(
                placeholder, value.filename or placeholder, value.content_type or "", await value.read()
            )
            continue
        if name not in ("sql", "params", "namespace_id"):
            continue
        if not isinstance(value, str):
            raise Invalid(f"invalid argument: {name}: send it as a text field, not a file", code="INVALID_REQUEST")
        fields[name] = value
    if "params" in fields:
        try:
            fields["params"] = json.loads(fields["params"])
        except json.JSONDecodeError as exc:
            raise Invalid("invalid argument: params: must be a JSON array", code="INVALID_REQUEST") from exc
    check_uploads(uploads)
    return fields, uploads


def _validated(body: bytes | dict[str, Any]) -> SqlBody:
    """The body as ``SqlBody``; what does not fit is a 400 in spec 004's envelope."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    try:
        if isinstance(body, dict):
            return SqlBody.model_validate(body)
        return SqlBody.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        if isinstance(body, dict):  # multipart fields: not a JSON body, so not the JSON body's error path
            message, details = describe_validation(errors)
            raise Invalid(message, code="INVALID_REQUEST", details=details) from exc
        raise RequestValidationError(errors) from exc


@router.post(
    "/v1/api/sql",
    response_model=SqlAnswer,
    summary="Spec 004 SQL endpoint: statements separated by ';', $1 params, FILE(...) uploads (docs/sql-tables.md)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                # Inline: the body is read by hand (JSON or multipart), so FastAPI registers no component.
                "application/json": {"schema": SqlBody.model_json_schema()},
                "multipart/form-data": {"schema": SQL_FORM_SCHEMA},
            },
        }
    },
)
async def sql(request: Request, principal: CurrentPrincipal, ip: SourceIp) -> JSONResponse:
    started = time.perf_counter()
    body, uploads = await _sql_body(request)
    service = QueryService()

    def answer() -> JSONResponse:
        service.admit(principal)
        session = SqlSession(principal, service, namespace=body.namespace_id, uploads=uploads, source_ip=ip)
        results = session.run(body.sql, body.params)
        return _bounded_json(
            {
                "status": "success",
                "results": [result.public() for result in results],
                "took": round((time.perf_counter() - started) * 1000, 3),
            }
        )

    # Not abandoned at a deadline as a query is: a statement that writes must finish its commit
    # (each query inside it keeps its own deadline).
    return await anyio.to_thread.run_sync(answer)


# --- files ----------------------------------------------------------------------
@files_router.get(
    "/v1/files/{namespace}/{table_name}/{subfolder}/{file_id}",
    summary="A file a FILE column refers to (spec 004): the bytes, or a 302 to S3 for large files",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the file"},
        302: {"description": "a presigned S3 URL (files over 4 MiB)"},
    },
)
def download_file(
    namespace: str,
    table_name: str,
    subfolder: str,
    file_id: str,
    principal: CurrentPrincipal,
    table: TableDep,
    user_id: Annotated[str | None, Query(max_length=128, description="USER tables: whose file (service, dba)")] = None,
) -> Response:
    stored = locate(
        table,
        principal,
        namespace=namespace,
        table_name=table_name,
        subfolder=subfolder,
        file_id=file_id,
        user_id=user_id,
    )
    disposition = f"inline; filename*=UTF-8''{stored.quoted_name}"
    s3 = aws.client("s3")
    if stored.size > STREAMED_FILE_BYTES:
        url = s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": stored.bucket,
                "Key": stored.key,
                "ResponseContentType": stored.content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=PRESIGNED_TTL_S,
        )
        return RedirectResponse(url, status_code=302)
    body = s3.get_object(Bucket=stored.bucket, Key=stored.key)["Body"].read()
    return Response(
        body,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": disposition,
            # Uploaded content is served from the API's origin: never sniffed, never run.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


# --- correlation -------------------------------------------------------------
@router.get("/api/v1/correlate", summary="Spans, logs and events sharing a trace_id or session_id, time-ordered")
async def correlate_route(
    request: Request,
    principal: CurrentPrincipal,
    trace_id: Annotated[str | None, Query(max_length=64)] = None,
    session_id: Annotated[str | None, Query(max_length=256)] = None,
    start: Annotated[int | None, Query(ge=0, le=MAX_US, description="µs since the epoch; default: 7 days ago")] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_US, description="µs since the epoch; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JSONResponse:
    column, value = correlation_key(trace_id, session_id)
    end_us = end if end is not None else now_us() + 60_000_000
    start_us = start if start is not None else end_us - 7 * 86_400_000_000
    if start_us >= end_us:
        raise Invalid("invalid argument: start must be < end", code="invalid_argument")
    deadline = _deadline(request)
    service = QueryService()

    def answer() -> JSONResponse:
        service.admit(principal)
        items = correlate(
            service,
            principal,
            column=column,
            value=value,
            start_us=start_us,
            end_us=end_us,
            limit=limit,
            deadline=deadline,
        )
        return _bounded_json({column: value, "start": start_us, "end": end_us, "count": len(items), "items": items})

    return await _within(deadline, answer)


# --- streams ---------------------------------------------------------------
@streams_router.get("", response_model=StreamList, summary="The org's streams")
def list_streams(principal: CurrentPrincipal, table: TableDep) -> StreamList:
    principal.require(*READ_ROLES)
    return StreamList.model_validate({"streams": [s.public() for s in Streams(table).all(principal.org_id)]})


@streams_router.get("/{stream}", response_model=StreamOut, summary="A stream's schema, stats and settings")
def get_stream(stream: str, principal: CurrentPrincipal, table: TableDep) -> StreamOut:
    principal.require(*READ_ROLES)
    return StreamOut.model_validate(Streams(table).get(principal.org_id, stream.lower()).public())


@streams_router.patch("/{stream}", response_model=StreamOut, summary="Change retention days or the field cap")
def patch_stream(
    stream: str, body: StreamUpdate, principal: CurrentPrincipal, table: TableDep, ip: SourceIp
) -> StreamOut:
    principal.require(Role.EDITOR, Role.ADMIN)
    updated = update_stream_settings(
        table, principal.org_id, stream.lower(), retention_days=body.retention_days, field_cap=body.field_cap
    )
    audit.record_by(
        table,
        principal,
        "stream.update",
        target=stream,
        source_ip=ip,
        details=body.model_dump(exclude_none=True),
    )
    return StreamOut.model_validate(updated.public())


@streams_router.delete("/{stream}", response_model=StreamDeleted, summary="Delete a stream and its data (admin)")
def remove_stream(stream: str, principal: CurrentPrincipal, table: TableDep, ip: SourceIp) -> StreamDeleted:
    principal.require(Role.ADMIN)
    deleted = delete_stream(table, principal.org_id, stream.lower())
    audit.record_by(
        table,
        principal,
        "stream.delete",
        target=stream,
        source_ip=ip,
        details={"files": deleted},
    )
    return StreamDeleted(name=stream.lower(), deleted_files=deleted)
