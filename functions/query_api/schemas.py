"""The HTTP contract of the query group (spec 000 query, spec 004 SQL, streams)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_US = 2**63 - 1  # µs are BIGINT in the lake and the engines


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, le=MAX_US, description="µs since the epoch, inclusive")
    end: int = Field(ge=0, le=MAX_US, description="µs since the epoch, exclusive (at most 2^63 - 1)")

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start >= self.end:
            raise ValueError("time_range.start must be < end")
        return self


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000)
    time_range: TimeRange


class QueryAnswer(BaseModel):
    rows: list[dict[str, Any]]
    columns: list[str]
    scanned_rows: int
    took_ms: float
    cache_hit: bool


class SqlBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=100_000)
    params: list[Any] = Field(default_factory=list, max_length=1000)
    namespace_id: str | None = Field(default=None, max_length=128)


# The multipart form of SqlBody: every part is text, ``params`` the JSON array as a string.
SQL_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["sql"],
    "properties": {
        "sql": {"type": "string", "minLength": 1, "maxLength": 100_000},
        "params": {"type": "string", "description": 'the params as a JSON array, e.g. [500, "x"]'},
        "namespace_id": {"type": "string", "maxLength": 128},
    },
}


class SchemaField(BaseModel):
    name: str
    data_type: str
    index: int


class SqlResult(BaseModel):
    schema_: list[SchemaField] = Field(alias="schema")
    rows: list[list[Any]]
    row_count: int
    as_user: str

    model_config = ConfigDict(populate_by_name=True)


class SqlAnswer(BaseModel):
    status: str
    results: list[SqlResult]
    took: float


class StreamField(BaseModel):
    name: str
    type: str


class StreamStats(BaseModel):
    rows: int
    bytes: int
    files: int
    first_timestamp: int | None
    last_timestamp: int | None


class StreamSettings(BaseModel):
    retention_days: int
    field_cap: int


class StreamOut(BaseModel):
    name: str
    schema_: list[StreamField] = Field(alias="schema")
    stats: StreamStats
    settings: StreamSettings
    created_at: str | None

    model_config = ConfigDict(populate_by_name=True)


class StreamList(BaseModel):
    streams: list[StreamOut]


class StreamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(default=None, ge=1, le=36500)
    field_cap: int | None = Field(default=None, ge=10, le=10_000)


class StreamDeleted(BaseModel):
    name: str
    deleted_files: int
