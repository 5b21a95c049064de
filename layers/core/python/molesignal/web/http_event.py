"""Pieces of an API Gateway HTTP API (payload 2.0) event made from an ASGI request: what the
local gateway builds for every function, and what a function URL's app builds for its routes
(``molesignal.web.function_url``), so both hand the apps the same shapes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl


def headers_and_cookies(scope: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Lower-case headers, repeated ones joined by commas, and the cookies apart (as API Gateway
    sends them: the ``cookies`` list, no ``cookie`` header)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers, cookies


def query_parameters(raw_query: str) -> dict[str, str]:
    """``queryStringParameters``: a repeated parameter's values joined by commas."""
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    return query


def request_context(
    scope: Mapping[str, Any], headers: Mapping[str, str], route_key: str, source_ip: str
) -> dict[str, Any]:
    """The ``requestContext`` every 2.0 event carries (no authorizer: the caller adds it)."""
    now = datetime.now(UTC)
    return {
        "http": {
            "method": scope["method"].upper(),
            "path": scope["path"],
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
