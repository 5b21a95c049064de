"""The one place where domain errors, validation failures and routing misses become HTTP."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from molesignal import errors as domain
from molesignal.observability import logger
from molesignal.web.envelopes import Family, error_body, family_for_path

STATUS_BY_ERROR: dict[type[domain.DomainError], int] = {
    domain.Unprocessable: 422,
    domain.Invalid: 400,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Gone: 410,
    domain.PayloadTooLarge: 413,
    domain.StorageQuotaExceeded: 413,
    domain.UnsupportedMediaType: 415,
    domain.RateLimited: 429,
    domain.Unavailable: 503,
}

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "invalid_argument", 413: "payload_too_large"}


def status_for(exc: domain.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


def _took_ms(request: Request) -> float:
    started = request.scope.get("molesignal.started")
    return (time.perf_counter() - started) * 1000 if isinstance(started, float) else 0.0


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    family = family_for_path(request.url.path)
    body = error_body(family, status, code, message, details=details, took_ms=_took_ms(request))
    return JSONResponse(body, status_code=status, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, domain.DomainError):
        raise exc
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, domain.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, domain.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="molesignal"'
    return error_response(request, status, exc.code, exc.message, details=exc.details, headers=headers)


def _has_json_content_type(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = exc.errors()
    body_errors = [e for e in errors if e.get("loc", ("",))[0] == "body"]
    has_body = bool(request.scope.get("molesignal.body_length"))
    if body_errors and has_body and not _has_json_content_type(request):
        return error_response(
            request,
            415,
            "unsupported_media_type",
            "unsupported media type: send the body as application/json",
        )
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(request, 400, "malformed_json", "invalid argument: request body is not valid JSON")
    message, details = describe_validation(errors)
    if family_for_path(request.url.path) is Family.EVENTS:
        # Spec 001: well-formed JSON that fails validation is 422, and the message names the field.
        return error_response(request, 422, "validation_failed", message, details=details)
    return error_response(request, 400, "invalid_argument", message, details=details)


def describe_validation(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """The message (the first error) and per-field details of pydantic validation errors."""
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    loc = tuple(first.get("loc", ()))
    if first.get("type") == "missing" and loc == ("body",):
        message = "invalid argument: request body is required"
    else:
        message = f"invalid argument: {_field(loc)}: {first.get('msg', 'invalid')}"
    return message, [{"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in errors]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error")
    if status == 404:
        message = f"not found: no route for {request.method} {request.url.path}"
    elif status == 405:
        message = f"method not allowed: {request.method} {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(request, status, code, message, headers=dict(exc.headers or {}))


# Error codes AWS answers when the service, not the request, is at fault (after the SDK's retries).
_STORE_FAULTS = frozenset(
    {
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)


def is_store_outage(exc: BaseException) -> bool:
    """A backing store (DynamoDB, S3, SQS) that could not be reached, or kept refusing: not a bug."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as StoreConnectionError

    if isinstance(exc, HTTPClientError | StoreConnectionError):  # refused, closed, timed out
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return str(error.get("Code")) in _STORE_FAULTS or status >= 500
    return False


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_store_outage(exc):
        logger.warning("backing store unavailable", extra={"path": request.url.path, "error": repr(exc)})
        return error_response(
            request,
            503,
            "store_unavailable",
            "a backing store (table or bucket) cannot be reached; retry shortly",
            headers={"Retry-After": "1"},
        )
    logger.exception("unhandled error", extra={"path": request.url.path})
    return error_response(request, 500, "internal", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(domain.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
