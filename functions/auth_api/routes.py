"""Auth routes (spec 000 under /api/v1/auth, spec 004 aliases under /v1/api/auth) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from auth_api.schemas import (
    CreatedTokenOut,
    CreateTokenRequest,
    LoginRequest,
    LogoutOut,
    MeOut,
    RefreshRequest,
    SetupOut,
    SetupRequest,
    SetupStatus,
    TokenList,
    TokenOut,
    TokenPairOut,
)
from molesignal import audit
from molesignal.auth.api_tokens import ApiTokens, public_token
from molesignal.auth.sessions import Sessions, TokenPair
from molesignal.errors import Forbidden, Unauthorized
from molesignal.settings import get_settings
from molesignal.tenancy import Tenancy, public_user
from molesignal.web.deps import CurrentPrincipal, OptionalPrincipal, SourceIp, TableDep, is_local_request

REFRESH_COOKIE = "molesignal_refresh"

auth_router = APIRouter(tags=["auth"])
tokens_router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


def _both(method: str, tail: str, **kwargs: object):  # type: ignore[no-untyped-def]
    """Register one handler under /api/v1/auth/<tail> and its /v1/api/auth/<tail> alias."""

    def register(fn):  # type: ignore[no-untyped-def]
        for prefix in ("/api/v1/auth", "/v1/api/auth"):
            auth_router.add_api_route(f"{prefix}/{tail}", fn, methods=[method], **kwargs)  # type: ignore[arg-type]
        return fn

    return register


def _require_setup_access(request: Request) -> None:
    if not is_local_request(request) and not get_settings().allow_remote_setup:
        raise Forbidden(
            "forbidden: setup answers only on localhost unless MOLESIGNAL_ALLOW_REMOTE_SETUP is true",
            code="setup_localhost_only",
        )


def _with_refresh_cookie(response: Response, pair: TokenPair) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=pair.refresh_expires_in,
        httponly=True,
        secure=get_settings().stage != "local",
        samesite="strict",
        path="/",
    )


@_both("GET", "status", response_model=SetupStatus, summary="Whether first-run setup is still needed")
def status(request: Request, table: TableDep) -> SetupStatus:
    _require_setup_access(request)
    needs = Sessions(table).needs_setup()
    message = (
        "Server requires initial setup: POST /api/v1/auth/setup with user, password and optionally root_password."
        if needs
        else "Server is set up."
    )
    return SetupStatus(needs_setup=needs, message=message)


@_both("POST", "setup", response_model=SetupOut, status_code=201, summary="First-run bootstrap (409 afterwards)")
def setup(body: SetupRequest, request: Request, table: TableDep, ip: SourceIp) -> SetupOut:
    _require_setup_access(request)
    result = Sessions(table).setup(
        username=body.user,
        password=body.password,
        root_password=body.root_password,
        email=body.email,
        org_name=body.org_name,
        source_ip=ip,
    )
    return SetupOut.model_validate(result)


@_both("POST", "login", response_model=TokenPairOut, summary="Exchange user and password for tokens")
def login(body: LoginRequest, response: Response, table: TableDep, ip: SourceIp) -> TokenPairOut:
    pair = Sessions(table).login(body.user, body.password, source_ip=ip)
    _with_refresh_cookie(response, pair)
    return TokenPairOut.model_validate(pair.to_response())


def _refresh_token_from(request: Request, body: RefreshRequest | None) -> str:
    if body is not None and body.refresh_token:
        return body.refresh_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = request.cookies.get(REFRESH_COOKIE)
    if cookie:
        return cookie
    raise Unauthorized(
        "unauthorized: send the refresh token as a bearer token, body field or cookie", code="missing_token"
    )


@_both("POST", "refresh", response_model=TokenPairOut, summary="Rotate the refresh token; reuse revokes the session")
def refresh(
    request: Request, response: Response, table: TableDep, ip: SourceIp, body: RefreshRequest | None = None
) -> TokenPairOut:
    pair = Sessions(table).refresh(_refresh_token_from(request, body), source_ip=ip)
    _with_refresh_cookie(response, pair)
    return TokenPairOut.model_validate(pair.to_response())


@_both("POST", "logout", response_model=LogoutOut, summary="Revoke this session and clear the cookie")
def logout(
    request: Request,
    response: Response,
    table: TableDep,
    principal: OptionalPrincipal,
    ip: SourceIp,
    body: RefreshRequest | None = None,
) -> LogoutOut:
    token = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    revoked = Sessions(table).logout(token, principal, source_ip=ip)
    response.delete_cookie(REFRESH_COOKIE, path="/")
    return LogoutOut(logged_out=revoked)


@_both("GET", "me", response_model=MeOut, summary="The authenticated caller")
def me(principal: CurrentPrincipal, table: TableDep) -> MeOut:
    user = Tenancy(table).get_user(principal.org_id, principal.user_id)
    return MeOut.model_validate({"user": public_user(user), "role": principal.role.value, "auth_kind": principal.kind})


@tokens_router.get("", response_model=TokenList, summary="API tokens (admins see the org's, others their own)")
def list_tokens(principal: CurrentPrincipal, table: TableDep) -> TokenList:
    return TokenList.model_validate({"tokens": [public_token(i) for i in ApiTokens(table).list(principal)]})


@tokens_router.post(
    "", response_model=CreatedTokenOut, status_code=201, summary="Create an API token (secret shown once)"
)
def create_token(
    body: CreateTokenRequest, principal: CurrentPrincipal, table: TableDep, ip: SourceIp
) -> CreatedTokenOut:
    secret, item = ApiTokens(table).create(
        principal, name=body.name, role=body.role, expires_in_days=body.expires_in_days, kind=body.kind
    )
    audit.record_by(
        table,
        principal,
        "token.create",
        target=item["prefix"],
        source_ip=ip,
        details={"role": body.role.value, "name": body.name},
    )
    return CreatedTokenOut.model_validate({**public_token(item), "token": secret})


@tokens_router.get("/{token_id}", response_model=TokenOut, summary="One API token")
def get_token(token_id: str, principal: CurrentPrincipal, table: TableDep) -> TokenOut:
    return TokenOut.model_validate(public_token(ApiTokens(table).get(principal, token_id)))


@tokens_router.delete("/{token_id}", response_model=TokenOut, summary="Revoke an API token (idempotent: audited once)")
def revoke_token(token_id: str, principal: CurrentPrincipal, table: TableDep, ip: SourceIp) -> TokenOut:
    item, newly_revoked = ApiTokens(table).revoke(principal, token_id)
    if newly_revoked:  # revoking a revoked token answers the same, without a second audit entry
        audit.record_by(
            table,
            principal,
            "token.revoke",
            target=token_id,
            source_ip=ip,
        )
    return TokenOut.model_validate(public_token(item))
