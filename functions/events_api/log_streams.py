"""Log stream routes (spec 001 fan-out): the org's destinations for its audit events, a test
delivery, and the deliveries that gave up (listed, and moved back for another try). Admins only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from events_api.listing import page_of
from molesignal.auth.principal import Principal, Role
from molesignal.events import cursor as cursors
from molesignal.events.reading import MAX_PAGE
from molesignal.logstreams import deadletters
from molesignal.logstreams.model import LogStreamType
from molesignal.logstreams.probe import queue_test, send_test
from molesignal.logstreams.store import LogStreams
from molesignal.storage.table import Table
from molesignal.web.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1/events/log-streams", tags=["events: log streams"])
Kind = Literal["webhook", "s3", "datadog", "splunk"]
Secret = Annotated[str | None, Field(default=None, min_length=16, max_length=512, description="sealed; never returned")]
Url = Annotated[str | None, Field(default=None, max_length=2048)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class WebhookConfig(_Config):
    url: Url = None
    secret: Secret = None


class S3Config(_Config):
    bucket: Annotated[str | None, Field(default=None, max_length=63)] = None
    prefix: Annotated[str | None, Field(default=None, max_length=256)] = None
    region: Annotated[str | None, Field(default=None, max_length=32)] = None
    expected_bucket_owner: Annotated[str | None, Field(default=None, max_length=12)] = None


class DatadogConfig(_Config):
    url: Url = Field(
        default=None, description="the logs intake, default https://http-intake.logs.datadoghq.com/api/v2/logs"
    )
    api_key: Secret = None
    service: Annotated[str | None, Field(default=None, max_length=200)] = None
    source: Annotated[str | None, Field(default=None, max_length=200)] = None
    tags: Annotated[list[str] | None, Field(default=None, max_length=50)] = None


class SplunkConfig(_Config):
    url: Url = Field(
        default=None, description="the HEC base URL; /services/collector/event is added when no path is given"
    )
    token: Secret = None
    index: Annotated[str | None, Field(default=None, max_length=200)] = None
    source: Annotated[str | None, Field(default=None, max_length=200)] = None
    sourcetype: Annotated[str | None, Field(default=None, max_length=200)] = None


class _Configs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook: WebhookConfig | None = None
    s3: S3Config | None = None
    datadog: DatadogConfig | None = None
    splunk: SplunkConfig | None = None

    def configs(self) -> dict[str, dict[str, Any]]:
        return {
            kind: config.given()
            for kind in ("webhook", "s3", "datadog", "splunk")
            if (config := getattr(self, kind)) is not None
        }


class LogStreamCreate(_Configs):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    type: Kind
    enabled: bool = True

    @model_validator(mode="after")
    def _one_config(self) -> LogStreamCreate:
        given = self.configs()
        if set(given) - {self.type}:
            raise ValueError(f"a {self.type} log stream takes only its {self.type!r} object")
        if self.type not in given:
            raise ValueError(f"give the {self.type!r} object: the {self.type} log stream's settings")
        return self


class LogStreamPatch(_Configs):
    name: Annotated[str | None, Field(default=None, min_length=1, max_length=128)] = None
    enabled: bool | None = None


def _admin(principal: Principal) -> Principal:
    principal.require(Role.ADMIN)
    return principal


@router.get("", summary="The org's log streams (admin), in the family's list shape")
def list_log_streams(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    _admin(principal)
    streams = LogStreams().all(principal.org_id)  # at most MAX_LOG_STREAMS: one read
    body = page_of(
        streams,
        org_id=principal.org_id,
        listing={"list": "log_streams"},
        cursor=cursor,
        limit=limit,
        id_of=lambda s: s.id,
        created_us_of=lambda s: s.created_at_us,
        public=lambda s: s.public(),
    )
    return JSONResponse(body)


@router.post("", status_code=201, summary="Add a log stream: webhook, s3, datadog or splunk (admin)")
def create_log_stream(body: LogStreamCreate, principal: CurrentPrincipal) -> JSONResponse:
    _admin(principal)
    kind = LogStreamType(body.type)
    stream = LogStreams().create(
        principal, name=body.name, kind=kind, enabled=body.enabled, config=body.configs()[body.type]
    )
    return JSONResponse(stream.public(), status_code=201)


@router.get("/{log_stream_id}", summary="One log stream, with its last delivery's outcome (admin)")
def get_log_stream(log_stream_id: str, principal: CurrentPrincipal) -> JSONResponse:
    _admin(principal)
    stream = LogStreams().get(principal.org_id, log_stream_id)
    body = stream.public()
    body["delivery"]["dead_letters"] = deadletters.count(Table(), principal.org_id, stream.id)
    return JSONResponse(body)


@router.patch("/{log_stream_id}", summary="Rename, enable or disable, or change settings and secrets (admin)")
def update_log_stream(log_stream_id: str, body: LogStreamPatch, principal: CurrentPrincipal) -> JSONResponse:
    _admin(principal)
    streams = LogStreams()
    current = streams.get(principal.org_id, log_stream_id)
    configs = body.configs()
    other = set(configs) - {current.type.value}
    if other:
        from molesignal.errors import Unprocessable

        raise Unprocessable(
            f"invalid argument: log stream {current.id} is a {current.type.value} stream; its type cannot change"
        )
    stream = streams.update(
        principal.org_id,
        log_stream_id,
        name=body.name,
        enabled=body.enabled,
        config=configs.get(current.type.value),
    )
    return JSONResponse(stream.public())


@router.delete("/{log_stream_id}", status_code=204, summary="Remove a log stream (admin)")
def delete_log_stream(log_stream_id: str, principal: CurrentPrincipal) -> Response:
    _admin(principal)
    LogStreams().delete(principal.org_id, log_stream_id)
    return Response(status_code=204)


@router.post(
    "/{log_stream_id}/test",
    summary="Send one test delivery now and answer the receiver's reply; an S3 one is queued (202) (admin)",
)
def test_log_stream(log_stream_id: str, principal: CurrentPrincipal) -> JSONResponse:
    _admin(principal)
    stream = LogStreams().get(principal.org_id, log_stream_id)
    if stream.type is LogStreamType.S3:
        return JSONResponse({"queued": True, "delivery_id": queue_test(stream, actor=principal.actor)}, status_code=202)
    return JSONResponse(send_test(stream, actor=principal.actor).to_dict())


@router.get("/{log_stream_id}/dead-letters", summary="Deliveries that gave up, oldest first (admin)")
def list_dead_letters(
    log_stream_id: str,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    _admin(principal)
    stream = LogStreams().get(principal.org_id, log_stream_id)
    table = Table()
    listing = {"list": "dead_letters", "log_stream": stream.id}
    after = None
    if cursor:
        position = cursors.decode(cursor, principal.org_id, listing)
        after = deadletters.sort_key(stream.id, position.at_us)
    items, has_more = deadletters.page(table, principal.org_id, stream.id, limit=limit, after=after)
    body: dict[str, Any] = {
        "data": [deadletters.public(i) for i in items],
        "has_more": has_more,
        "total": deadletters.count(table, principal.org_id, stream.id),
    }
    if has_more:
        last = int(items[-1]["first_seq"])
        body["next_cursor"] = cursors.encode(cursors.Position(last, str(last)), principal.org_id, listing)
    return JSONResponse(body)


@router.post("/{log_stream_id}/dead-letters/redrive", summary="Move the log stream's dead letters back for another try")
def redrive_dead_letters(
    log_stream_id: str, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> JSONResponse:
    _admin(principal)
    stream = LogStreams().get(principal.org_id, log_stream_id)
    return JSONResponse({"moved": deadletters.redrive(Table(), principal.org_id, stream.id, limit=limit)})
