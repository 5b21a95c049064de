"""Builds one OpenAPI document from every HTTP function's FastAPI app.

Apps are imported here, on the first /openapi.json request, not at cold start.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from molesignal import __version__

_cached: dict[str, Any] | None = None
_lock = threading.Lock()


def _app_module(handler: str) -> str:
    return handler.split(".", 1)[0] + ".app"


def merged() -> dict[str, Any]:
    global _cached
    if _cached is not None:
        return _cached
    with _lock:
        if _cached is None:
            _cached = _build()
    return _cached


def _build() -> dict[str, Any]:
    import registry

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "MoleSignal API",
            "version": __version__,
            "description": "Multi-tenant telemetry and event lake. Route families and their error "
            "envelopes are described in docs/api.md.",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A JWT from POST /api/v1/auth/login, or an API token ms_<prefix>_<secret>.",
                }
            },
        },
    }
    authenticated = {route.key for route, _ in registry.REGISTRY.all_routes() if route.auth}
    for function in registry.REGISTRY.http:
        app = importlib.import_module(_app_module(function.handler)).app
        spec = app.openapi()
        for path, operations in spec.get("paths", {}).items():
            merged_ops = document["paths"].setdefault(path, {})
            for method, operation in operations.items():
                operation.setdefault("tags", [function.name])
                if f"{method.upper()} {path}" in authenticated:
                    operation["security"] = [{"bearer": []}]
                merged_ops[method] = operation
        document["components"]["schemas"].update(spec.get("components", {}).get("schemas", {}))
    live = registry.REGISTRY.websocket
    if live is not None:
        document["paths"][live.path] = {"get": _websocket_operation(live.name)}
    return document


def _websocket_operation(owner: str) -> dict[str, Any]:
    """OpenAPI has no WebSocket messages: the upgrade is listed, the protocol is in docs/live.md."""
    return {
        "tags": [owner],
        "summary": "Live queries over WebSocket (spec 004): subscribe with SQL, receive changes (docs/live.md)",
        "description": "Upgrade to a WebSocket, then send JSON text frames: `authenticate` with a JWT from "
        "POST /v1/api/auth/login (the first frame: no Authorization header), `subscribe` with an id and a "
        "`SELECT … FROM <table or stream> WHERE …`, `unsubscribe`, `ping`. The server answers `auth_success`, "
        "`subscription_ack`, `initial_data_batch`, then `change` frames (insert, update, delete) and `error` "
        "frames with spec 004's codes (INVALID_SQL, PERMISSION_DENIED, TABLE_NOT_FOUND, AUTH_REQUIRED, …).",
        "operationId": "live_websocket",
        "responses": {
            "101": {"description": "Switching Protocols: the WebSocket is open"},
            "426": {"description": "Upgrade Required: a plain HTTP request"},
        },
    }
