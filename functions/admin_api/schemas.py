"""The HTTP contract of the admin group."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from molesignal.auth.principal import Role


class OrgOut(BaseModel):
    id: str
    name: str
    ingestion_paused: bool
    content_retention_days: int
    content_keys: list[str]
    content_keys_default: bool
    content_body_is_content: bool
    created_at: str


class OrgList(BaseModel):
    orgs: list[OrgOut]


class CreateOrgRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=40, description="lower-case letters, digits and '-'")
    name: str = Field(min_length=1, max_length=128)


ContentKey = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")]


class UpdateOrgRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    ingestion_paused: bool | None = None
    content_retention_days: int | None = Field(
        default=None, ge=1, le=3650, description="how long sealed OTLP session content is kept (default 90)"
    )
    content_keys: list[ContentKey] | None = Field(
        default=None,
        max_length=500,
        description=(
            "attribute keys (and `*` patterns) whose values are session content, sealed at ingest; "
            "replaces the default list, and `null` restores it"
        ),
    )
    content_body_is_content: bool | None = Field(
        default=None, description="seal every log body, not only the GenAI message events' bodies"
    )


class QuotaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest_qps: int = Field(ge=1, le=1_000_000)
    query_qps: int = Field(ge=1, le=1_000_000)
    storage_bytes: int = Field(ge=0)


class QuotaOut(QuotaBody):
    usage: dict[str, int]


class UserOut(BaseModel):
    id: str
    user: str
    email: str
    org_id: str
    role: str
    disabled: bool
    created_at: str


class UserList(BaseModel):
    users: list[UserOut]


class CreateUserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = Role.VIEWER
    email: str = Field(default="", max_length=254)
    org_id: str | None = Field(default=None, description="root only: create the user in another org")


class UpdateUserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=1024)
    email: str | None = Field(default=None, max_length=254)


class AuditEntry(BaseModel):
    id: str
    time: str
    ts_us: int
    action: str
    actor: str
    target: str
    outcome: str
    source_ip: str
    details: dict[str, object]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    has_more: bool
    next_cursor: str | None


class IpAllowlist(BaseModel):
    cidrs: list[str] = Field(description="IPv4/IPv6 CIDRs allowed to use this org's credentials; empty: any address")


class IpAllowlistUpdate(BaseModel):
    cidrs: list[str] = Field(max_length=200)
    force: bool = Field(default=False, description="save even if the list refuses the caller's own address")


class PlanOut(BaseModel):
    plan: str = Field(description="free (60/min), starter (300), pro (1,000) or enterprise (custom)")
    requests_per_minute: int


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Literal["free", "starter", "pro", "enterprise"]
    requests_per_minute: int | None = Field(default=None, ge=1, le=10_000_000, description="enterprise only")
