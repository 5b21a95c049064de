"""Export routes (spec 001): create, show, list, and download through a 302."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from events_api.timeparams import epoch_us
from molesignal.errors import Unprocessable
from molesignal.events.model import MAX_ID_LENGTH
from molesignal.events.reading import MAX_PAGE, EventFilter
from molesignal.exports.jobs import EXPORT_ROLES, Exports, ExportSpec, check_retention, public
from molesignal.settings import get_settings
from molesignal.web.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])


class EventsSelection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: datetime | None = Field(default=None, alias="from", description="occurred_at at or after")
    to: datetime | None = None
    actions: Annotated[list[str], Field(max_length=50)] = []
    actor_id: Annotated[str | None, Field(max_length=MAX_ID_LENGTH)] = None
    target_id: Annotated[str | None, Field(max_length=MAX_ID_LENGTH)] = None


class SqlSelection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, max_length=100_000)]
    from_: datetime | None = Field(default=None, alias="from", description="_timestamp at or after")
    to: datetime | None = None


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "ndjson", "parquet"] = "ndjson"
    gzip: bool = False
    events: EventsSelection | None = None
    sql: SqlSelection | None = None
    retention_hours: int | None = Field(default=None, description="how long it can be downloaded (default 24)")

    @model_validator(mode="after")
    def _one_source(self) -> ExportRequest:
        if (self.events is None) == (self.sql is None):
            raise ValueError("give exactly one of events (filters) or sql")
        if self.gzip and self.format == "parquet":
            raise ValueError("gzip: Parquet files are compressed inside; gzip applies to csv and ndjson")
        return self

    def spec(self) -> ExportSpec:
        hours = check_retention(self.retention_hours or get_settings().export_retention_hours)
        events = None
        if self.events is not None:
            selection = self.events
            events = EventFilter(
                from_us=epoch_us(selection.from_),
                to_us=epoch_us(selection.to),
                actions=tuple(selection.actions),
                actor_id=selection.actor_id,
                target_id=selection.target_id,
                order="asc",
            )
        return ExportSpec(
            format=self.format,
            gzip=self.gzip,
            events=events,
            sql=self.sql.query if self.sql else None,
            sql_from_us=epoch_us(self.sql.from_) if self.sql else None,
            sql_to_us=epoch_us(self.sql.to) if self.sql else None,
            retention_hours=hours,
        )


@router.post("", status_code=202, summary="Start an export of events (filters) or of any SQL query")
def create_export(body: ExportRequest, principal: CurrentPrincipal) -> JSONResponse:
    principal.require(*EXPORT_ROLES)
    item = Exports().create(principal, body.spec())
    return JSONResponse(public(item), status_code=202)


@router.get("", summary="The org's exports, newest first (cursor pagination)")
def list_exports(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    from molesignal.events import cursor as cursors
    from molesignal.events.ids import id_time_us

    principal.require(*EXPORT_ROLES)
    exports = Exports()
    listing = {"list": "exports"}
    before = cursors.decode(cursor, principal.org_id, listing).tiebreak if cursor else None
    items, has_more = exports.page(principal.org_id, limit=limit, before=before)
    body: dict[str, object] = {
        "data": [public(i) for i in items],
        "has_more": has_more,
        "total": exports.total(principal.org_id),
    }
    if has_more:
        last = items[-1]["export_id"]
        position = cursors.Position(id_time_us(last) or 0, last)
        body["next_cursor"] = cursors.encode(position, principal.org_id, listing)
    return JSONResponse(body)


@router.get("/{export_id}", summary="One export's status")
def get_export(export_id: str, principal: CurrentPrincipal) -> JSONResponse:
    principal.require(*EXPORT_ROLES)
    return JSONResponse(public(Exports().get(principal.org_id, export_id)))


@router.get(
    "/{export_id}/download",
    status_code=302,
    summary="302 to a presigned link (15 minutes at most); 409 until completed, 410 once expired",
    description=(
        "Answers 302 with the presigned link in `Location`. A client that asks for "
        '`Accept: application/json` (and not HTML) gets 200 `{"url"}` instead: a browser app cannot '
        "read a cross-origin redirect's target, and cannot send its bearer token on a plain link."
    ),
    responses={
        302: {"description": "Location: the presigned URL"},
        200: {"description": "`{url}` when the request accepts application/json"},
        409: {},
        410: {},
    },
)
def download_export(export_id: str, principal: CurrentPrincipal, request: Request) -> Response:
    principal.require(*EXPORT_ROLES)
    if not export_id:
        raise Unprocessable("invalid argument: export id is required")
    url = Exports().download_url(principal.org_id, export_id)
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return JSONResponse({"url": url})
    return RedirectResponse(url, status_code=302)
