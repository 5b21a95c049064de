"""Posting frames to WebSocket connections: API Gateway's ``PostToConnection``.

The same client runs deployed (the WebSocket API's ``@connections`` endpoint) and locally
(the local gateway answers the same ``POST /@connections/{id}``), so the code path a test
drives is the one Lambda runs.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from molesignal import aws
from molesignal.settings import get_settings


class ConnectionGone(Exception):
    """The connection is closed (API Gateway answers 410 GoneException)."""


class Poster(Protocol):
    def post(self, connection_id: str, data: bytes) -> None: ...

    def close(self, connection_id: str) -> None: ...


class ApiGatewayPoster:
    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = endpoint or get_settings().live_connections_url

    def post(self, connection_id: str, data: bytes) -> None:
        client = aws.client("apigatewaymanagementapi", endpoint=self.endpoint)
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException as exc:
            raise ConnectionGone(connection_id) from exc

    def close(self, connection_id: str) -> None:
        client = aws.client("apigatewaymanagementapi", endpoint=self.endpoint)
        with contextlib.suppress(client.exceptions.GoneException):  # closed already
            client.delete_connection(ConnectionId=connection_id)
