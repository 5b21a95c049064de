"""The Athena engine, for scans that outgrow one function.

The tenant's query, already checked by ``molesignal.query.guard``, is confined exactly as
for DuckDB: every stream reference becomes a scan of the files the manifest lists, here

    SELECT <stream columns> FROM "<db>"."<table>"
    WHERE "$path" IN (<the manifest's s3 URIs>) AND org_id = '<org>'
      AND _timestamp >= <start> AND _timestamp < <end>
      AND "__ms_date" IN (<dates of those files>) AND "__ms_hour" IN (<their hours>)

``"$path"`` makes Athena read exactly the manifest's files, never a bare prefix: files that
compaction replaced but has not deleted yet, and files of a write that never committed,
sit under the same prefixes and would otherwise be read twice or read at all. The
partition predicates only prune (docs/adr/0005-athena-partition-projection.md). The whole
tree is then adapted where DuckDB and Trino differ and transpiled by sqlglot to Athena's
Trino dialect, submitted through boto3, polled until it finishes or the time budget is
spent (then stopped), and its results paged and converted by the column types Athena
reports.

Limits: Athena refuses query strings over 262,144 bytes, which bounds the files one query
may name (roughly two thousand; compaction keeps the count down) — past it the query is
refused with QUERY_LIMIT_EXCEEDED. DuckDB-only functions without a Trino counterpart
reach Athena unchanged and fail there; Athena's reason comes back as INVALID_SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from molesignal import aws
from molesignal.lake import glue
from molesignal.query.duck import Column, EngineResult
from molesignal.query.errors import InvalidSql, QueryLimitExceeded, QueryTimeout
from molesignal.query.guard import Analysis, ScanRenderer, StreamScan, confine, empty_relation, tenant_predicate
from molesignal.settings import get_settings

MAX_QUERY_BYTES = 262_144  # Athena's limit on QueryString
PAGE_SIZE = 1000  # GetQueryResults' maximum
RESULTS_PREFIX = "athena-results/"
PATH_COLUMN = "$path"
# How far ahead of today a file's date may be and still lie inside the projection range
# (NOW+1YEARS, evaluated by Athena when the query runs); a day of margin for clocks.
PROJECTION_AHEAD_DAYS = 364

_PARTITION = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/[^/]+$")
_DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


def _athena() -> Any:
    return aws.client("athena")


def output_location() -> str:
    settings = get_settings()
    return settings.athena_output or f"s3://{settings.resource_name('exports')}/{RESULTS_PREFIX}"


# --- SQL ---------------------------------------------------------------------------------
def partitions_of(uris: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The distinct dates and hours of lake files, from their keys (layout.partition_prefix)."""
    dates: set[str] = set()
    hours: set[str] = set()
    latest = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=PROJECTION_AHEAD_DAYS)
    for uri in uris:
        if not uri.startswith("s3://"):
            raise RuntimeError(f"the Athena engine reads the lake from S3 only, not {uri.split('/', 1)[0]!r}")
        found = _PARTITION.search(uri)
        if found is None:
            raise RuntimeError(f"not a lake file key: {uri}")
        day = dt.date.fromisoformat(found.group(1))
        if found.group(1) < glue.PROJECTION_DATE_FIRST or day > latest:
            raise QueryLimitExceeded(
                f"QUERY_LIMIT_EXCEEDED: the stream has files dated {found.group(1)}, outside the Athena engine's "
                f"partition range ({glue.PROJECTION_DATE_FIRST} to a year from today); narrow the time range"
            )
        dates.add(found.group(1))
        hours.add(found.group(2))
    return sorted(dates), sorted(hours)


def _in(column: str, values: list[str]) -> exp.Expr:
    return exp.In(
        this=exp.column(exp.to_identifier(column, quoted=True)),
        expressions=[exp.Literal.string(v) for v in values],
    )


