"""ASGI middleware enforcing the org's plan rate limit on a route family (spec 001).

It reads the caller from the authorizer's context (no second authentication), counts the
request, answers 429 with ``Retry-After`` in the family's envelope when the minute's
allowance is spent, and adds ``X-RateLimit-*`` headers to every answer it lets through.
Unauthenticated requests pass untouched: the route refuses them itself.
"""

from __future__ import annotations

import json
from typing import Any

from molesignal.plans import Plans
from molesignal.storage.table import Table
from molesignal.web.envelopes import error_body, family_for_path


def _org_of(scope: dict[str, Any]) -> str | None:
    event = scope.get("aws.event") or {}
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    if str(context.get("authenticated")) != "true" or context.get("role") == "root":
        return None
    return str(context.get("org_id") or "") or None


class PlanRateLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        org_id = _org_of(scope) if scope["type"] == "http" else None
        if org_id is None:
            await self.app(scope, receive, send)
            return
        verdict = Plans(Table()).count(org_id)
        extra = [(k.lower().encode(), v.encode()) for k, v in verdict.headers().items()]
        if not verdict.allowed:
            body = error_body(
                family_for_path(scope.get("path", "")),
                429,
                "rate_limited",
                f"rate limited: this org's plan allows {verdict.limit} requests per minute; "
                f"retry after {verdict.reset_s} s",
            )
            payload = json.dumps(body).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 429, "headers": headers + extra})
            await send({"type": "http.response.body", "body": payload})
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
