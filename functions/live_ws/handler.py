"""The WebSocket API's function (``GET /v1/ws``): ``$connect``, ``$default`` and ``$disconnect``.

Deployed, API Gateway's WebSocket API invokes it with its WebSocket events; locally the
gateway does the same for each connection (molesignal/local/gateway.py). Answers go out
through ``PostToConnection``; the return value only accepts or refuses the ``$connect``.
"""

from __future__ import annotations

from typing import Any

from molesignal.live.connections import Connections
from molesignal.live.posting import ApiGatewayPoster
from molesignal.live.session import LiveSession, route_of
from molesignal.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route, connection_id, source_ip = route_of(event)
    session = LiveSession(Connections(), ApiGatewayPoster())
    if route == "$connect":
        session.connect(connection_id, source_ip)
    elif route == "$disconnect":
        session.disconnect(connection_id)
    else:
        body = event.get("body")
        if event.get("isBase64Encoded") or not isinstance(body, str):
            session.refuse_binary(connection_id)
        else:
            session.receive(connection_id, source_ip, body)
    return {"statusCode": 200}
