"""A local stand-in for an API Gateway WebSocket API (live queries, ``GET /v1/ws``).

For each connection it does what API Gateway does: invokes the function with a
``$connect`` event (a non-2xx answer refuses the upgrade), one ``$default`` event per text
frame, and ``$disconnect`` when the socket closes. The function answers through the
management API, ``POST /@connections/{id}`` (and ``DELETE`` to close), which this gateway
serves on the same port, 410 GoneException for a connection that is no more: boto3's
``apigatewaymanagementapi`` client talks to it unchanged.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from molesignal.observability import logger

CONNECTIONS_PREFIX = "/@connections/"
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

Invoke = Callable[[dict[str, Any]], Awaitable[Any]]


def _connection_id() -> str:
    # API Gateway's ids are 16 characters ending "=": ours are alphanumeric, so URLs need no escaping.
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


class LocalWebSockets:
    def __init__(self, invoke: Invoke, path: str) -> None:
        self.invoke = invoke
        self.path = path
        self._outboxes: dict[str, asyncio.Queue[bytes | None]] = {}

    @property
    def open_connections(self) -> int:
        return len(self._outboxes)

    def _event(self, scope: dict[str, Any], route: str, connection_id: str, body: str | None) -> dict[str, Any]:
        client = scope.get("client") or ("127.0.0.1", 0)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
        event: dict[str, Any] = {
            "requestContext": {
                "routeKey": route,
                "eventType": event_type,
                "connectionId": connection_id,
                "domainName": headers.get("host", "127.0.0.1"),
                "stage": "$default",
                "apiId": "local",
                "requestId": uuid.uuid4().hex,
                "connectedAt": int(time.time() * 1000),
                "requestTimeEpoch": int(time.time() * 1000),
                "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "identity": {"sourceIp": client[0], "userAgent": headers.get("user-agent", "")},
            },
            "isBase64Encoded": False,
        }
        if route == "$connect":
            event["headers"] = headers
        if body is not None:
            event["body"] = body
        return event

    async def serve(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        first = await receive()
        if first.get("type") != "websocket.connect":
            return
        if scope.get("path") != self.path:
            await send({"type": "websocket.close", "code": 1008})
            return
        connection_id = _connection_id()
        answer = await self.invoke(self._event(scope, "$connect", connection_id, None))
        status = int(answer.get("statusCode", 200)) if isinstance(answer, dict) else 200
        if status >= 300:
            await send({"type": "websocket.close", "code": 1008})
            return
        outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._outboxes[connection_id] = outbox
        await send({"type": "websocket.accept"})
        sender = asyncio.create_task(self._send_loop(outbox, send))
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:  # a binary frame: API Gateway passes it base64-encoded
                    event = self._event(scope, "$default", connection_id, "")
                    event["isBase64Encoded"] = True
                else:
                    event = self._event(scope, "$default", connection_id, text)
                try:
                    await self.invoke(event)
                except Exception:  # API Gateway logs the failed integration; the socket stays open
                    logger.exception("local websocket: $default failed", extra={"connection_id": connection_id})
        finally:
            self._outboxes.pop(connection_id, None)
            sender.cancel()
            try:
                await self.invoke(self._event(scope, "$disconnect", connection_id, None))
            except Exception:
                logger.exception("local websocket: $disconnect failed", extra={"connection_id": connection_id})

    async def _send_loop(self, outbox: asyncio.Queue[bytes | None], send: Callable[..., Any]) -> None:
        try:
            while True:
                data = await outbox.get()
                if data is None:
                    await send({"type": "websocket.close", "code": 1000})
                    return
                await send({"type": "websocket.send", "text": data.decode("utf-8", errors="replace")})
        except Exception:  # the client went away mid-send: the receive loop sees the disconnect
            return

    def manage(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """The management API: ``POST`` (post data), ``DELETE`` (close) and ``GET`` (describe)."""
        connection_id = path[len(CONNECTIONS_PREFIX) :].strip("/")
        outbox = self._outboxes.get(connection_id)
        if outbox is None:
            return 410, orjson.dumps({"__type": "GoneException", "message": f"connection {connection_id} is gone"})
        if method == "POST":
            outbox.put_nowait(body)
            return 200, b"{}"
        if method == "DELETE":
            outbox.put_nowait(None)
            self._outboxes.pop(connection_id, None)
            return 204, b""
        if method == "GET":
            return 200, orjson.dumps({"connectedAt": datetime.now(UTC).isoformat(), "identity": {}})
        return 405, b'{"message":"Method Not Allowed"}'
