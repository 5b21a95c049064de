"""The HTTP contract of the auth group (spec 000 and its spec 004 aliases)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from molesignal.auth.principal import Role


class SetupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(validation_alias=AliasChoices("user", "username"), min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    root_password: str | None = Field(default=None, max_length=1024)
    email: str = Field(default="", max_length=254)
    org_name: str = Field(default="Default", max_length=128)


class SetupStatus(BaseModel):
    needs_setup: bool
    message: str


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(validation_alias=AliasChoices("user", "username"), min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(default=None, max_length=4096)


class UserOut(BaseModel):
    id: str
    user: str
    email: str
    org_id: str
    role: str
    disabled: bool
    created_at: str


class TokenPairOut(BaseModel):
    user: UserOut
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class SetupOut(BaseModel):
    org_id: str
    user: UserOut
    root: UserOut | None


class MeOut(BaseModel):
    user: UserOut
    role: str = Field(description="The effective role of this credential (an API token's own role).")
    auth_kind: str = Field(description="jwt or api_token")


class LogoutOut(BaseModel):
    logged_out: bool


class CreateTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    role: Role = Role.INGEST
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    kind: Literal["ms", "mtk", "molar_sk"] = Field(
        default="ms",
        description="ms: ms_<prefix>_<secret>; mtk: an org ingest token mtk_<prefix>_<secret> (spec 002); "
        "molar_sk: an API key molar_sk_<prefix>_<secret> (spec 003), any role",
    )


class TokenOut(BaseModel):
    id: str
    prefix: str
    name: str
    role: str
    user_id: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked: bool


class CreatedTokenOut(TokenOut):
    token: str = Field(description="The full secret. It is shown once and never again.")


class TokenList(BaseModel):
    tokens: list[TokenOut]