def athena_renderer(
    org_id: str,
    start_us: int | None,
    end_us: int | None,
    *,
    database: str,
    table_for: Callable[[StreamScan], str],
) -> ScanRenderer:
    """Renders a stream scan as a read of the Glue table restricted to the manifest's files."""
    tenant = tenant_predicate(org_id, start_us, end_us)

    def render(scan: StreamScan) -> exp.Expr:
        if not scan.uris:
            return empty_relation(scan)
        dates, hours = partitions_of(scan.uris)
        columns = [
            exp.column(exp.to_identifier(name, quoted=True)) for name, _ in glue.data_columns(scan.visible_columns)
        ]
        source = exp.table_(
            exp.to_identifier(table_for(scan), quoted=True), db=exp.to_identifier(database, quoted=True)
        )
        where = exp.and_(
            _in(PATH_COLUMN, list(scan.uris)),
            tenant.copy(),
            _in(glue.PARTITION_DATE, dates),
            _in(glue.PARTITION_HOUR, hours),
        )
        return exp.select(*columns).from_(source).where(where)

    return render


def _interval_seconds(interval: exp.Expr) -> int | None:
    """Seconds in a literal fixed-length interval (``INTERVAL '15' MINUTE``), else None."""
    if not isinstance(interval, exp.Interval) or not isinstance(interval.this, exp.Literal):
        return None
    unit = str(interval.unit.name if interval.unit else "").upper().rstrip("S")
    seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}.get(unit)
    try:
        count = int(str(interval.this.this).strip())
    except ValueError:
        return None
    return seconds * count if seconds and count > 0 else None


_EXTRACT_UNITS = {"year", "quarter", "month", "week", "day", "hour", "minute", "second", "doy"}


def _unix_scaled(value: exp.Expr, factor: int) -> exp.Expr:
    unix = exp.Anonymous(this="TO_UNIXTIME", expressions=[value])
    scaled = exp.Round(this=exp.Mul(this=unix, expression=exp.Literal.number(factor)))
    return exp.cast(scaled, exp.DataType.build("BIGINT"))


def _adapt(node: exp.Expr) -> exp.Expr:
    """One node, rewritten where DuckDB and Trino differ and sqlglot keeps the DuckDB form."""
    if isinstance(node, exp.Star) and any(node.args.get(k) for k in ("except_", "except", "replace", "rename")):
        raise InvalidSql(
            "INVALID_SQL: SELECT * EXCLUDE/REPLACE is not supported by the Athena engine; list the columns"
        )
    if isinstance(node, exp.PercentileCont | exp.PercentileDisc | exp.Quantile) and not isinstance(
        node.parent, exp.WithinGroup
    ):
        # Trino has no exact percentile aggregate; Athena answers with its approximation.
        return exp.ApproxQuantile(this=node.this, quantile=node.expression)
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        # DuckDB's any_value skips NULLs; Trino's arbitrary does too, and takes no IGNORE NULLS.
        return node.this
    if isinstance(node, exp.Median):
        return exp.ApproxQuantile(this=node.this, quantile=exp.Literal.number(0.5))
    if isinstance(node, exp.GroupConcat):
        separator = node.args.get("separator") or exp.Literal.string(",")
        return exp.ArrayToString(this=exp.ArrayAgg(this=node.this), expression=separator)
    if isinstance(node, exp.RegexpFullMatch):
        anchored = exp.DPipe(
            this=exp.DPipe(this=exp.Literal.string("^(?:"), expression=node.expression),
            expression=exp.Literal.string(")$"),
        )
        return exp.RegexpLike(this=node.this, expression=anchored)
    if isinstance(node, exp.DateBin):
        seconds = _interval_seconds(node.this)
        if seconds is not None and 86400 % seconds == 0:
            # Buckets that divide a day start at the same instants from DuckDB's origin and the epoch.
            unix = exp.Anonymous(this="TO_UNIXTIME", expressions=[node.expression])
            width = exp.Literal.number(seconds)
            floored = exp.Mul(this=exp.Floor(this=exp.Div(this=unix, expression=width)), expression=width)
            return exp.Anonymous(this="FROM_UNIXTIME", expressions=[floored])
        return node
    if isinstance(node, exp.Anonymous):
        return _adapt_anonymous(node)
    return node


