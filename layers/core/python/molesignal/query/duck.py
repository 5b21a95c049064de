"""The embedded engine: DuckDB, confined to the files a plan names, in a bounded process.

Queries run in an engine process of the pool (``query/engine_pool.py``, ADR 0018) on a
fresh confined connection (``query/confined.py``); this module builds what the process needs
from the settings and turns its answers back into results. The function's own process never
imports DuckDB.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from molesignal.query.confined import ConnectionSpec
from molesignal.query.deadline import Deadline
from molesignal.query.engine_pool import POOL, EngineCall, load_rows, stream_chunks
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


def connection_spec(uris: tuple[str, ...]) -> ConnectionSpec:
    settings = get_settings()
    return ConnectionSpec(
        extension_directory=_extension_directory(),
        memory_limit=settings.query_memory_limit,
        threads=settings.query_threads,
        uris=uris,
        s3_secret_sql=_s3_secret_sql() if any(u.startswith("s3://") for u in uris) else None,
    )


def warm_engines() -> None:
    """Start the engine processes now (a cold function's init phase) rather than on its first query."""
    settings = get_settings()
    POOL.warm(size=settings.query_workers, address_space_bytes=settings.query_worker_memory_bytes)


class DuckEngine:
    def session(self, uris: tuple[str, ...], *, timeout_s: float) -> contextlib.AbstractContextManager[EngineSession]:
        """A SQL-table statement's own confined connection (``statement_session``)."""
        return statement_session(uris, timeout_s=timeout_s)

    def _call(self, deadline: Deadline, request: dict[str, Any]) -> EngineCall:
        settings = get_settings()
        call = EngineCall(deadline, size=settings.query_workers, address_space_bytes=settings.query_worker_memory_bytes)
        call.start(request)
        return call

    def execute(
        self, sql: str, uris: tuple[str, ...], *, max_rows: int, deadline: Deadline, max_bytes: int | None = None
    ) -> EngineResult:
        limit = get_settings().query_max_result_bytes if max_bytes is None else max_bytes
        request = {
            "mode": "rows",
            "sql": sql,
            "connection": connection_spec(uris).to_wire(),
            "max_rows": max_rows,
            "max_bytes": limit,
        }
        call = self._call(deadline, request)
        _, payload = call.next_frame("running the query")
        call.close()
        answer = load_rows(payload)
        return EngineResult([Column(name, kind) for name, kind in answer["columns"]], answer["rows"])

    def stream(
        self,
        sql: str,
        uris: tuple[str, ...],
        *,
        deadline: Deadline,
        max_rows: int | None = None,
        max_bytes: int | None = None,
    ) -> Iterator[bytes]:
        """The result as NDJSON chunks (one per record batch).

        The first chunk has been produced before this returns, so a query that fails before
        its first row (refused, broken, over a limit, out of time) raises here, as an
        ordinary error, rather than after the response has begun.
        """
        settings = get_settings()
        return self._chunks(
            "ndjson",
            sql,
            uris,
            deadline=deadline,
            max_rows=settings.query_max_stream_rows if max_rows is None else max_rows,
            max_bytes=settings.query_max_result_bytes if max_bytes is None else max_bytes,
        )

    def stream_batches(
        self, sql: str, uris: tuple[str, ...], *, deadline: Deadline, max_rows: int, max_bytes: int
    ) -> Iterator[Any]:
        """The result as Arrow record batches, for readers that are not an HTTP answer (exports)."""
        import pyarrow as pa

        for chunk in self._chunks("arrow", sql, uris, deadline=deadline, max_rows=max_rows, max_bytes=max_bytes):
            yield from pa.ipc.open_stream(chunk).read_all().to_batches()

    def _chunks(
        self, mode: str, sql: str, uris: tuple[str, ...], *, deadline: Deadline, max_rows: int, max_bytes: int
    ) -> Iterator[bytes]:
        request = {
            "mode": mode,
            "sql": sql,
            "connection": connection_spec(uris).to_wire(),
            "max_rows": max_rows,
            "max_bytes": max_bytes,
            "batch_rows": get_settings().query_stream_batch_rows,
        }
        call = self._call(deadline, request)
        first = call.next_frame("running the query")
        if first[0] == b"D":
            call.close()
            return iter(())
        return stream_chunks(call, first)


@contextlib.contextmanager
def statement_session(uris: tuple[str, ...], *, timeout_s: float) -> Iterator[EngineSession]:
    """One confined connection for the several queries of a SQL-table statement (an INSERT's
    source and its typed rows, a rewrite's pass over its files), all within one deadline.

    It runs in this process, not in the engine pool: the statement hands the engine Arrow
    tables of its own (``relations``), which the pool's wire does not carry yet. The
    connection is confined exactly as the pool's are (``query/confined.py``); the statement's
    rows are bounded by ``MOLESIGNAL_SQL_MAX_WRITE_ROWS`` rather than by a process's memory cap.
    """
    from molesignal.query.confined import open_confined

    connection = open_confined(connection_spec(uris))
    timer = threading.Timer(timeout_s, connection.interrupt)
    timer.start()
    try:
        yield EngineSession(connection, timeout_s)
    finally:
        timer.cancel()
        connection.close()


class EngineSession:
    def __init__(self, connection: Any, timeout_s: float) -> None:
        self._connection = connection
        self._timeout_s = timeout_s

    def arrow(self, sql: str, *, relations: Mapping[str, Any] | None = None, max_rows: int) -> Any:
        """The result as an Arrow table. ``relations``: Arrow tables the SQL reads by name; their
        names start with ``__ms_``, which tenant SQL may not write, so it can never reach them."""
        import duckdb
        import pyarrow as pa

        from molesignal.query.confined import short_error, single_select
        from molesignal.query.errors import InvalidSql, QueryLimitExceeded, QueryTimeout

        connection = self._connection
        try:
            for name, data in (relations or {}).items():
                connection.register(name, data)
            reader = connection.execute(single_select(connection, sql)).fetch_record_batch(10_000)
            batches, rows = [], 0
            for batch in reader:
                rows += batch.num_rows
                if rows > max_rows:
                    raise QueryLimitExceeded(f"QUERY_LIMIT_EXCEEDED: the statement touches more than {max_rows} rows")
                batches.append(batch)
            return pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"QUERY_TIMEOUT: the statement ran longer than {self._timeout_s:g} s") from exc
        except duckdb.Error as exc:
            raise InvalidSql(f"INVALID_SQL: {short_error(exc)}") from exc
        finally:
            for name in relations or {}:
                with contextlib.suppress(duckdb.Error):
                    connection.unregister(name)
