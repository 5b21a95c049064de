"""What the WebSocket function does on ``$connect``, each frame (``$default``) and ``$disconnect``.

Nothing is held between invocations: who is authenticated on a connection and what it
watches are in DynamoDB (``connections``); every answer goes out through ``PostToConnection``
(``posting``), as a writer's change notifications do. Authentication is the first frame
(``authenticate`` with a JWT), as in KalamDB: browsers cannot set headers on a WebSocket,
so an authorizer on ``$connect`` would push tokens into URLs and logs (ADR 0021).
"""

from __future__ import annotations

from typing import Any

from molesignal.auth.principal import Principal
from molesignal.auth.verdict import caller_context
from molesignal.errors import DomainError
from molesignal.lake.watch import settle
from molesignal.live import protocol as p
from molesignal.live.connections import MAX_SUBSCRIPTIONS_PER_CONNECTION, Connections, Subscription
from molesignal.live.plan import plan
from molesignal.live.posting import ConnectionGone, Poster
from molesignal.observability import logger
from molesignal.query.service import QueryService
from molesignal.query.system_tables import READ_ROLE as SYSTEM_READ_ROLE
from molesignal.settings import get_settings
from molesignal.sql.session import SqlSession
from molesignal.web.envelopes import Family, error_body
from molesignal.web.errors import status_for


class LiveSession:
    def __init__(self, connections: Connections, poster: Poster) -> None:
        self.connections = connections
        self.poster = poster

    def connect(self, connection_id: str, source_ip: str) -> None:
        self.connections.opened(connection_id, source_ip)

    def disconnect(self, connection_id: str) -> None:
        self.connections.drop(connection_id)

    def refuse_binary(self, connection_id: str) -> None:
        refused = p.UnsupportedData("frames to the server are JSON text")
        self._post(connection_id, p.error("protocol", refused.code, refused.message))

    def receive(self, connection_id: str, source_ip: str, text: str) -> None:
        """Answer one client frame; a refused one gets an ``error`` frame, never a dropped socket."""
        subscription_id = "protocol"
        try:
            message = p.parse(text)
            if isinstance(message, p.Authenticate):
                self._authenticate(connection_id, source_ip, message.token)
                return
            if isinstance(message, p.Ping):
                self._post(connection_id, p.pong())
                return
            subscription_id = message.id if isinstance(message, p.Subscribe) else message.subscription_id
            principal = self._principal(connection_id)
            if isinstance(message, p.Subscribe):
                self._subscribe(connection_id, principal, message)
            else:
                self.connections.remove(connection_id, message.subscription_id)
                self._post(connection_id, p.unsubscribed(message.subscription_id))
        except DomainError as exc:
            self._post(connection_id, p.error(subscription_id, error_code(exc), _message(exc)))

    def _authenticate(self, connection_id: str, source_ip: str, token: str) -> None:
        # The authorizer's own logic (token, session state, the org's IP allowlist).
        context = caller_context({"authorization": f"Bearer {token}"}, source_ip, basic_allowed=False)
        if context.get("authenticated") != "true":
            refusal = context.get("error_message") or "unauthorized"
        elif context.get("kind") != "jwt":
            refusal = "unauthorized: /v1/ws takes a JWT from /v1/api/auth/login, not an API token"
        else:
            principal = Principal.from_context(context)
            self.connections.authenticated(connection_id, principal, source_ip)
            self._post(connection_id, p.auth_success(principal.user_id, principal.actor, principal.role.value))
            return
        self._post(connection_id, p.auth_error(refusal))
        self.poster.close(connection_id)

    def _principal(self, connection_id: str) -> Principal:
        item = self.connections.get(connection_id)
        context = (item or {}).get("principal")
        if not isinstance(context, dict):
            raise p.AuthRequired("AUTH_REQUIRED: send authenticate with a JWT first")
        return Principal.from_context(context)

    def _subscribe(self, connection_id: str, principal: Principal, message: p.Subscribe) -> None:
        existing = self.connections.subscriptions(connection_id)
        if len(existing) >= MAX_SUBSCRIPTIONS_PER_CONNECTION and not any(
            item.get("subscription_id") == message.id for item in existing
        ):
            limit = MAX_SUBSCRIPTIONS_PER_CONNECTION
            raise p.SubscriptionLimitExceeded(
                f"SUBSCRIPTION_LIMIT_EXCEEDED: a connection holds at most {limit} subscriptions"
            )
        settings = get_settings()
        live = plan(
            principal.org_id,
            message.sql,
            system_reader=principal.holds(SYSTEM_READ_ROLE),
            last_rows=message.last_rows,
            max_initial_rows=settings.live_max_initial_rows,
        )
        service = QueryService()
        service.admit(principal)
        # Listed before the initial read, so no change committed meanwhile is missed (it may
        # then arrive before the initial batch, and be in it too: docs/live.md). The org's first
        # subscription waits out the writers' cached watch marker before reading.
        first = self.connections.add(
            Subscription(
                connection_id,
                message.id,
                principal.org_id,
                live.relation,
                live.filter_sql,
                principal.user_id,
                principal.credential_id,
            )
        )
        try:
            if first:
                settle()
            result = SqlSession(principal, service).run(live.initial_sql)[0]
        except BaseException:
            self.connections.remove(connection_id, message.id)
            raise
        names = [column.name for column in result.columns]
        schema = [{"name": c.name, "data_type": c.data_type, "index": i} for i, c in enumerate(result.columns)]
        rows = [dict(zip(names, row, strict=True)) for row in result.rows]
        self._post(connection_id, p.subscription_ack(message.id, len(rows), schema))
        self._post(connection_id, p.initial_data_batch(message.id, rows))

    def _post(self, connection_id: str, data: bytes) -> None:
        try:
            self.poster.post(connection_id, data)
        except ConnectionGone:
            logger.info("live: the connection went away", extra={"connection_id": connection_id})
            self.connections.drop(connection_id)


def error_code(exc: DomainError) -> str:
    """Spec 004's code for a domain error: what ``POST /v1/api/sql`` would answer with (the
    web layer's one mapping; the writers' fan-out, without the web layer, never needs it)."""
    return str(error_body(Family.SQL, status_for(exc), exc.code, "")["error"]["code"])


def _message(exc: DomainError) -> str:
    return str(exc.message)


def route_of(event: dict[str, Any]) -> tuple[str, str, str]:
    """(route key, connection id, source ip) of an API Gateway WebSocket event."""
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    return str(context.get("routeKey", "")), str(context.get("connectionId", "")), str(identity.get("sourceIp", ""))