def _adapt_anonymous(node: exp.Anonymous) -> exp.Expr:
    """DuckDB built-ins sqlglot does not type, spelled as Trino spells them."""
    name = str(node.name).lower()
    args = node.expressions
    if name == "epoch_us" and len(args) == 1:
        return _unix_scaled(args[0], 1_000_000)
    if name == "epoch_ns" and len(args) == 1:
        return exp.Mul(this=_unix_scaled(args[0], 1_000_000), expression=exp.Literal.number(1000))
    if name in ("strlen", "len") and len(args) == 1:
        return exp.Length(this=args[0])
    if name == "printf":
        return exp.Anonymous(this="FORMAT", expressions=args)
    if name in ("regexp_split_to_array", "string_split_regex") and len(args) == 2:
        return exp.Anonymous(this="REGEXP_SPLIT", expressions=args)
    if name in ("date_part", "datepart") and len(args) == 2 and isinstance(args[0], exp.Literal):
        unit = str(args[0].this).lower()
        if unit == "epoch":
            return exp.Anonymous(this="TO_UNIXTIME", expressions=[args[1]])
        if unit in _EXTRACT_UNITS:
            return exp.Extract(this=exp.var("DAY_OF_YEAR" if unit == "doy" else unit.upper()), expression=args[1])
    return node


def for_trino(tree: exp.Expr) -> exp.Expr:
    return tree.transform(_adapt)


def to_athena_sql(tree: exp.Expr) -> str:
    """The confined tree as Athena (Trino) SQL: every identifier quoted, size checked."""
    try:
        sql = str(for_trino(tree).sql(dialect="athena", identify=True, unsupported_level=ErrorLevel.RAISE))
    except UnsupportedError as exc:
        raise InvalidSql(f"INVALID_SQL: not supported by the Athena engine: {exc}") from exc
    size = len(sql.encode())
    if size > MAX_QUERY_BYTES:
        raise QueryLimitExceeded(
            f"QUERY_LIMIT_EXCEEDED: the Athena query would be {size} bytes (the limit is {MAX_QUERY_BYTES}): "
            "the time range covers too many lake files; narrow it"
        )
    return sql


def athena_sql(
    analysis: Analysis,
    *,
    org_id: str,
    known_streams: set[str],
    scans: Mapping[str, StreamScan],
    start_us: int | None,
    end_us: int | None,
    database: str,
    table_for: Callable[[StreamScan], str],
) -> str:
    """Confine ``analysis`` for Athena and transpile it (mutates ``analysis.tree``, as ``confine`` does)."""
    render = athena_renderer(org_id, start_us, end_us, database=database, table_for=table_for)
    confine(analysis, known_streams=known_streams, scans=scans, render=render)
    return to_athena_sql(analysis.tree)


# --- results -----------------------------------------------------------------------------
_ENGINE_TYPES = {
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "real": "FLOAT",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "time": "TIME",
    "varbinary": "BLOB",
    "interval day to second": "INTERVAL",
    "interval year to month": "INTERVAL",
}
_INTEGERS = frozenset({"bigint", "integer", "int", "smallint", "tinyint"})
_FLOATS = frozenset({"double", "real", "float", "decimal"})


def _base_type(info: Mapping[str, Any]) -> str:
    return str(info.get("Type", "varchar")).lower().split("(", 1)[0].strip()


def engine_type(info: Mapping[str, Any]) -> str:
    """DuckDB's name for an Athena column type, so spec-004 ``data_type`` names match."""
    base = _base_type(info)
    if base == "decimal":
        return f"DECIMAL({int(info.get('Precision', 38))},{int(info.get('Scale', 0))})"
    return _ENGINE_TYPES.get(base, base.upper())


def _timestamp(text: str) -> Any:
    zoned = text.endswith(" UTC")
    body = text[:-4] if zoned else text
    date_part, _, rest = body.partition(" ")
    clock, _, fraction = rest.partition(".")
    try:
        moment = dt.datetime.fromisoformat(f"{date_part}T{clock}.{(fraction + '000000')[:6]}")
    except ValueError:
        return text  # a zone other than UTC, or a shape we do not know: keep Athena's text
    return moment.replace(tzinfo=dt.UTC) if zoned else moment


def convert(value: Mapping[str, Any], info: Mapping[str, Any]) -> Any:
    """One ``{"VarCharValue": text}`` cell as a Python value, by the column's Athena type."""
    if "VarCharValue" not in value:
        return None
    text = str(value["VarCharValue"])
    base = _base_type(info)
    try:
        if base in _INTEGERS:
            return int(text)
        if base in _FLOATS:
            return float(text)
        if base == "boolean":
            return text.lower() == "true"
        if base.startswith("timestamp"):
            return _timestamp(text)
        if base == "date":
            return dt.date.fromisoformat(text)
    except ValueError:
        return text
    return text


