"""Factories for a function's FastAPI app and its Lambda handler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from molesignal import __version__
from molesignal.observability import logger
from molesignal.web.errors import install_error_handlers
from molesignal.web.middleware import EdgeMiddleware


def create_app(title: str, routers: Sequence[APIRouter], *, description: str = "") -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the platform function serves the merged /openapi.json
    )
    for router in routers:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware)
    return app


def lambda_handler_for(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    from mangum import Mangum
    from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

    # NDJSON is text: sent as it is, not base64 (a third larger, against the 6 MB response limit).
    text = [*DEFAULT_TEXT_MIME_TYPES, "application/x-ndjson"]
    asgi = Mangum(app, lifespan="off", api_gateway_base_path="/", text_mime_types=text)

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return asgi(event, context)

    return handler
