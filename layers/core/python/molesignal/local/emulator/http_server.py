"""The emulator's HTTP/1.1 server: persistent connections, one thread per connection.

werkzeug's development server, which the emulator ran before, answers every request with
``Connection: close``: each AWS call opened a TCP connection, started a thread, parsed its
headers with ``email.parser`` and, after answering, waited 10 ms for stray body bytes before
closing. botocore keeps a pool of connections per client, so with keep-alive a call costs
one request line, a few header lines and a ``sendall``. That per-request framework work was
most of the emulator's CPU under ingest (docs/adr/0027-emulator-request-cost.md).

This server builds the same WSGI environ werkzeug's did (the local S3/SQS apps and moto's
Flask apps read it), answers HTTP/1.1 with keep-alive, reads request bodies by
Content-Length or ``Transfer-Encoding: chunked``, honours ``Expect: 100-continue``, and
serves loopback clients only, as the emulator always has (no TLS, no absolute-form targets
other than the path).
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import IO, Any
from urllib.parse import unquote

from molesignal.observability import logger

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

MAX_LINE = 65536
MAX_HEADERS = 200
IDLE_TIMEOUT_S = 300.0  # a pooled connection left unused this long is closed
_DRAIN_LIMIT = 1 << 20  # unread body bytes past this close the connection instead of being skipped
_NO_BODY_STATUS = frozenset({204, 304})
_SERVER = "molesignal-emulator"
# moto keeps the spelling of underscored S3 metadata headers in the environ (its own server does too).
_PRESERVED_NAMES_KEY = "moto.preserved_header_names"


class _BadRequest(Exception):
    pass


def _dance(text: str) -> str:
    """A latin-1 decoded request-line string as werkzeug hands it to WSGI (UTF-8 bytes as latin-1)."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


class _Body(io.RawIOBase):
    """The request body: at most ``length`` bytes of the connection (Content-Length), so an app
    that reads to the end never reads into the next request."""

    def __init__(self, reader: IO[bytes], length: int) -> None:
        self._reader = reader
        self.remaining = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        want = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._reader.read(want)
        self.remaining -= len(data)
        if len(data) < want:
            self.remaining = 0  # the client went away mid-body
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        limit = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self._reader.readline(limit)
        self.remaining -= len(data)
        return data


def _dechunk(reader: IO[bytes]) -> bytes:
    """A ``Transfer-Encoding: chunked`` body, whole (trailers skipped)."""
    parts: list[bytes] = []
    while True:
        line = reader.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            raise _BadRequest("truncated chunk size line")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _BadRequest("bad chunk size") from exc
        if size < 0:
            raise _BadRequest("bad chunk size")
        if size == 0:
            while reader.readline(MAX_LINE).strip():
                pass
            return b"".join(parts)
        data = reader.read(size)
        if len(data) < size:
            raise _BadRequest("truncated chunk")
        parts.append(data)
        reader.readline(MAX_LINE)  # the CRLF after the chunk


def read_body(environ: dict[str, Any]) -> bytes:
    """A WSGI request's whole body: to ``CONTENT_LENGTH``, or to its end when chunked."""
    if environ.get("wsgi.input_terminated"):  # a chunked request: the server knows where it ends
        return bytes(environ["wsgi.input"].read())
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


