"""Admin routes: orgs, users and roles, quotas, the audit log. Admins act within their own
org; root (the deployment owner) may act on any org. Another org's id answers 404."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from admin_api.schemas import (
    AuditPage,
    CreateOrgRequest,
    CreateUserRequest,
    IpAllowlist,
    IpAllowlistUpdate,
    OrgList,
    OrgOut,
    PlanBody,
    PlanOut,
    QuotaBody,
    QuotaOut,
    UpdateOrgRequest,
    UpdateUserRequest,
    UserList,
    UserOut,
)
from molesignal import audit
from molesignal.auth.principal import Principal, Role
from molesignal.auth.session_families import revoke_user_sessions
from molesignal.errors import Forbidden, NotFound
from molesignal.ipallow import Allowlists
from molesignal.lake.maintenance import update_stream_settings
from molesignal.lake.streams import CONTENT_STREAM
from molesignal.plans import Plan, Plans
from molesignal.quotas import Limiter, Quota
from molesignal.tenancy import Tenancy, public_org, public_user
from molesignal.web.deps import AdminPrincipal, SourceIp, TableDep, require_role

RootPrincipal = Annotated[Principal, Depends(require_role(Role.ROOT))]

orgs_router = APIRouter(prefix="/api/v1/orgs", tags=["admin"])
users_router = APIRouter(prefix="/api/v1/users", tags=["admin"])
audit_router = APIRouter(prefix="/api/v1/audit", tags=["admin"])


def _target_org(principal: Principal, org_id: str | None) -> str:
    if org_id is None or org_id == principal.org_id:
        return principal.org_id
    if principal.role is not Role.ROOT:
        raise Forbidden("forbidden: only root may act on another org")
    return org_id


# --- orgs ------------------------------------------------------------------
@orgs_router.get("", response_model=OrgList, summary="Orgs visible to the caller")
def list_orgs(principal: AdminPrincipal, table: TableDep) -> OrgList:
    return OrgList.model_validate({"orgs": [public_org(o) for o in Tenancy(table).list_orgs(principal)]})


@orgs_router.post("", response_model=OrgOut, status_code=201, summary="Create an org (root only)")
def create_org(body: CreateOrgRequest, principal: AdminPrincipal, table: TableDep, ip: SourceIp) -> OrgOut:
    principal.require(Role.ROOT)
    item = Tenancy(table).create_org(body.id, body.name, created_by=principal.actor)
    audit.record(table, org_id=body.id, action="org.create", actor=principal.actor, target=body.id, source_ip=ip)
    return OrgOut.model_validate(public_org(item))


@orgs_router.get("/{org_id}", response_model=OrgOut, summary="One org")
def get_org(org_id: str, principal: AdminPrincipal, table: TableDep) -> OrgOut:
    return OrgOut.model_validate(public_org(Tenancy(table).visible_org(principal, org_id)))


@orgs_router.patch(
    "/{org_id}", response_model=OrgOut, summary="Rename an org, pause its ingestion or change its content settings"
)
def update_org(org_id: str, body: UpdateOrgRequest, principal: AdminPrincipal, table: TableDep, ip: SourceIp) -> OrgOut:
    tenancy = Tenancy(table)
    tenancy.visible_org(principal, org_id)
    item = tenancy.update_org(
        org_id,
        name=body.name,
        ingestion_paused=body.ingestion_paused,
        content_retention_days=body.content_retention_days,
        content_keys=body.content_keys,
        reset_content_keys="content_keys" in body.model_fields_set and body.content_keys is None,
        content_body_is_content=body.content_body_is_content,
    )
    if body.content_retention_days is not None:
        # The content stream's retention is the window the purge applies.
        with suppress(NotFound):
            update_stream_settings(
                table, org_id, CONTENT_STREAM, retention_days=body.content_retention_days, field_cap=None
            )
    audit.record(
        table,
        org_id=org_id,
        action="org.update",
        actor=principal.actor,
        target=org_id,
        source_ip=ip,
        details=body.model_dump(exclude_unset=True),
    )
    return OrgOut.model_validate(public_org(item))


@orgs_router.get("/{org_id}/quotas", response_model=QuotaOut, summary="The org's quotas and usage")
def get_quotas(org_id: str, principal: AdminPrincipal, table: TableDep) -> QuotaOut:
    Tenancy(table).visible_org(principal, org_id)
    limiter = Limiter(table)
    return QuotaOut.model_validate({**limiter.quota(org_id).to_dict(), "usage": limiter.usage(org_id)})


@orgs_router.put("/{org_id}/quotas", response_model=QuotaOut, summary="Set the org's quotas (root only)")
def set_quotas(org_id: str, body: QuotaBody, principal: RootPrincipal, table: TableDep, ip: SourceIp) -> QuotaOut:
    # An org admin raising their own caps would defeat them: quotas belong to the deployment owner.
    # The role is a dependency so that an admin is refused (403) before the body is validated.
    Tenancy(table).visible_org(principal, org_id)
    limiter = Limiter(table)
    quota = limiter.set_quota(org_id, Quota(**body.model_dump()))
    audit.record(
        table,
        org_id=org_id,
        action="quota.update",
        actor=principal.actor,
        target=org_id,
        source_ip=ip,
        details=quota.to_dict(),
    )
    return QuotaOut.model_validate({**quota.to_dict(), "usage": limiter.usage(org_id)})


@orgs_router.get("/{org_id}/ip-allowlist", response_model=IpAllowlist, summary="The org's IP allowlist")
def get_ip_allowlist(org_id: str, principal: AdminPrincipal, table: TableDep) -> IpAllowlist:
    Tenancy(table).visible_org(principal, org_id)
    return IpAllowlist(cidrs=Allowlists(table).get(org_id))


@orgs_router.put(
    "/{org_id}/ip-allowlist",
    response_model=IpAllowlist,
    summary="Replace the org's IP allowlist (an empty list allows every address); 409 if it would lock you out",
)
def put_ip_allowlist(
    org_id: str, body: IpAllowlistUpdate, principal: AdminPrincipal, table: TableDep, ip: SourceIp
) -> IpAllowlist:
    Tenancy(table).visible_org(principal, org_id)
    cidrs = Allowlists(table).put(org_id, body.cidrs, by=principal, source_ip=ip, force=body.force)
    audit.record(
        table,
        org_id=org_id,
        action="org.ip_allowlist.update",
        actor=principal.actor,
        target=org_id,
        source_ip=ip,
        details={"cidrs": cidrs, "force": body.force},
    )
    return IpAllowlist(cidrs=cidrs)


@orgs_router.get("/{org_id}/plan", response_model=PlanOut, summary="The org's plan and its requests per minute")
def get_plan(org_id: str, principal: AdminPrincipal, table: TableDep) -> PlanOut:
    Tenancy(table).visible_org(principal, org_id)
    plan, rate = Plans(table).get(org_id)
    return PlanOut(plan=plan.value, requests_per_minute=rate)


@orgs_router.put("/{org_id}/plan", response_model=PlanOut, summary="Set the org's plan (root only)")
def put_plan(org_id: str, body: PlanBody, principal: AdminPrincipal, table: TableDep, ip: SourceIp) -> PlanOut:
    principal.require(Role.ROOT)  # like quotas: an org admin may not raise their own allowance
    plan, rate = Plans(table).set(org_id, Plan(body.plan), body.requests_per_minute)
    audit.record(
        table,
        org_id=org_id,
        action="org.plan.update",
        actor=principal.actor,
        target=org_id,
        source_ip=ip,
        details={"plan": plan.value, "requests_per_minute": rate},
    )
    return PlanOut(plan=plan.value, requests_per_minute=rate)


# --- users -----------------------------------------------------------------
@users_router.get("", response_model=UserList, summary="Users of the caller's org (root: any org)")
def list_users(
    principal: AdminPrincipal, table: TableDep, org_id: Annotated[str | None, Query(max_length=40)] = None
) -> UserList:
    target = _target_org(principal, org_id)
    Tenancy(table).visible_org(principal, target)
    return UserList.model_validate({"users": [public_user(u) for u in Tenancy(table).list_users(target)]})


@users_router.post("", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(body: CreateUserRequest, principal: AdminPrincipal, table: TableDep, ip: SourceIp) -> UserOut:
    target = _target_org(principal, body.org_id)
    tenancy = Tenancy(table)
    tenancy.visible_org(principal, target)
    item = tenancy.create_user(
        org_id=target,
        username=body.user,
        password=body.password,
        role=body.role,
        email=body.email,
        granted_by=principal,
    )
    audit.record(
        table,
        org_id=target,
        action="user.create",
        actor=principal.actor,
        target=item["user_id"],
        source_ip=ip,
        details={"user": body.user, "role": body.role.value},
    )
    return UserOut.model_validate(public_user(item))


@users_router.get("/{user_id}", response_model=UserOut, summary="One user of the caller's org")
def get_user(user_id: str, principal: AdminPrincipal, table: TableDep) -> UserOut:
    return UserOut.model_validate(public_user(Tenancy(table).get_user(principal.org_id, user_id)))


@users_router.patch("/{user_id}", response_model=UserOut, summary="Change a user's role, password, email or status")
def update_user(
    user_id: str, body: UpdateUserRequest, principal: AdminPrincipal, table: TableDep, ip: SourceIp
) -> UserOut:
    item = Tenancy(table).update_user(
        principal.org_id,
        user_id,
        role=body.role,
        disabled=body.disabled,
        password=body.password,
        email=body.email,
        granted_by=principal,
    )
    if body.disabled or body.role is not None or body.password is not None:
        # Live access tokens carry the old role and status: end those sessions now.
        revoke_user_sessions(table, user_id, reason="user_update")
    changed = body.model_dump(exclude_none=True, exclude={"password"})
    if body.password is not None:
        changed["password"] = "changed"  # noqa: S105 - an audit marker, not a secret
    audit.record_by(
        table,
        principal,
        "user.update",
        target=user_id,
        source_ip=ip,
        details=changed,
    )
    return UserOut.model_validate(public_user(item))


@users_router.delete("/{user_id}", response_model=UserOut, summary="Delete a user")
def delete_user(user_id: str, principal: AdminPrincipal, table: TableDep, ip: SourceIp) -> UserOut:
    item = Tenancy(table).delete_user(principal.org_id, user_id, by=principal)
    revoke_user_sessions(table, user_id, reason="user_deleted")
    audit.record_by(table, principal, "user.delete", target=user_id, source_ip=ip)
    return UserOut.model_validate(public_user(item))


# --- audit -----------------------------------------------------------------
@audit_router.get("", response_model=AuditPage, summary="The org's audit log, newest first (admins only)")
def list_audit(
    principal: AdminPrincipal,
    table: TableDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> AuditPage:
    items, next_cursor = audit.list_entries(table, principal.org_id, limit=limit, cursor=cursor)
    return AuditPage.model_validate({"items": items, "has_more": next_cursor is not None, "next_cursor": next_cursor})
