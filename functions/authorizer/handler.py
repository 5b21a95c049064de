"""Lambda authorizer (HTTP API, payload 2.0, simple responses).

It resolves who is calling and always lets the request through with that verdict in
its context; the owning function refuses unauthenticated callers in its own route
family's envelope (docs/adr/0002-authorizer-resolves-functions-enforce.md). A function
also refuses any request that arrives without this context, so a route deployed
without the authorizer fails closed.
"""

from __future__ import annotations

from typing import Any

from molesignal.auth.verdict import caller_context
from molesignal.observability import logger
from registry import REGISTRY

# Routes where HTTP Basic (an API token as the password) is accepted: the ingest protocols.
BASIC_ROUTES = REGISTRY.basic_auth_route_keys()


def resolve(event: dict[str, Any]) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    source_ip = str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "")
    return caller_context(headers, source_ip, basic_allowed=str(event.get("routeKey")) in BASIC_ROUTES)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    verdict = resolve(event)
    logger.info("authorized", extra={"authenticated": verdict["authenticated"], "route": event.get("routeKey")})
    return {"isAuthorized": True, "context": verdict}
