"""Health, metrics, the merged OpenAPI document, and the catch-all for unmatched routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from molesignal import counters
from molesignal.cluster_health import UNAVAILABLE
from molesignal.cluster_health import check as cluster_health_check
from molesignal.errors import Forbidden, NotFound
from molesignal.routing import allowed_methods
from molesignal.settings import get_settings
from molesignal.web.deps import TableDep, is_local_request
from molesignal.web.errors import error_response
from platform_api import openapi_merge

router = APIRouter()


@router.get("/api/v1/healthz", tags=["health"], summary="Liveness (unauthenticated)")
def healthz() -> dict[str, Any]:
    settings = get_settings()
    return {"status": "ok", "version": settings.version}


def _health(request: Request) -> dict[str, Any]:
    # spec 004: localhost-only. Behind API Gateway the caller is never loopback.
    if not is_local_request(request) and not get_settings().allow_remote_setup:
        raise Forbidden("forbidden: this endpoint answers only on localhost")
    settings = get_settings()
    return {"status": "healthy", "version": settings.version, "api_version": "v1", "build_date": settings.build_date}


@router.get("/health", tags=["health"], summary="Health (spec 004 shape, localhost only)")
def health(request: Request) -> dict[str, Any]:
    return _health(request)


@router.get("/v1/api/healthcheck", tags=["health"], summary="Health (spec 004 alias)")
def healthcheck(request: Request) -> dict[str, Any]:
    return _health(request)


@router.get(
    "/v1/api/cluster/health",
    tags=["health"],
    summary="Each backing store's health: table, buckets, queues and DLQ depth (localhost only; 503 if one is down)",
)
def cluster_health(request: Request, table: TableDep) -> JSONResponse:
    _health(request)  # the same localhost-only rule
    report = cluster_health_check(table)
    return JSONResponse(report, status_code=503 if report["status"] == UNAVAILABLE else 200)


def _prometheus(values: dict[str, int], version: str) -> str:
    lines = [
        "# HELP molesignal_up Whether the MoleSignal API answers.",
        "# TYPE molesignal_up gauge",
        "molesignal_up 1",
        "# HELP molesignal_build_info Build of the running MoleSignal.",
        "# TYPE molesignal_build_info gauge",
        f'molesignal_build_info{{version="{version}"}} 1',
    ]
    for name in sorted(values):
        metric = f"molesignal_{name}"
        lines += [f"# HELP {metric} Platform counter {name}.", f"# TYPE {metric} counter", f"{metric} {values[name]}"]
    return "\n".join(lines) + "\n"


@router.get("/metrics", tags=["health"], summary="Platform counters in Prometheus text format")
def metrics(table: TableDep) -> PlainTextResponse:
    body = _prometheus(counters.read_all(table), get_settings().version)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/openapi.json", tags=["docs"], summary="OpenAPI document of every route group")
def openapi() -> JSONResponse:
    return JSONResponse(openapi_merge.merged())


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
def catch_all(request: Request, path: str) -> JSONResponse:
    """API Gateway's $default route: nothing else matched, so say why in the family envelope."""
    import registry

    routes = [route for route, _ in registry.REGISTRY.all_routes()]
    allowed = allowed_methods(routes, request.url.path)
    if allowed:
        return error_response(
            request,
            405,
            "method_not_allowed",
            f"method not allowed: {request.method} {request.url.path} (allowed: {', '.join(allowed)})",
            headers={"Allow": ", ".join(allowed)},
        )
    raise NotFound(f"not found: no route for {request.method} {request.url.path}")
