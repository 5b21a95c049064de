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

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import anyio.to_thread
import orjson

from molesignal import routing
from molesignal.auth.verdict import caller_context
from molesignal.web.http_event import headers_and_cookies, query_parameters, request_context

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
        headers, cookies = headers_and_cookies(scope)
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
    query = query_parameters(raw_query)
    context_of_request = request_context(scope, headers, route_key, source_ip)
    if context is not None:
        context_of_request["authorizer"] = {"lambda": context}
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": scope["path"],
        "rawQueryString": raw_query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": params or None,
        "requestContext": context_of_request,
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
