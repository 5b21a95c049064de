"""The HTTP contract of the alerting group (spec 000, ``/api/v1/alerts``).

Schema names start with ``Alert`` so that they stay distinct in the merged /openapi.json.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from molesignal.alerts.destinations import DestinationType
from molesignal.alerts.rules import Operator, RuleKind, Severity

MAX_US = 2**63 - 1


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


# --- rules -----------------------------------------------------------------------------------
class AlertCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Operator = Field(description="compare the value with threshold, or fire when the query returns no row")
    threshold: float | None = Field(default=None, description="required unless op is no_data")


class AlertRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    kind: RuleKind
    destinations: list[str] = Field(default_factory=list, max_length=10, description="destination ids")
    severity: Severity = Severity.WARNING
    message: str = Field(default="", max_length=2000, description="template with {{name}} placeholders")
    labels: dict[str, str] = Field(default_factory=dict, description="extra labels for silences and receivers")
    enabled: bool = True
    repeat_interval_s: int = Field(default=4 * 3600, ge=60, le=7 * 86400, description="re-notify a firing alert")
    group_by: list[str] = Field(default_factory=list, max_length=5, description="one alert per value of these columns")
    stream: str | None = Field(default=None, max_length=128, description="realtime: the stream watched")
    where: str | None = Field(default=None, max_length=10_000, description="realtime: SQL condition on each row")
    resolve_after_s: int | None = Field(
        default=None, ge=0, le=86400, description="realtime: resolve once no row matched for this long (default 300)"
    )
    query: str | None = Field(default=None, max_length=100_000, description="scheduled: SQL over any streams")
    interval_s: int | None = Field(default=None, ge=60, le=86400, description="scheduled: run every N minutes")
    window_s: int | None = Field(
        default=None, ge=60, le=7 * 86400, description="scheduled: the query's time range ends now and spans this"
    )
    condition: AlertCondition | None = None
    value_column: str | None = Field(default=None, max_length=128, description="scheduled: the column compared")
    for_s: int | None = Field(default=None, ge=0, le=86400, description="scheduled: hold this long before firing")


class AlertRulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    destinations: list[str] | None = Field(default=None, max_length=10)
    severity: Severity | None = None
    message: str | None = Field(default=None, max_length=2000)
    labels: dict[str, str] | None = None
    enabled: bool | None = None
    repeat_interval_s: int | None = Field(default=None, ge=60, le=7 * 86400)
    group_by: list[str] | None = Field(default=None, max_length=5)
    stream: str | None = Field(default=None, max_length=128)
    where: str | None = Field(default=None, max_length=10_000)
    resolve_after_s: int | None = Field(default=None, ge=0, le=86400)
    query: str | None = Field(default=None, max_length=100_000)
    interval_s: int | None = Field(default=None, ge=60, le=86400)
    window_s: int | None = Field(default=None, ge=60, le=7 * 86400)
    condition: AlertCondition | None = None
    value_column: str | None = Field(default=None, max_length=128)
    for_s: int | None = Field(default=None, ge=0, le=86400)


class AlertState(BaseModel):
    rule_id: str
    rule_name: str = ""
    fingerprint: str
    labels: dict[str, str]
    state: str = Field(description="ok, pending, firing or resolved")
    since: int = Field(description="µs since the epoch: when it entered this state")
    active_since: int | None
    last_match: int | None
    last_notified: int | None
    value: float | int | None


class AlertRule(BaseModel):
    id: str
    name: str
    kind: RuleKind
    enabled: bool
    severity: Severity
    destinations: list[str]
    message: str
    labels: dict[str, str]
    repeat_interval_s: int
    group_by: list[str]
    stream: str | None = None
    where: str | None = None
    resolve_after_s: int | None = None
    query: str | None = None
    interval_s: int | None = None
    window_s: int | None = None
    condition: AlertCondition | None = None
    value_column: str | None = None
    for_s: int | None = None
    next_run_at: str | None = None
    created_at: str
    updated_at: str
    created_by: str
    last_evaluated_at: str | None
    last_error: str | None


class AlertRuleDetail(AlertRule):
    alerts: list[AlertState] = Field(description="the rule's alerts (one per group), as last evaluated")


class AlertRuleList(BaseModel):
    items: list[AlertRule]


class AlertStateList(BaseModel):
    items: list[AlertState]


# --- silences --------------------------------------------------------------------------------
class AlertMatcher(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="a label: rule, rule_id, severity, a group column ...")
    value: str = Field(max_length=256)
    op: str = Field(default="=", pattern=r"^(=|!=|=~|!~)$", description="=, !=, =~ (regex), !~")


class AlertSilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[AlertMatcher] = Field(min_length=1, max_length=20)
    starts_at: int | None = Field(default=None, ge=0, le=MAX_US, description="µs since the epoch; default now")
    ends_at: int = Field(ge=0, le=MAX_US, description="µs since the epoch")
    comment: str = Field(default="", max_length=1000)


class AlertSilence(BaseModel):
    id: str
    matchers: list[AlertMatcher]
    starts_at: int
    ends_at: int
    comment: str
    created_by: str
    created_at: str
    state: str = Field(description="pending, active or expired")


class AlertSilenceList(BaseModel):
    items: list[AlertSilence]


# --- history and dead deliveries -------------------------------------------------------------
class AlertHistoryEntry(BaseModel):
    id: str
    time: str
    ts_us: int
    type: str = Field(description="transition, silenced, delivery, dead_letter or redrive")
    rule_id: str
    rule_name: str
    fingerprint: str | None
    labels: dict[str, str] | None
    from_state: str | None
    to_state: str | None
    value: float | int | None
    reason: str | None
    notification_id: str | None
    notification_status: str | None
    destination_id: str | None
    destination_type: str | None
    attempt: int | None
    outcome: str | None = Field(description="delivered, failed, dropped or dead_letter (deliveries)")
    status_code: int | None
    detail: str | None
    silence_id: str | None


class AlertHistoryPage(BaseModel):
    items: list[AlertHistoryEntry]
    has_more: bool
    next_cursor: str | None


class AlertDeadDelivery(BaseModel):
    id: str
    time: str
    ts_us: int
    notification_id: str
    status: str
    rule_id: str
    rule_name: str
    destination_id: str
    attempts: int
    reason: str


class AlertDeadDeliveryPage(BaseModel):
    items: list[AlertDeadDelivery]
    has_more: bool
    next_cursor: str | None
    queue_depth: int | None = Field(description="root only: every org's messages in the delivery DLQ")


class AlertRedriveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = Field(default=None, max_length=1000, description="only these dead deliveries")
    all_orgs: bool = Field(default=False, description="root only: every org's dead deliveries")


class AlertRedriveAnswer(BaseModel):
    moved: int
