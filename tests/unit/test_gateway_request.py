"""The local gateway's request side without the system: the body it hands the function, and
Lambda's 6 MB invocation limit told without serialising the whole event."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from molesignal.local.gateway import LAMBDA_MAX_REQUEST, Gateway, fits_invocation
from registry import HttpFunction, Route

RECEIVED: list[dict[str, Any]] = []


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The function behind the test route: keeps the event, answers with the body's length."""
    RECEIVED.append(event)
    raw = event.get("body") or ""
    size = len(base64.b64decode(raw)) if event["isBase64Encoded"] else len(raw.encode())
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": str(size)}


@dataclass
class OneRoute:
    http: tuple[HttpFunction, ...] = ()
    authorizer: Any = None
    routes: list[tuple[Route, HttpFunction]] = field(default_factory=list)

    def all_routes(self) -> list[tuple[Route, HttpFunction]]:
        return self.routes


def gateway() -> Gateway:
    route = Route("POST", "/echo", auth=False)
    function = HttpFunction("echo", f"{__name__}.echo_handler", (route,), ("/echo",))
    return Gateway(OneRoute(routes=[(route, function)]), max_workers=2)


def post(gw: Gateway, chunks: list[bytes], content_type: str) -> tuple[int, bytes]:
    body = b"".join(chunks)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "client": ("127.0.0.1", 40000),
        "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
    }
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(gw(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_body_in_many_chunks_reaches_the_function_whole() -> None:
    """uvicorn hands a large body over in chunks; the event carries them joined, in order."""
    lines = [orjson.dumps({"n": i, "text": "é" * (i % 7)}) + b"\n" for i in range(20_000)]
    chunks = [b"".join(lines[i : i + 37]) for i in range(0, len(lines), 37)]
    gw = gateway()
    try:
        RECEIVED.clear()
        status, answer = post(gw, chunks, "application/x-ndjson")
        assert (status, answer) == (200, str(len(b"".join(chunks))).encode())
        assert RECEIVED[0]["body"] == b"".join(chunks).decode()
        assert RECEIVED[0]["isBase64Encoded"] is False
        status, _ = post(gw, [b"\x00\xff" * 1000, b"", b"\x01"], "application/octet-stream")
        assert status == 200
        assert base64.b64decode(RECEIVED[1]["body"]) == b"\x00\xff" * 1000 + b"\x01"
    finally:
        gw.close()


def test_an_event_over_the_invocation_limit_is_413_in_api_gateways_words() -> None:
    """Bad input: 1.1 MB of control bytes in a text body, 6.6 MB once JSON-escaped; the same
    count of letters passes."""
    gw = gateway()
    try:
        status, answer = post(gw, [b"\x01" * 1_100_000], "text/plain")
        assert (status, answer) == (413, b'{"message":"Request Entity Too Large"}')
        assert post(gw, [b"a" * 1_100_000], "text/plain") == (200, b"1100000")
    finally:
        gw.close()


def _event(body: bytes, *, base64_body: bool = False) -> dict[str, Any]:
    """An event as the gateway builds it, with a body of these bytes."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /echo",
        "rawPath": "/echo",
        "headers": {"content-type": "text/plain", "user-agent": 'curl/8 "quoted" \\ é'},
        "requestContext": {"http": {"method": "POST", "path": "/echo"}, "requestId": "r"},
        "isBase64Encoded": base64_body,
    }
    if body:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


def _bodies_near_the_limit() -> list[tuple[str, bytes, bool]]:
    """Bodies on each side of the limit for each way of telling: the 6-bytes-a-byte bound, the
    2-bytes-a-byte bound, the serialised body, and base64."""
    cases: list[tuple[str, bytes, bool]] = [("empty", b"", False)]
    overhead = len(orjson.dumps({**_event(b"x"), "body": ""}))
    for name, unit, per_byte in (
        ("letters", b"a", 1),
        ("quotes", b'"', 2),
        ("newlines", b"\n", 2),
        ("tabs and backslashes", b"\t\\", 2),
        ("short-escape control bytes", b"\x08\x0c\r", 2),
        ("long-escape control bytes", b"\x01\x1f\x7f", 13 / 3),
        ("multi-byte UTF-8", "é€😀".encode(), 1),
    ):
        exact = int((LAMBDA_MAX_REQUEST - overhead) / per_byte)
        for size in (exact - 7, exact - 1, exact, exact + 1, exact + 7, (LAMBDA_MAX_REQUEST - overhead) // 6):
            body = (unit * (size // len(unit) + 1))[:size]
            while body:  # whole characters only: the gateway sends text bodies that decode
                try:
                    body.decode()
                    break
                except UnicodeDecodeError:
                    body = body[:-1]
            cases.append((f"{name} ({size} bytes)", body, False))
    every_byte = bytes(range(128)) + "é😀".encode()
    cases.append(("every ASCII byte", every_byte * 1000, False))
    cases.append(("every ASCII byte, near the limit", every_byte * 20_000, False))
    per_b64 = (LAMBDA_MAX_REQUEST - overhead) * 3 // 4
    cases += [(f"base64 ({n} bytes)", b"\xff" * n, True) for n in (per_b64 - 3, per_b64, per_b64 + 3)]
    return cases


@pytest.mark.parametrize(("name", "body", "base64_body"), _bodies_near_the_limit())
def test_the_invocation_size_is_told_as_the_serialised_event_would_tell_it(
    name: str, body: bytes, base64_body: bool
) -> None:
    event = _event(body, base64_body=base64_body)
    assert fits_invocation(event, body) == (len(orjson.dumps(event)) <= LAMBDA_MAX_REQUEST), name


def test_the_cases_reach_both_answers_for_each_way_of_telling() -> None:
    answers = {
        (name.split(" (")[0], fits_invocation(_event(b, base64_body=b64), b))
        for name, b, b64 in _bodies_near_the_limit()
    }
    for kind in ("letters", "quotes", "long-escape control bytes", "multi-byte UTF-8", "base64"):
        assert {(kind, True), (kind, False)} <= answers, kind
