"""A real HTTP receiver for alert notifications: a server on 127.0.0.1 that records what it is
sent, checks the webhook signature the way a receiver should, and answers as told."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_SIGNATURE_AGE_S = 300


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None  # None: no secret to check against
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


def verify_signature(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """``t=<unix s>,v1=<hex>``: HMAC-SHA256 of ``"<t>.<body>"``, recent enough to not be a replay."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > MAX_SIGNATURE_AGE_S:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass
class Receiver:
    secret: str | None = None
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if self.statuses else 200

    def record(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    def bodies(self, predicate: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json() for r in self.received if predicate(r.json())]

    def wait_for(
        self, count: int, *, timeout_s: float = 30, poll: Callable[[], object] | None = None
    ) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            if poll is not None:
                poll()
            time.sleep(0.05)
        raise AssertionError(f"the receiver got {len(self.received)} requests, expected {count}")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            signature_ok = None
            if receiver.secret is not None:
                signature_ok = verify_signature(receiver.secret, headers.get("x-molesignal-signature", ""), body)
            receiver.record(Received(self.path, headers, body, signature_ok, time.time()))
            status = receiver.answer()
            answer = b"ok" if status < 300 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def receiver(secret: str | None = None, statuses: list[int] | None = None) -> Iterator[Receiver]:
    found = Receiver(secret=secret, statuses=list(statuses or []))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="alert-receiver", daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