class _DateHeader:
    """``Date`` formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._value = formatdate(now, usegmt=True)
            self._second = now
        return self._value


class HttpServer:
    """Serves one WSGI app on ``(host, port)``; ``serve_forever`` in a thread, ``shutdown`` to stop."""

    multithread = True

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self.app = app
        self._listener = socket.create_server((host, port), backlog=256)
        self.server_address: tuple[str, int] = self._listener.getsockname()[:2]
        self._connections: set[socket.socket] = set()
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._date = _DateHeader()

    # -- the listener -------------------------------------------------------------------

    def serve_forever(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    connection, peer = self._listener.accept()
                except OSError:
                    if self._stopping.is_set():
                        break
                    continue
                with self._guard:
                    if self._stopping.is_set():
                        connection.close()
                        break
                    self._connections.add(connection)
                threading.Thread(
                    target=self._serve_connection, args=(connection, peer), name="emulator-conn", daemon=True
                ).start()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop accepting and close every open connection (a request being answered is cut off;
        every answered change is already durable)."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._guard:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._stopped.wait(5)

    def server_close(self) -> None:
        self._listener.close()

    # -- one connection -----------------------------------------------------------------

    def _serve_connection(self, connection: socket.socket, peer: Any) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.settimeout(IDLE_TIMEOUT_S)
        reader: IO[bytes] = connection.makefile("rb", buffering=65536)  # type: ignore[assignment]
        try:
            while not self._stopping.is_set():
                line = reader.readline(MAX_LINE)
                if not line:
                    break
                if line in (b"\r\n", b"\n"):
                    continue  # a stray CRLF between requests (RFC 9112 §2.2)
                try:
                    keep = self._serve_request(connection, reader, line, peer)
                except _BadRequest as bad:
                    self._send_simple(connection, 400, str(bad))
                    break
                if not keep:
                    break
        except (OSError, ValueError):
            pass  # the client went away, the idle timeout, or shutdown
        except Exception:
            logger.exception("emulator: a connection failed", extra={"peer": str(peer)})
        finally:
            with self._guard:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                reader.close()
                connection.close()

    def _read_head(self, reader: IO[bytes], line: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        except ValueError as exc:
            raise _BadRequest("malformed request line") from exc
        if not version.startswith("HTTP/1."):
            raise _BadRequest("unsupported HTTP version")
        headers: list[tuple[str, str]] = []
        while True:
            raw = reader.readline(MAX_LINE)
            if raw in (b"\r\n", b"\n"):
                break
            if not raw.endswith(b"\n"):
                raise _BadRequest("truncated or oversized header")
            if len(headers) >= MAX_HEADERS:
                raise _BadRequest("too many headers")
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon:
                raise _BadRequest("malformed header")
            headers.append((name.strip(), value.strip()))
        return method, target, version, headers

    def _environ(
        self, method: str, target: str, version: str, headers: list[tuple[str, str]], peer: Any
    ) -> dict[str, Any]:
        path, _, query = target.partition("?")
        if "://" in path:  # absolute form: the path part only
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": _SERVER,
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _dance(unquote(path)),
            "QUERY_STRING": _dance(query),
            "REQUEST_URI": _dance(target),
            "RAW_URI": _dance(target),
            "REMOTE_ADDR": peer[0] if isinstance(peer, tuple) else "<local>",
            "REMOTE_PORT": peer[1] if isinstance(peer, tuple) else 0,
            "SERVER_NAME": self.server_address[0],
            "SERVER_PORT": str(self.server_address[1]),
            "SERVER_PROTOCOL": version,
        }
        preserved: dict[str, str] = {}
        underscored: list[tuple[str, str, str]] = []
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            if "_" in name:
                # WSGI cannot tell X_Foo from X-Foo: dropped, as werkzeug does, except S3
                # metadata, whose spelling moto keeps.
                if name.lower().startswith("x-amz-meta-"):
                    underscored.append((key, name, value))
                continue
            joined = f"{environ[key]},{value}" if key in environ and key.startswith("HTTP_") else value
            environ[key] = joined
        if underscored:
            values: dict[str, list[str]] = {}
            for key, name, value in underscored:
                if key in environ:
                    continue  # never let an underscored header stand in for a dashed one
                preserved.setdefault(key, name)
                values.setdefault(key, []).append(value)
            for key, found in values.items():
                environ[key] = ",".join(found)
        environ[_PRESERVED_NAMES_KEY] = preserved
        return environ

    def _serve_request(self, connection: socket.socket, reader: IO[bytes], line: bytes, peer: Any) -> bool:
        method, target, version, headers = self._read_head(reader, line)
        environ = self._environ(method, target, version, headers, peer)
        connection_header = str(environ.get("HTTP_CONNECTION", "")).lower()
        keep_alive = version == "HTTP/1.1" and "close" not in connection_header
        if str(environ.get("HTTP_EXPECT", "")).lower() == "100-continue":
            connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body: _Body | None = None
        if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
            environ["wsgi.input"] = io.BytesIO(_dechunk(reader))
            environ["wsgi.input_terminated"] = True
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError as exc:
                raise _BadRequest("bad Content-Length") from exc
            if length < 0:
                raise _BadRequest("bad Content-Length")
            body = _Body(reader, length)
            environ["wsgi.input"] = body
        keep_alive = self._respond(connection, environ, method, keep_alive)
        if body is not None and body.remaining:
            if body.remaining > _DRAIN_LIMIT:
                return False
            body.read()  # what the app left unread, so the next request line is where we read
        return keep_alive

    def _respond(self, connection: socket.socket, environ: dict[str, Any], method: str, keep_alive: bool) -> bool:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda _data: None  # write() callables are not used by our apps

        try:
            result = self.app(environ, start_response)
        except Exception:
            logger.exception("emulator: the app failed", extra={"path": environ.get("PATH_INFO")})
            self._send_simple(connection, 500, "internal error in the emulator")
            return False
        try:
            iterator = iter(result)
            first = b""
            for chunk in iterator:
                if chunk:
                    first = chunk
                    break
            if not started:
                raise RuntimeError("the app answered without start_response")
            status, headers = started
            code = int(status.split(" ", 1)[0])
            no_body = method == "HEAD" or code in _NO_BODY_STATUS or 100 <= code < 200
            prefix, chunked = self._head(status, headers, no_body=no_body, keep_alive=keep_alive)
            if no_body:
                connection.sendall(prefix)
                return keep_alive
            if chunked:
                connection.sendall(prefix + (b"%x\r\n%s\r\n" % (len(first), first) if first else b""))
                for chunk in iterator:
                    if chunk:
                        connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                connection.sendall(b"0\r\n\r\n")
                return keep_alive
            connection.sendall(prefix + first)
            for chunk in iterator:
                if chunk:
                    connection.sendall(chunk)
            return keep_alive
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _head(
        self, status: str, headers: list[tuple[str, str]], *, no_body: bool, keep_alive: bool
    ) -> tuple[bytes, bool]:
        """The status line and headers; whether the body goes chunked (no Content-Length on a
        connection that stays open: the end of the body cannot be the end of the connection)."""
        names = {name.lower() for name, _ in headers}
        chunked = keep_alive and not no_body and "content-length" not in names
        head = [f"HTTP/1.1 {status}"]
        head += [f"{name}: {value}" for name, value in headers]
        if "date" not in names:
            head.append(f"Date: {self._date()}")
        if chunked:
            head.append("Transfer-Encoding: chunked")
        if not keep_alive:
            head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"), chunked

    def _send_simple(self, connection: socket.socket, code: int, message: str) -> None:
        body = message.encode()
        reason = {400: "Bad Request", 500: "Internal Server Error"}.get(code, "Error")
        head = (
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            connection.sendall(head.encode("latin-1") + body)
