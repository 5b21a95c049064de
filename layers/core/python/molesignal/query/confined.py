"""A confined DuckDB connection, as the engine process opens one for each query.

Each query gets a fresh in-memory database. S3 is read through the httpfs extension shipped
in the ``duckdb-ext-httpfs`` package (no downloads at run time). Before the tenant's SQL
runs, ``allowed_paths`` is set to exactly the plan's files, external access is switched off
and the configuration is locked, so even SQL that slipped past the guard could read nothing
else, write nothing and change no setting. The engine also parses the SQL itself and runs it
only if it is exactly one SELECT statement (``ATTACH ':memory:'``, for one, needs no
external access).

Everything a connection needs arrives in a ``ConnectionSpec`` built by the calling process:
this module reads no settings and no environment, and only the engine process loads DuckDB.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from molesignal.query.errors import InvalidSql, PermissionDenied

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class ConnectionSpec:
    extension_directory: str
    memory_limit: str
    threads: int
    uris: tuple[str, ...]
    s3_secret_sql: str | None = None  # CREATE SECRET for the lake, when a URI is on S3

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ConnectionSpec:
        return cls(**{**data, "uris": tuple(data["uris"])})


def _quoted_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def open_confined(spec: ConnectionSpec) -> duckdb.DuckDBPyConnection:
    import duckdb  # here: the calling process builds specs and never loads DuckDB

    connection = duckdb.connect(
        config={
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
            "extension_directory": spec.extension_directory,
            "memory_limit": spec.memory_limit,
            "threads": str(spec.threads),
            # Never resolve an unknown table name to a Python variable of the calling code.
            "python_enable_replacements": "false",
        }
    )
    if spec.s3_secret_sql and any(u.startswith("s3://") for u in spec.uris):
        connection.execute("LOAD httpfs")
        connection.execute(spec.s3_secret_sql)
    connection.execute("SET enable_progress_bar = false")  # it would print to this process's stdout
    connection.execute(f"SET allowed_paths = {_quoted_list(spec.uris)}")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def single_select(connection: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The engine's own parse of the SQL: it runs exactly one SELECT statement, nothing else.

    The one exception is DuckDB's own expansion of a PIVOT over values read from the data: its
    parser puts a generated ``CREATE TYPE ... AS ENUM`` first. Those carry no source text, unlike
    any statement the caller could have written, and only they may precede the SELECT.
    """
    import duckdb

    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidSql(f"INVALID_SQL: {short_error(exc)}") from exc
    generated = all(s.type.name == "CREATE" and not s.query.strip() for s in statements[:-1])
    if not statements or statements[-1].type.name != "SELECT" or not generated:
        got = ", ".join(s.type.name for s in statements) or "nothing"
        raise PermissionDenied(f"PERMISSION_DENIED: the engine runs exactly one SELECT statement (got {got})")
    return sql


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # Engine messages may quote file URIs; they are this org's own files, but keep them out.
    return text.split(" - file system operations")[0][:500]
