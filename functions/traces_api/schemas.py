"""The HTTP contract of the trace family (spec 003)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TraceSummary(BaseModel):
    id: str
    short_id: str | None
    scenario_id: str | None
    scenario_slug: str | None
    scenario_title: str | None
    status: str | None
    source: str | None
    tier: str | None
    pinned: bool
    duration_ms: int | None
    code_sha: str | None
    pr_number: int | None
    failure_signature: str | None
    parent_trace_id: str | None
    created_at: str


class TraceListResponse(BaseModel):
    items: list[TraceSummary]
    next_cursor: str | None


class BlobOut(BaseModel):
    sha256: str
    name: str | None
    size: int | None
    content_type: str | None


class ShareState(BaseModel):
    visibility: str | None
    expires_at: str | None


class TraceDetail(TraceSummary):
    s3_prefix: str | None
    signed_urls: dict[str, str | None] = Field(
        description="presigned GETs of ndjson, video, playwright, rrweb, summary, report (null when absent or cold)"
    )
    signed_urls_expire_in: int
    replay_from_step: int | None
    total_size_bytes: int
    blob_count: int
    blobs: list[BlobOut]
    event_count: int
    step_count: int
    started_at: str | None
    first_failure: dict[str, Any] | None
    share: ShareState | None
    restore_status: str | None


class SharedTrace(TraceDetail):
    member: bool = Field(
        description="the caller belongs to the trace's org (and may open it in the console's Traces page)"
    )


class EventsResponse(BaseModel):
    events: list[dict[str, Any]]


class IngestResponse(BaseModel):
    trace_id: str
    short_id: str
    event_count: int
    status: str


class UploadResponse(BaseModel):
    upload_id: str
    method: Literal["PUT"]
    url: str
    expires_in: int
    max_bytes: int


class LiveStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: str = Field(min_length=2, max_length=40)
    scenario_slug: str = Field(min_length=1, max_length=200)
    scenario_title: str | None = Field(default=None, max_length=500)
    source: Literal["pr", "schedule", "manual", "shadow_diff"] | None = None
    commit_sha: str | None = Field(default=None, max_length=64)
    pr_number: int | None = Field(default=None, ge=1)


class LiveFinish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["passed", "failed", "error", "aborted"]
    duration_ms: int | None = Field(default=None, ge=0)
    failure_signature: str | None = Field(default=None, max_length=200)


class LiveAppended(BaseModel):
    accepted: int
    event_count: int


class PinResponse(BaseModel):
    pinned: bool


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visibility: Literal["org-only", "public-read"] = "org-only"
    expires_days: int | None = Field(default=7, ge=1, le=365, description="null: the share never expires")


class ShareResponse(BaseModel):
    short_id: str
    url: str
    visibility: str
    expires_at: str | None


class UnshareResponse(BaseModel):
    short_id: str
    shared: Literal[False]


class RestoreResponse(BaseModel):
    status: Literal["restoring", "restored", "hot"]
    eta_seconds: int


class SourceDiff(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=1000)
    diff: str = Field(max_length=200_000)


class ReplayEdits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_diff: str | None = Field(default=None, max_length=200_000)
    source_diffs: list[SourceDiff] = Field(default_factory=list, max_length=100)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_step: int = Field(default=0, ge=0)
    edits: ReplayEdits = Field(default_factory=ReplayEdits)


class ReplayStatus(BaseModel):
    id: str
    trace_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    from_step: int
    triggered_via: str
    replay_trace_id: str | None
    error: str | None
    created_at: str
    updated_at: str


class ReplayList(BaseModel):
    items: list[ReplayStatus]


class RunnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="the runner's HTTPS endpoint (http only on loopback)")


class RunnerOut(BaseModel):
    url: str
    secret: str | None = Field(description="the HMAC signing secret: shown only when the runner is (re)configured")
    updated_at: str


class DiffResponse(BaseModel):
    a: str
    b: str
    dimension: str
    first_divergence: dict[str, Any] | None
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    summary: dict[str, Any]
