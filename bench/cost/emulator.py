"""The AWS emulator (moto's server) in its own process, counting every request it answers.

Run by ``bench/cost/run.py``: a separate process keeps the emulator's CPU out of the
handlers' measured CPU time, and counting on the server side sees the S3 requests DuckDB's
httpfs makes itself (they never pass through botocore). ``GET /_cost/requests`` answers the
requests counted so far by (service, method, kind) with their bytes; ``POST /_cost/reset``
clears them.

    python bench/cost/emulator.py PORT
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")


def s3_kind(method: str, path: str, query: str) -> str:
    """The S3 price tier of a request: GET (GET, HEAD), PUT (PUT, POST, COPY, LIST) or DELETE (free)."""
    is_object = len([part for part in path.split("/") if part]) >= 2
    if method in ("GET", "HEAD"):
        return "GET" if is_object and "uploads" not in query else "LIST"
    if method == "DELETE" or (method == "POST" and "delete" in query):
        return "DELETE"
    return "PUT"


class Counting:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_cost/"):
            return self._control(path, environ, start_response)
        match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "") or environ.get("QUERY_STRING", ""))
        service = match.group(1) if match else "unsigned"
        method = environ["REQUEST_METHOD"]
        kind = s3_kind(method, path, environ.get("QUERY_STRING", "")) if service == "s3" else method
        bytes_in = int(environ.get("CONTENT_LENGTH") or 0)
        body = list(self.app(environ, start_response))
        bytes_out = sum(map(len, body))
        with self.lock:
            entry = self.counts.setdefault(f"{service} {kind}", {"requests": 0, "bytes_in": 0, "bytes_out": 0})
            entry["requests"] += 1
            entry["bytes_in"] += bytes_in
            entry["bytes_out"] += bytes_out
        return body

    def _control(self, path: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            answer = json.dumps(self.counts).encode()
            if path == "/_cost/reset" and environ["REQUEST_METHOD"] == "POST":
                self.counts = {}
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
        return [answer]


def main() -> None:
    port = int(sys.argv[1])
    app = Counting(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
