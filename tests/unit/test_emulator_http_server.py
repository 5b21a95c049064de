"""The emulator's HTTP/1.1 server (ADR 0027): pooled connections are kept and reused, request
bodies end where their Content-Length or chunked encoding says, and what the WSGI apps read
from the environ is what werkzeug's server gave them."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from molesignal.local.emulator.http_server import HttpServer

Seen = list[dict[str, Any]]


def _echo(seen: Seen) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else environ["wsgi.input"].read(5)
        seen.append({**{k: v for k, v in environ.items() if isinstance(v, str)}, "body": body})
        if environ["PATH_INFO"] == "/stream":  # no Content-Length: the server chunks it
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"one,", b"", b"two"]
        if environ["PATH_INFO"] == "/fail":
            raise RuntimeError("the app broke")
        answer = b"got " + body
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
        return [answer]

    return app


@pytest.fixture
def served() -> Iterator[tuple[HttpServer, Seen]]:
    seen: Seen = []
    server = HttpServer("127.0.0.1", 0, _echo(seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, seen
    server.shutdown()
    thread.join(5)


def test_one_connection_carries_many_requests(served: tuple[HttpServer, Seen]) -> None:
    server, seen = served
    connection = http.client.HTTPConnection(*server.server_address)
    sockets = set()
    for n in range(3):
        # Given bodies longer than the app reads: the rest is skipped, not read as the next request
        connection.request("POST", f"/p{n}?q=1", body=f"body-{n}-and-more".encode())
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b"got body-"
        assert response.getheader("Connection") is None
        sockets.add(connection.sock.getsockname())
    assert len(sockets) == 1
    assert [s["PATH_INFO"] for s in seen] == ["/p0", "/p1", "/p2"]
    assert seen[0]["QUERY_STRING"] == "q=1"
    assert seen[0]["RAW_URI"] == seen[0]["REQUEST_URI"] == "/p0?q=1"


def test_the_environ_has_werkzeugs_names_and_values(served: tuple[HttpServer, Seen]) -> None:
    server, seen = served
    connection = http.client.HTTPConnection(*server.server_address)
    connection.putrequest("PUT", "/bucket/a%20key%C3%A9?x=%2F", skip_accept_encoding=True)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", "5")
    connection.putheader("X-Amz-Meta-My_Key", "kept")  # S3 metadata keeps its underscore
    connection.putheader("X_Spoofed", "dropped")  # any other underscored header is dropped
    connection.putheader("X-Twice", "a")
    connection.putheader("X-Twice", "b")
    connection.endheaders(b"12345")
    connection.getresponse().read()
    environ = seen[0]
    assert environ["REQUEST_METHOD"] == "PUT"
    assert environ["PATH_INFO"] == "/bucket/a keyé".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "x=%2F"
    assert environ["CONTENT_TYPE"] == "application/octet-stream"
    assert environ["CONTENT_LENGTH"] == "5"
    assert environ["HTTP_X_AMZ_META_MY_KEY"] == "kept"
    assert "HTTP_X_SPOOFED" not in environ
    assert environ["HTTP_X_TWICE"] == "a,b"
    assert environ["body"] == b"12345"


def test_chunked_requests_and_answers(served: tuple[HttpServer, Seen]) -> None:
    server, seen = served
    with socket.create_connection(server.server_address) as raw:
        raw.sendall(
            b"POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n"
        )
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            received += raw.recv(65536)
    assert seen[0]["body"] == b"abcdefg"
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"


def test_expect_100_continue_is_answered_before_the_body(served: tuple[HttpServer, Seen]) -> None:
    server, seen = served
    with socket.create_connection(server.server_address) as raw:
        raw.sendall(b"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw.sendall(b"hello")
        assert raw.recv(65536).endswith(b"got hello")
    assert seen[0]["body"] == b"hello"


def test_http_1_0_and_connection_close_end_the_connection(served: tuple[HttpServer, Seen]) -> None:
    server, _ = served
    for request in (
        b"GET /a HTTP/1.0\r\n\r\n",
        b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ):
        with socket.create_connection(server.server_address) as raw:
            raw.sendall(request)
            received = b""
            while chunk := raw.recv(65536):  # the server closes: recv returns b""
                received += chunk
        assert b"Connection: close" in received


def test_bad_requests_and_failing_apps_get_an_answer_not_a_hang(served: tuple[HttpServer, Seen]) -> None:
    server, _ = served
    for request, status in (
        (b"NONSENSE\r\n\r\n", b"400"),  # no target, no version
        (b"POST /a HTTP/1.1\r\nContent-Length: -3\r\n\r\n", b"400"),
        (b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
        (b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", b"500"),
    ):
        with socket.create_connection(server.server_address, timeout=10) as raw:
            raw.sendall(request)
            received = b""
            while chunk := raw.recv(65536):
                received += chunk
        assert received.split(b" ", 2)[1] == status, request


def test_shutdown_closes_idle_pooled_connections(served: tuple[HttpServer, Seen]) -> None:
    server, _ = served
    connection = http.client.HTTPConnection(*server.server_address)
    connection.request("GET", "/a")
    connection.getresponse().read()
    server.shutdown()
    assert connection.sock is not None
    connection.sock.settimeout(5)
    assert connection.sock.recv(10) == b""  # closed by the server, not left waiting
