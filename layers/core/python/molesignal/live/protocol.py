"""The ``/v1/ws`` wire format: JSON text frames tagged by ``type`` (docs/live.md).

Modelled on KalamDB's protocol so that its users feel at home: ``authenticate`` first, then
``subscribe`` with an id and a SQL ``SELECT``, answered by ``subscription_ack`` and
``initial_data_batch``; afterwards ``change`` frames (insert, update, delete). Errors are
``error`` frames carrying spec 004's codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal.errors import DomainError, Unauthorized

MAX_FRAME_BYTES = 128 * 1024  # API Gateway WebSocket frames are at most 32 KB; messages 128 KB
MAX_SUBSCRIPTION_ID = 128


class ProtocolError(DomainError):
    """A frame that is not a message of this protocol."""

    code = "PROTOCOL"


class AuthRequired(DomainError):
    code = "AUTH_REQUIRED"


class InvalidSubscriptionId(DomainError):
    code = "INVALID_SUBSCRIPTION_ID"


class SubscriptionLimitExceeded(DomainError):
    code = "SUBSCRIPTION_LIMIT_EXCEEDED"


class Unsupported(DomainError):
    code = "UNSUPPORTED"


class UnsupportedData(DomainError):
    """A binary frame: the protocol is JSON text."""

    code = "UNSUPPORTED_DATA"


@dataclass(frozen=True)
class Authenticate:
    token: str


@dataclass(frozen=True)
class Subscribe:
    id: str
    sql: str
    last_rows: int | None = None


@dataclass(frozen=True)
class Unsubscribe:
    subscription_id: str


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = Authenticate | Subscribe | Unsubscribe | Ping


def parse(text: str) -> ClientMessage:
    if len(text.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame holds at most {MAX_FRAME_BYTES} bytes", code="MESSAGE_TOO_LARGE")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"a frame is one JSON object: {exc}") from exc
    if not isinstance(body, dict):
        raise ProtocolError('a frame is one JSON object with a "type"')
    kind = body.get("type")
    if kind == "authenticate":
        method = body.get("method", "jwt")
        token = body.get("token")
        if method != "jwt" or not isinstance(token, str) or not token:
            raise Unauthorized('authenticate takes {"method": "jwt", "token": "<JWT>"}', code="UNAUTHORIZED")
        return Authenticate(token)
    if kind == "subscribe":
        return _subscribe(body.get("subscription"))
    if kind == "unsubscribe":
        return Unsubscribe(_subscription_id(body.get("subscription_id")))
    if kind == "ping":
        return Ping()
    raise ProtocolError(f"unknown message type {kind!r} (authenticate, subscribe, unsubscribe, ping)", code="PROTOCOL")


def _subscription_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SUBSCRIPTION_ID:
        raise InvalidSubscriptionId(
            f"a subscription id is a non-blank string of at most {MAX_SUBSCRIPTION_ID} characters"
        )
    return value


def _subscribe(request: Any) -> Subscribe:
    if not isinstance(request, dict):
        raise ProtocolError('subscribe takes {"subscription": {"id": …, "sql": …}}')
    sql = request.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise DomainError("subscription.sql is a SELECT statement", code="INVALID_SQL")
    options = request.get("options") or {}
    last_rows = options.get("last_rows") if isinstance(options, dict) else None
    if last_rows is not None and (not isinstance(last_rows, int) or isinstance(last_rows, bool) or last_rows < 0):
        raise ProtocolError("options.last_rows is a whole number of rows")
    return Subscribe(_subscription_id(request.get("id")), sql, last_rows)


def frame(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, default=str)


def auth_success(user_id: str, username: str, role: str) -> bytes:
    return frame({"type": "auth_success", "user_id": user_id, "user": username, "role": role})


def auth_error(message: str) -> bytes:
    return frame({"type": "auth_error", "message": message})


def error(subscription_id: str, code: str, message: str) -> bytes:
    return frame({"type": "error", "subscription_id": subscription_id, "code": code, "message": message})


def pong() -> bytes:
    return frame({"type": "pong"})


def unsubscribed(subscription_id: str) -> bytes:
    return frame({"type": "unsubscribed", "subscription_id": subscription_id})


def subscription_ack(subscription_id: str, total_rows: int, schema: list[dict[str, Any]]) -> bytes:
    return frame(
        {
            "type": "subscription_ack",
            "subscription_id": subscription_id,
            "total_rows": total_rows,
            "batch_control": {"batch_num": 0, "has_more": False, "status": "ready"},
            "schema": schema,
        }
    )


def initial_data_batch(subscription_id: str, rows: list[dict[str, Any]]) -> bytes:
    return frame(
        {
            "type": "initial_data_batch",
            "subscription_id": subscription_id,
            "rows": rows,
            "batch_control": {"batch_num": 0, "has_more": False, "status": "ready"},
        }
    )


def change(subscription_id: str, change_type: str, rows: list[dict[str, Any]] | None, count: int) -> bytes:
    body: dict[str, Any] = {"type": "change", "subscription_id": subscription_id, "change_type": change_type}
    if rows is not None:
        body["rows" if change_type != "delete" else "old_values"] = rows
    body["row_count"] = count
    return frame(body)
