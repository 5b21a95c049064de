"""A function's ASGI app served from a Lambda function URL in RESPONSE_STREAM mode.

API Gateway HTTP APIs buffer a Lambda's whole answer, so the routes that stream (Server-Sent
Events) are deployed behind a function URL, which runs no Lambda authorizer and builds no
API Gateway event. This wrapper gives the app what API Gateway would have: it answers only the
streaming routes it is given (404 for anything else the URL is asked), works out the caller
with the authorizer's own logic, and hands the app the same 2.0 event under ``aws.event``,
authorizer context included — so the routes, their dependencies and their error envelopes
are the ones API Gateway serves.

The caller's address, for the org's IP allowlist, is the one the function URL saw: the Lambda
Web Adapter passes the invocation's request context as the ``x-amzn-request-context`` header
(it replaces any the client sent); without it (a server run by hand), the connection's peer.
Through CloudFront that address is CloudFront's, so an org with an allowlist is refused there
and streams from the function URL itself (docs/traces.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson

from molesignal import routing
from molesignal.auth.verdict import caller_context

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_CONTEXT = "x-amzn-request-context"


def url_source_ip(headers: dict[str, str], peer: str) -> str:
    """The address the function URL saw, from the adapter's request-context header."""
    try:
        context = orjson.loads(headers.get(REQUEST_CONTEXT, "") or b"null")
        address = context["http"]["sourceIp"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return peer
    return address if isinstance(address, str) and address else peer


def _headers(scope: Scope) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers, cookies


class FunctionUrlApp:
    def __init__(self, app: ASGIApp, routes: Iterable[Any]) -> None:
        self.app = app
        self.routes = [route for route in routes if getattr(route, "streaming", False)]
        if not self.routes:
            raise ValueError("a function URL serves streaming routes only, and none was given")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        found = routing.match(self.routes, scope["method"].upper(), scope["path"])
        if found is None:
            await _json(send, 404, {"message": "Not Found"})
            return
        route, params = found
        headers, cookies = _headers(scope)
        peer = (scope.get("client") or ("", 0))[0]
        source_ip = url_source_ip(headers, str(peer))
        context: dict[str, str] | None = None
        if route.auth:
            basic = bool(getattr(route, "basic", False))
            context = await anyio.to_thread.run_sync(lambda: caller_context(headers, source_ip, basic_allowed=basic))
        event = _event(scope, route.key, params, headers, cookies, source_ip, context)
        await self.app({**scope, "aws.event": event}, receive, send)


def _event(
    scope: Scope,
    route_key: str,
    params: dict[str, str],
    headers: dict[str, str],
    cookies: list[str],
    source_ip: str,
    context: dict[str, str] | None,
) -> dict[str, Any]:
    raw_query = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    request_context: dict[str, Any] = {
        "http": {
            "method": scope["method"].upper(),
            "path": scope["path"],
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if context is not None:
        request_context["authorizer"] = {"lambda": context}
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": scope["path"],
        "rawQueryString": raw_query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": params or None,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
