"""Typed FastAPI dependencies: the caller (from the authorizer's context), the table, the source IP."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import Depends, Request

from molesignal.auth.principal import Principal, Role
from molesignal.errors import Forbidden, Unauthorized
from molesignal.storage.table import Table


def _event(request: Request) -> dict[str, Any]:
    event = request.scope.get("aws.event")
    return event if isinstance(event, dict) else {}


def authorizer_context(request: Request) -> dict[str, Any] | None:
    authorizer = (_event(request).get("requestContext") or {}).get("authorizer") or {}
    context = authorizer.get("lambda")
    return context if isinstance(context, dict) else None


def principal_of(request: Request) -> Principal:
    """The caller as resolved by the Lambda authorizer.

    Fails closed: a route deployed without the authorizer, or a request it could not
    authenticate, never reaches the handler.
    """
    context = authorizer_context(request)
    if context is None:
        raise Unauthorized("unauthorized: no authorizer context", code="missing_token")
    if str(context.get("forbidden")) == "true":
        # A valid credential used from an address outside its org's IP allowlist.
        raise Forbidden(str(context.get("error_message") or "forbidden"), code=str(context.get("error_code")))
    if str(context.get("authenticated")) != "true":
        raise Unauthorized(
            str(context.get("error_message") or "unauthorized"), code=str(context.get("error_code") or "invalid_token")
        )
    try:
        return Principal.from_context(context)
    except (KeyError, ValueError) as exc:
        raise Unauthorized("unauthorized: malformed authorizer context", code="invalid_token") from exc


# The dependencies below only read the event: ``async def`` runs them on the request's event
# loop, where a plain ``def`` would be handed to a worker thread and back on every request.


async def current_principal(request: Request) -> Principal:
    return principal_of(request)


async def optional_principal(request: Request) -> Principal | None:
    try:
        return principal_of(request)
    except Unauthorized:
        return None


def source_of(request: Request) -> str:
    http = (_event(request).get("requestContext") or {}).get("http") or {}
    return str(http.get("sourceIp") or (request.client.host if request.client else ""))


async def source_ip(request: Request) -> str:
    return source_of(request)


def is_local_request(request: Request) -> bool:
    try:
        return ipaddress.ip_address(source_of(request)).is_loopback
    except ValueError:
        return False


async def get_table() -> Table:
    return Table()


async def require_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("forbidden: requires role admin")
    return principal


def require_role(*roles: Role) -> Any:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require(*roles)
        return principal

    return check


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
TableDep = Annotated[Table, Depends(get_table)]
SourceIp = Annotated[str, Depends(source_ip)]
