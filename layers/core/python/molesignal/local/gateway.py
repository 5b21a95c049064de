"""A local stand-in for API Gateway (HTTP API, payload format 2.0).

For each request it does what API Gateway does: picks the route (or ``$default``), runs
the Lambda authorizer on authenticated routes and attaches its context, builds the 2.0
event, invokes the owning function's handler, and turns the handler's response back
into HTTP. Handlers run on worker threads, as concurrent Lambda instances would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import orjson

from molesignal import routing
from molesignal.local.console import ConsoleFiles
from molesignal.local.lambda_context import LocalLambdaContext
from molesignal.local.loader import load_handler
from molesignal.local.websocket import CONNECTIONS_PREFIX, LocalWebSockets
from molesignal.observability import logger
from molesignal.web.http_event import headers_and_cookies, query_parameters, request_context

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # HTTP API payload quota
LAMBDA_MAX_REQUEST = 6 * 1024 * 1024  # synchronous invocation payload limit
# Control bytes JSON escapes in six bytes (``\u001f``): 0 where one is, 1 elsewhere.
_LONG_ESCAPES = bytes(0 if b < 0x20 and b not in b"\b\t\n\f\r" else 1 for b in range(256))
_TEXT_TYPES = (
    "application/json",
    "application/x-ndjson",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


class RegistryLike(Protocol):
    authorizer: Any
    http: Any

    def all_routes(self) -> list[tuple[Any, Any]]: ...


def _is_text(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in _TEXT_TYPES or base.endswith("+json") or base.endswith("+xml")


def _new_loop_per_thread() -> None:
    # Mangum drives the ASGI app on the calling thread's event loop.
    asyncio.set_event_loop(asyncio.new_event_loop())


class Gateway:
    def __init__(
        self,
        registry: RegistryLike,
        *,
        region: str = "us-east-1",
        max_workers: int = 32,
        request_log: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.region = region
        self.request_log = request_log
        self.routes = registry.all_routes()
        self.default = next(((r, f) for r, f in self.routes if r.path == "$default"), None)
        self.console = _console_files(registry)
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, initializer=_new_loop_per_thread, thread_name_prefix="lambda"
        )
        self.websockets: LocalWebSockets | None = None
        live = getattr(registry, "websocket", None)
        if live is not None:

            async def invoke_live(event: dict[str, Any]) -> Any:
                return await self._invoke(live.handler, event, self._context(live))

            self.websockets = LocalWebSockets(invoke_live, live.path)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _invoke(self, dotted: str, event: dict[str, Any], context: LocalLambdaContext) -> Any:
        loop = asyncio.get_running_loop()

        def call() -> Any:
            return load_handler(dotted)(event, context)

        return await loop.run_in_executor(self._pool, call)

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            if self.websockets is not None:
                await self.websockets.serve(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        status = await self._serve(scope, receive, send)
        if self.request_log is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.request_log(f"{scope['method']} {scope['path']} {status} {elapsed_ms:.1f} ms")

    async def _serve(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> int:
        # Chunks joined once at the end: ``body += chunk`` copied the body so far for each of
        # uvicorn's chunks (quadratic in a 1 MiB body's dozens of chunks).
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            chunks.append(chunk)
            received += len(chunk)
            more = message.get("more_body", False)
            if received > API_GATEWAY_MAX_BODY:
                await _respond(
                    send, 413, {"content-type": "application/json"}, [], b'{"message":"Request Entity Too Large"}'
                )
                return 413
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self.websockets is not None and scope["path"].startswith(CONNECTIONS_PREFIX):
            status, payload = self.websockets.manage(scope["method"].upper(), scope["path"], body)
            headers = {"content-type": "application/json"}
            if status == 410:
                headers["x-amzn-errortype"] = "GoneException"
            await _respond(send, status, headers, [], payload)
            return status
        if await self.stream(scope, body, receive, send):
            return 200  # the request log's figure; the stream's own status went out with its start
        try:
            status, headers, cookies, payload = await self.dispatch(scope, body)
        except Exception:
            logger.exception("gateway: integration failed", extra={"path": scope.get("path")})
            status, headers, cookies, payload = (
                500,
                {"content-type": "application/json"},
                [],
                b'{"message":"Internal Server Error"}',
            )
        await _respond(send, status, headers, cookies, payload)
        return status

    async def dispatch(self, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], list[str], bytes]:
        method = scope["method"].upper()
        path = scope["path"]
        found = routing.match([r for r, _ in self.routes], method, path)
        if found is not None:
            route, params = found
            function = next(f for r, f in self.routes if r is route)
        elif self.console is not None and self.console.claims(method, path, _header(scope, b"accept")):
            status, headers, payload = self.console.respond(path)
            return status, headers, [], b"" if method == "HEAD" else payload
        elif self.default is not None:
            route, function = self.default
            params = {}
        else:
            return 404, {"content-type": "application/json"}, [], b'{"message":"Not Found"}'
        event = self._event(scope, body, route, params)
        if not fits_invocation(event, body):
            return 413, {"content-type": "application/json"}, [], b'{"message":"Request Entity Too Large"}'
        if not route.auth:
            return _http_response(await self._invoke(function.handler, event, self._context(function)))
        authorized, result = await self._authorized_invoke(function, event)
        if not authorized:
            return 403, {"content-type": "application/json"}, [], b'{"message":"Forbidden"}'
        return _http_response(result)

    async def _authorized_invoke(self, function: Any, event: dict[str, Any]) -> tuple[bool, Any]:
        """The authorizer, then the function if it allows the request, one after the other on
        one Lambda thread: one hand-off from the event loop and back instead of two (ADR 0032).
        Returns (authorized, the function's result)."""
        loop = asyncio.get_running_loop()
        authorizer = self.registry.authorizer
        check = self._authorizer_event(event), self._context(authorizer)
        context = self._context(function)

        def call() -> tuple[bool, Any]:
            if not _attach_verdict(event, load_handler(authorizer.handler)(*check)):
                return False, None
            return True, load_handler(function.handler)(event, context)

        return await loop.run_in_executor(self._pool, call)

    async def _authorize(self, event: dict[str, Any]) -> bool:
        """Run the authorizer and attach its context to the event, as API Gateway does."""
        verdict = await self._invoke(
            self.registry.authorizer.handler, self._authorizer_event(event), self._context(self.registry.authorizer)
        )
        return _attach_verdict(event, verdict)

    async def stream(
        self, scope: dict[str, Any], body: bytes, receive: Callable[..., Any], send: Callable[..., Any]
    ) -> bool:
        """Serve a ``streaming`` route by running its function's ASGI app directly, so each chunk
        reaches the client as it is produced: what a Lambda function URL in RESPONSE_STREAM
        mode does when deployed (API Gateway and Mangum would buffer the whole answer).
        The app sees the same 2.0 event (authorizer context included) under ``aws.event``."""
        found = routing.match([r for r, _ in self.routes], scope["method"].upper(), scope["path"])
        if found is None or not getattr(found[0], "streaming", False):
            return False
        route, params = found
        function = next(f for r, f in self.routes if r is route)
        event = self._event(scope, body, route, params)
        if route.auth and not await self._authorize(event):
            await _respond(send, 403, {"content-type": "application/json"}, [], b'{"message":"Forbidden"}')
            return True
        delivered = False

        async def request_body() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())  # blocks until the client goes away

        app: Any = load_handler(function.asgi_app)
        context = {"aws.event": event, "aws.context": self._context(function)}
        await app({**scope, **context}, request_body, send)
        return True

    def _context(self, function: Any) -> LocalLambdaContext:
        return LocalLambdaContext(
            function_name=f"molesignal-{function.name}",
            memory_limit_in_mb=function.memory_mb,
            timeout_s=function.timeout_s,
            region=self.region,
        )

    def _event(self, scope: dict[str, Any], body: bytes, route: Any, params: dict[str, str]) -> dict[str, Any]:
        headers, cookies = headers_and_cookies(scope)
        # API Gateway sets the scheme the client used (Mangum builds request.base_url from it;
        # without it links the functions make, like share URLs, would say https locally).
        headers["x-forwarded-proto"] = str(scope.get("scheme", "http"))
        raw_query = scope.get("query_string", b"").decode("latin-1")
        query = query_parameters(raw_query)
        client = scope.get("client") or ("127.0.0.1", 0)
        content_type = headers.get("content-type", "")
        is_base64 = bool(body) and not _is_text(content_type)
        if body and not is_base64:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                is_base64 = True
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": scope["path"],
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": headers.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                **request_context(scope, headers, route.key, client[0]),
            },
            "isBase64Encoded": is_base64,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = params
        if body:
            event["body"] = base64.b64encode(body).decode() if is_base64 else text
        return event

    def _authorizer_event(self, event: dict[str, Any]) -> dict[str, Any]:
        authorization = event["headers"].get("authorization")
        route = event["routeKey"].replace(" ", "")
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{self.region}:000000000000:local/$default/{route}",
            "identitySource": [authorization] if authorization else [],
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "rawQueryString": event["rawQueryString"],
            "cookies": event.get("cookies", []),
            "headers": event["headers"],
            "queryStringParameters": event.get("queryStringParameters", {}),
            "requestContext": event["requestContext"],
            "pathParameters": event.get("pathParameters", {}),
            "stageVariables": {},
        }