# --- execution ---------------------------------------------------------------------------
@dataclass
class AthenaEngine:
    """Runs confined queries on Athena. ``client``/``sleep``/``clock`` are for tests."""

    client: Any = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    first_poll_s: float = 0.1
    max_poll_s: float = 1.0

    def _client(self) -> Any:
        if self.client is None:
            self.client = _athena()
        return self.client

    def execute(
        self,
        analysis: Analysis,
        *,
        org_id: str,
        known_streams: set[str],
        scans: Mapping[str, StreamScan],
        start_us: int | None,
        end_us: int | None,
        max_rows: int,
        timeout_s: float,
    ) -> EngineResult:
        deadline = self.clock() + timeout_s
        settings = get_settings()
        tables: list[str] = []

        def table_for(scan: StreamScan) -> str:
            name = glue.ensure_stream_table(org_id, scan.stream, scan.columns)
            tables.append(name)
            return name

        sql = athena_sql(
            analysis,
            org_id=org_id,
            known_streams=known_streams,
            scans=scans,
            start_us=start_us,
            end_us=end_us,
            database=settings.athena_database,
            table_for=table_for,
        )
        query_id = self.start(sql)
        try:
            self.wait(query_id, deadline=deadline, timeout_s=timeout_s)
        except InvalidSql:
            # The table may have changed under this warm function (narrowed by a stale writer,
            # dropped by hand): check it against the schema again on the next query.
            for name in tables:
                glue.forget(name)
            raise
        return self.results(query_id, max_rows=max_rows, deadline=deadline, timeout_s=timeout_s)

    def start(self, sql: str) -> str:
        settings = get_settings()
        athena = self._client()
        try:
            started = athena.start_query_execution(
                QueryString=sql,
                QueryExecutionContext={"Database": settings.athena_database},
                WorkGroup=settings.athena_workgroup,
                ResultConfiguration={"OutputLocation": output_location()},
            )
        except athena.exceptions.InvalidRequestException as exc:
            message = exc.response.get("Error", {}).get("Message", str(exc))
            raise InvalidSql(f"INVALID_SQL: Athena refused the query: {message}") from exc
        return str(started["QueryExecutionId"])

    def wait(self, query_id: str, *, deadline: float, timeout_s: float) -> None:
        athena = self._client()
        delay = self.first_poll_s
        while True:
            execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "")
            if state == "SUCCEEDED":
                return
            if state == "FAILED":
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage")
                raise InvalidSql(f"INVALID_SQL: {reason or 'the Athena query failed'}")
            if state == "CANCELLED":
                raise InvalidSql("INVALID_SQL: the Athena query was cancelled")
            remaining = deadline - self.clock()
            if remaining <= 0:
                self._stop(query_id)
                raise QueryTimeout(f"QUERY_TIMEOUT: the query ran longer than {timeout_s:g} s")
            self.sleep(min(delay, remaining))
            delay = min(delay * 1.5, self.max_poll_s)

    def _stop(self, query_id: str) -> None:
        # Best effort: the timeout is what the caller hears about.
        with contextlib.suppress(Exception):
            self._client().stop_query_execution(QueryExecutionId=query_id)

    def pages(self, query_id: str) -> Iterator[dict[str, Any]]:
        athena = self._client()
        kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": PAGE_SIZE}
        while True:
            page = athena.get_query_results(**kwargs)
            yield page
            token = page.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token

    def results(self, query_id: str, *, max_rows: int, deadline: float, timeout_s: float) -> EngineResult:
        infos: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        first = True
        for page in self.pages(query_id):
            result_set = page.get("ResultSet", {})
            if first:
                infos = list(result_set.get("ResultSetMetadata", {}).get("ColumnInfo", []))
            raw = list(result_set.get("Rows", []))
            if first and raw:
                raw = raw[1:]  # the first row of a SELECT's first page is its header
            first = False
            for row in raw:
                cells = row.get("Data", [])
                rows.append(tuple(convert(cell, info) for cell, info in zip(cells, infos, strict=False)))
                if len(rows) > max_rows:
                    raise QueryLimitExceeded(
                        f"QUERY_LIMIT_EXCEEDED: the result has more than {max_rows} rows; add a LIMIT or aggregate"
                    )
            if self.clock() > deadline:
                raise QueryTimeout(f"QUERY_TIMEOUT: the query ran longer than {timeout_s:g} s")
        columns = [Column(str(info.get("Label") or info.get("Name", "")), engine_type(info)) for info in infos]
        return EngineResult(columns, rows)
