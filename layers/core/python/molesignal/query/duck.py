"""The embedded engine: DuckDB, confined to the files a plan names.

Each query gets a fresh in-memory connection. S3 is read through the httpfs extension
shipped in the ``duckdb-ext-httpfs`` package (no downloads at run time). Before the
tenant's SQL runs, ``allowed_paths`` is set to exactly the plan's files, external access
is switched off and the configuration is locked, so even SQL that slipped past the guard
could read nothing else, write nothing and change no setting. The engine also parses the SQL
itself and runs it only if it is exactly one SELECT statement (``ATTACH ':memory:'``, for one,
needs no external access).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import duckdb

from molesignal.query.errors import InvalidSql, PermissionDenied, QueryLimitExceeded, QueryTimeout
from molesignal.settings import get_settings

_TYPE_NAMES = {
    "BIGINT": "BigInt",
    "INTEGER": "Int",
    "SMALLINT": "SmallInt",
    "TINYINT": "TinyInt",
    "HUGEINT": "HugeInt",
    "UBIGINT": "BigInt",
    "DOUBLE": "Double",
    "FLOAT": "Float",
    "VARCHAR": "Text",
    "BOOLEAN": "Boolean",
    "TIMESTAMP": "Timestamp",
    "TIMESTAMP WITH TIME ZONE": "Timestamp",
    "DATE": "Date",
    "TIME": "Time",
    "INTERVAL": "Interval",
    "BLOB": "Bytes",
}


@dataclass(frozen=True)
class Column:
    name: str
    engine_type: str

    @property
    def data_type(self) -> str:
        """The spec-004 name of the type (``BigInt``, ``Text`` ...)."""
        base = self.engine_type.upper()
        if base.startswith("DECIMAL"):
            return "Decimal"
        return _TYPE_NAMES.get(base, self.engine_type)


@dataclass(frozen=True)
class EngineResult:
    columns: list[Column]
    rows: list[tuple[Any, ...]]


def _extension_directory() -> str:
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the duckdb-ext-httpfs package is not installed")
    return os.path.join(next(iter(spec.submodule_search_locations)), "extensions")


def _s3_secret_sql() -> str:
    import boto3

    settings = get_settings()
    credentials = boto3.session.Session().get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials else None
    parts = ["TYPE s3", "PROVIDER config", f"REGION '{settings.aws_region}'"]
    if frozen is not None:
        parts += [f"KEY_ID '{frozen.access_key}'", f"SECRET '{frozen.secret_key}'"]
        if frozen.token:
            parts.append(f"SESSION_TOKEN '{frozen.token}'")
    if settings.aws_endpoint_url:
        endpoint = urlparse(settings.aws_endpoint_url)
        parts += [
            f"ENDPOINT '{endpoint.netloc}'",
            "URL_STYLE 'path'",
            f"USE_SSL {str(endpoint.scheme == 'https').lower()}",
        ]
    return f"CREATE OR REPLACE SECRET molesignal_lake ({', '.join(parts)})"


def _quoted_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


class DuckEngine:
    def connect(self, uris: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
        settings = get_settings()
        connection = duckdb.connect(
            config={
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "false",
                "extension_directory": _extension_directory(),
                "memory_limit": settings.query_memory_limit,
                "threads": str(settings.query_threads),
                # Never resolve an unknown table name to a Python variable of the calling code.
                "python_enable_replacements": "false",
            }
        )
        if any(u.startswith("s3://") for u in uris):
            connection.execute("LOAD httpfs")
            connection.execute(_s3_secret_sql())
        connection.execute(f"SET allowed_paths = {_quoted_list(uris)}")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        return connection

    def execute(self, sql: str, uris: tuple[str, ...], *, max_rows: int, timeout_s: float) -> EngineResult:
        connection = self.connect(uris)
        timer = threading.Timer(timeout_s, connection.interrupt)
        timer.start()
        try:
            cursor = connection.execute(_single_select(connection, sql))
            rows = cursor.fetchmany(max_rows + 1)
            columns = [Column(d[0], str(d[1])) for d in cursor.description or []]
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"QUERY_TIMEOUT: the query ran longer than {timeout_s:g} s") from exc
        except duckdb.PermissionException as exc:
            # Only reachable if SQL got past the guard: the engine's own confinement held.
            raise InvalidSql(f"INVALID_SQL: {exc}") from exc
        except duckdb.Error as exc:
            raise InvalidSql(f"INVALID_SQL: {_short(exc)}") from exc
        finally:
            timer.cancel()
            connection.close()
        if len(rows) > max_rows:
            raise QueryLimitExceeded(
                f"QUERY_LIMIT_EXCEEDED: the result has more than {max_rows} rows; add a LIMIT or aggregate"
            )
        return EngineResult(columns, rows)

    def stream(self, sql: str, uris: tuple[str, ...], *, timeout_s: float, batch_rows: int = 5000) -> Iterator[Any]:
        """Arrow record batches, for NDJSON streaming (no row cap: the client reads as it goes).

        The statement is prepared and started before this returns, so a query the engine refuses
        fails here, as an ordinary error, rather than after the response has begun.
        """
        connection = self.connect(uris)
        timer = threading.Timer(timeout_s, connection.interrupt)
        timer.start()
        try:
            reader = connection.execute(_single_select(connection, sql)).fetch_record_batch(batch_rows)
        except BaseException as exc:
            timer.cancel()
            connection.close()
            if isinstance(exc, duckdb.InterruptException):
                raise QueryTimeout(f"QUERY_TIMEOUT: the query ran longer than {timeout_s:g} s") from exc
            if isinstance(exc, duckdb.Error):
                raise InvalidSql(f"INVALID_SQL: {_short(exc)}") from exc
            raise
        return _batches(reader, connection, timer, timeout_s)


def _batches(
    reader: Any, connection: duckdb.DuckDBPyConnection, timer: threading.Timer, timeout_s: float
) -> Iterator[Any]:
    try:
        yield from reader
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"QUERY_TIMEOUT: the query ran longer than {timeout_s:g} s") from exc
    finally:
        timer.cancel()
        connection.close()


def _single_select(connection: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The engine's own parse of the SQL: it runs exactly one SELECT statement, nothing else.

    The one exception is DuckDB's own expansion of a PIVOT over values read from the data: its
    parser puts a generated ``CREATE TYPE ... AS ENUM`` first. Those carry no source text, unlike
    any statement the caller could have written, and only they may precede the SELECT.
    """
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidSql(f"INVALID_SQL: {_short(exc)}") from exc
    generated = all(s.type.name == "CREATE" and not s.query.strip() for s in statements[:-1])
    if not statements or statements[-1].type.name != "SELECT" or not generated:
        got = ", ".join(s.type.name for s in statements) or "nothing"
        raise PermissionDenied(f"PERMISSION_DENIED: the engine runs exactly one SELECT statement (got {got})")
    return sql


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # Engine messages may quote file URIs; they are this org's own files, but keep them out.
    return text.split(" - file system operations")[0][:500]