def _attach_verdict(event: dict[str, Any], verdict: Any) -> bool:
    """Whether the authorizer's simple response allows the request; if so its context goes on
    the event, as API Gateway puts it there."""
    if not isinstance(verdict, dict) or not verdict.get("isAuthorized"):
        return False
    event["requestContext"]["authorizer"] = {"lambda": verdict.get("context") or {}}
    return True


def fits_invocation(event: dict[str, Any], body: bytes) -> bool:
    """Whether the event, as the UTF-8 JSON of a synchronous invocation, is within Lambda's
    6 MB request limit: the same answer as ``len(orjson.dumps(event)) <= LAMBDA_MAX_REQUEST``
    without serialising a large body (``body``, the request's bytes) just to learn it.

    The event's JSON is that of the event with an empty body string, plus the body's JSON
    string less the two quotes counted there. A base64 body needs no escapes. A text body
    (``body`` decoded) takes at most 2 bytes per byte (``\\"``, ``\\n``), or 6 for a control
    byte without a short escape (``\\u001f``): one bound or the other settles nearly every
    body; only one that might still not fit is serialised."""
    text = event.get("body")
    if text is None:
        return len(orjson.dumps(event)) <= LAMBDA_MAX_REQUEST
    rest = len(orjson.dumps({**event, "body": ""})) - 2
    if event.get("isBase64Encoded"):
        return rest + len(text) + 2 <= LAMBDA_MAX_REQUEST
    if rest + 6 * len(body) + 2 <= LAMBDA_MAX_REQUEST:
        return True
    if rest + 2 * len(body) + 2 <= LAMBDA_MAX_REQUEST and 0 not in body.translate(_LONG_ESCAPES):
        return True
    return rest + len(orjson.dumps(text)) <= LAMBDA_MAX_REQUEST


def _header(scope: dict[str, Any], name: bytes) -> str:
    return ",".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == name)


def _console_files(registry: Any) -> ConsoleFiles | None:
    site = getattr(registry, "console", None)
    if site is None:
        return None
    from molesignal.settings import get_settings

    root = Path(get_settings().console_dir or Path(__file__).resolve().parents[5] / site.root)
    return ConsoleFiles(root=root, site=site, api_prefixes=registry.api_prefixes())


def _http_response(result: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """Interpret a handler's result as API Gateway does for payload format 2.0."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A bare value is JSON with status 200 (API Gateway's inferred format).
        return 200, {"content-type": "application/json"}, [], json.dumps(result).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, list(result.get("cookies") or []), payload


async def _respond(
    send: Callable[..., Any], status: int, headers: dict[str, str], cookies: list[str], body: bytes
) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items() if k != "content-length"]
    raw += [(b"set-cookie", c.encode("latin-1")) for c in cookies]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
