"""The HTTP contract of the alerting group (spec 000, ``/api/v1/alerts``).

Schema names start with ``Alert`` so that they stay distinct in the merged /openapi.json.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from molesignal.alerts.destinations import DestinationType


# --- destinations ----------------------------------------------------------------------------
class AlertDestinationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    type: DestinationType
    url: str | None = Field(
        default=None, max_length=2048, description="webhook and slack: where to POST (https; see docs/alerts.md)"
    )
    address: str | None = Field(default=None, max_length=254, description="email: the recipient")
    topic_arn: str | None = Field(default=None, max_length=512, description="sns: the topic to publish to")
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=512,
        description="webhook: HMAC-SHA256 key of the X-MoleSignal-Signature header; stored sealed, never returned",
    )
    headers: dict[str, str] | None = Field(
        default=None, description="webhook: extra request headers; values are stored sealed, only names are returned"
    )
    default_for_platform: bool = Field(
        default=False, description="also receives the org's platform alerts (quota rejections)"
    )
    deployment_alerts: bool = Field(
        default=False, description="root only: receives the deployment's alerts (DLQ depth, worker failures)"
    )


class AlertDestinationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    url: str | None = Field(default=None, max_length=2048)
    address: str | None = Field(default=None, max_length=254)
    topic_arn: str | None = Field(default=None, max_length=512)
    secret: str | None = Field(default=None, min_length=16, max_length=512, description="null removes the secret")
    headers: dict[str, str] | None = Field(default=None, description="replaces every header; null removes them")
    default_for_platform: bool | None = None
    deployment_alerts: bool | None = None


class AlertDestination(BaseModel):
    id: str
    name: str
    type: DestinationType
    url: str | None = Field(description="without its query; a Slack URL as its host only")
    address: str | None
    topic_arn: str | None
    headers: list[str] = Field(description="header names (values are secret)")
    has_secret: bool
    default_for_platform: bool
    deployment_alerts: bool
    created_at: str
    updated_at: str
    created_by: str


class AlertDestinationList(BaseModel):
    items: list[AlertDestination]


class AlertDeliveryReport(BaseModel):
    ok: bool = Field(description="whether the receiver accepted the notification (HTTP 2xx, or SES/SNS took it)")
    status: int | None = Field(description="the receiver's HTTP status, when there was one")
    detail: str = Field(description="the receiver's answer (an excerpt), or why nothing was delivered")
    took_ms: float
