"""ASGI middleware: request timing, the body-size cap (answered in the family envelope), and
one trailing slash ignored as API Gateway ignores it when it picks the route."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from molesignal.routing import route_path
from molesignal.settings import get_settings
from molesignal.web.envelopes import error_body, family_for_path

Scope = dict[str, Any]


def _body_length(scope: Scope) -> int:
    event = scope.get("aws.event") or {}
    body = event.get("body")
    if isinstance(body, str):
        if event.get("isBase64Encoded"):
            return len(body) * 3 // 4
        # An ASCII body (NDJSON, nearly always) is as many bytes as characters: no 1 MiB copy to count them.
        return len(body) if body.isascii() else len(body.encode())
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class EdgeMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if route_path(path) != path:
            # The gateway routed ``/x/`` to ``GET /x``; serve it there instead of redirecting
            # (Elasticsearch clients call the base URL with a slash and follow no redirect).
            scope = {**scope, "path": route_path(path)}
        scope["molesignal.started"] = time.perf_counter()
        length = _body_length(scope)
        scope["molesignal.body_length"] = length
        limit = get_settings().max_body_bytes
        if length > limit:
            body = error_body(
                family_for_path(scope.get("path", "")),
                413,
                "payload_too_large",
                f"payload too large: request body is {length} bytes; the limit is {limit}",
            )
            payload = json.dumps(body).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, receive, send)


def decode_event_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
