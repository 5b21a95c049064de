"""The engine process: runs tenant SQL in DuckDB inside a bounded address space.

Started by ``query/engine_pool.py`` as ``python -c`` (see ``BOOT``), one request at a time
over its stdin and stdout. It lowers its own ``RLIMIT_AS`` first, so whatever a query builds
(a ``repeat`` outside DuckDB's buffer manager, a huge list, a result being converted) fails
with an out-of-memory error in this process instead of growing the function's process, and a
crash takes down only this process. It reads no settings and no environment: each request
carries its connection spec and limits.

Frames, both ways: one kind byte, an 8-byte big-endian length, the payload.

    Q  request (JSON)                 parent → child
    R  rows answer (pickle)           child → parent
    N  an NDJSON chunk (bytes)        child → parent, zero or more, then D or E
    D  end of an NDJSON answer
    E  failure (JSON {code, message, retire})
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import pickle
import resource
import struct
import sys
import threading
import time
import uuid
from typing import IO, Any

from molesignal.errors import DomainError
from molesignal.query.answer_size import response_bytes
from molesignal.query.confined import ConnectionSpec, open_confined, short_error, single_select
from molesignal.query.errors import QueryLimitExceeded, QueryResultTooLarge

HEADER = struct.Struct("!cQ")
BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from molesignal.query.engine_process import main; main()"
)

# Types the rows answer may carry (the parent unpickles nothing else; see engine_pool).
PORTABLE_CLASSES = frozenset(
    {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
        ("uuid", "SafeUUID"),
        ("copyreg", "_reconstructor"),
        ("builtins", "object"),
    }
)


def write_frame(out: IO[bytes], kind: bytes, payload: bytes) -> None:
    out.write(HEADER.pack(kind, len(payload)))
    out.write(payload)
    out.flush()


def _read_exact(source: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = source.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(source: IO[bytes]) -> tuple[bytes, bytes] | None:
    header = _read_exact(source, HEADER.size)
    if header is None:
        return None
    kind, size = HEADER.unpack(header)
    payload = _read_exact(source, size)
    return None if payload is None else (kind, payload)


# Engine types whose Python values are always of the classes above (or plain str/int/...):
# their columns cross as they are; other columns go through ``portable`` value by value.
_PLAIN_TYPES = frozenset(
    [
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "UBIGINT",
        "UINTEGER",
        "USMALLINT",
        "UTINYINT",
        "HUGEINT",
        "UHUGEINT",
        "DOUBLE",
        "FLOAT",
        "VARCHAR",
        "BOOLEAN",
        "BLOB",
        "DATE",
        "TIMESTAMP",
        "TIME",
        "INTERVAL",
        "UUID",
    ]
)


def _plain_column(engine_type: str) -> bool:
    return engine_type in _PLAIN_TYPES or engine_type.startswith("DECIMAL(")


def portable_rows(rows: list[tuple[Any, ...]], engine_types: list[str]) -> list[tuple[Any, ...]]:
    loose = [i for i, kind in enumerate(engine_types) if not _plain_column(kind)]
    if not loose:
        return rows
    return [tuple(portable(v) if i in loose else v for i, v in enumerate(row)) for row in rows]


def portable(value: Any) -> Any:
    """The value with only types the parent accepts (anything else becomes its text, as in
    ``values.jsonable``); zone-aware times get a fixed offset (no pytz/zoneinfo objects)."""
    if value is None or isinstance(value, str | bool | int | float | bytes | decimal.Decimal | uuid.UUID):
        return value
    if isinstance(value, dt.datetime | dt.time):
        offset = value.utcoffset()
        return value if value.tzinfo is None else value.replace(tzinfo=dt.timezone(offset or dt.timedelta(0)))
    if isinstance(value, dt.date | dt.timedelta):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return {portable(k) if isinstance(k, str | int) else str(k): portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [portable(v) for v in value]
    return str(value)


class Failure(Exception):
    def __init__(self, code: str, message: str, *, retire: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.retire = code, message, retire


def _memory_failure(detail: str) -> Failure:
    return Failure(
        "QUERY_MEMORY_EXCEEDED",
        f"QUERY_MEMORY_EXCEEDED: the query needed more memory than one query may use ({detail[:300]})",
        retire=True,
    )


def _failure(exc: BaseException) -> Failure:
    import duckdb

    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, DomainError):
        return Failure(exc.code, exc.message)
    if isinstance(exc, MemoryError | duckdb.OutOfMemoryException):
        return _memory_failure(short_error(exc))
    text = short_error(exc)
    if "bad_alloc" in text or "bad allocation" in text:
        return _memory_failure(text)
    if isinstance(exc, duckdb.Error):
        # Only reachable for a permission error if SQL got past the guard: the confinement held.
        return Failure("INVALID_SQL", f"INVALID_SQL: {text}")
    return Failure("INTERNAL", f"{type(exc).__name__}: {text}", retire=True)


def _rows(request: dict[str, Any], out: IO[bytes]) -> None:
    max_rows, max_bytes = int(request["max_rows"]), int(request["max_bytes"])
    connection = open_confined(ConnectionSpec.from_wire(request["connection"]))
    try:
        cursor = connection.execute(single_select(connection, request["sql"]))
        rows = cursor.fetchmany(max_rows + 1)
        columns = [[d[0], str(d[1])] for d in cursor.description or []]
    finally:
        connection.close()
    if len(rows) > max_rows:
        raise QueryLimitExceeded(
            f"QUERY_LIMIT_EXCEEDED: the result has more than {max_rows} rows; add a LIMIT or aggregate"
        )
    payload = pickle.dumps({"columns": columns, "rows": portable_rows(rows, [kind for _, kind in columns])}, 5)
    if len(payload) > max_bytes:
        raise QueryResultTooLarge.over(max_bytes)
    write_frame(out, b"R", payload)


def _arrow_ipc(batch: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def _batches(request: dict[str, Any], out: IO[bytes]) -> None:
    """The result a record batch at a time: NDJSON for answers, Arrow IPC for exports."""
    from molesignal.query.ndjson import encode_batch  # pyarrow: loaded by this process only

    encode = _arrow_ipc if request["mode"] == "arrow" else encode_batch
    max_rows, max_bytes = int(request["max_rows"]), int(request["max_bytes"])
    connection = open_confined(ConnectionSpec.from_wire(request["connection"]))
    try:
        reader = connection.execute(single_select(connection, request["sql"])).fetch_record_batch(
            int(request["batch_rows"])
        )
        rows = sent = 0
        for batch in reader:
            rows += batch.num_rows
            if rows > max_rows:
                raise QueryLimitExceeded(
                    f"QUERY_LIMIT_EXCEEDED: the stream has more than {max_rows} rows; add a LIMIT or aggregate"
                )
            chunk = encode(batch)
            sent += response_bytes(chunk) if encode is encode_batch else len(chunk)
            if sent > max_bytes:
                raise QueryResultTooLarge.over(max_bytes)
            write_frame(out, b"N", chunk)
    finally:
        connection.close()
    write_frame(out, b"D", b"")


def _limit_address_space(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _keep_reservations_small() -> None:
    """Address space reserved but never used counts against RLIMIT_AS: keep it small."""
    import ctypes

    import pyarrow as pa

    # Arrow's bundled allocator reserves about 1 GB up front; the system one reserves as it goes.
    pa.set_memory_pool(pa.system_memory_pool())
    m_arena_max = -8  # glibc: otherwise each thread may reserve a 64 MB arena of its own
    ctypes.CDLL(None).mallopt(m_arena_max, 2)


def _exit_with_parent() -> None:
    """A query may be running when the function process dies: do not outlive it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    limit = int(sys.argv[2])
    # Frames go to a private copy of stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    source = os.fdopen(0, "rb", buffering=0)
    _exit_with_parent()
    _keep_reservations_small()
    import duckdb  # noqa: F401  (loaded before the limit: its libraries are mapped once)

    _limit_address_space(limit)
    while True:
        frame = read_frame(source)
        if frame is None:
            return  # the parent closed the pipe
        request = json.loads(frame[1])
        try:
            (_rows if request["mode"] == "rows" else _batches)(request, out)
        except BaseException as exc:  # every failure is answered, then judged
            failure = _failure(exc)
            body = {"code": failure.code, "message": failure.message, "retire": failure.retire}
            try:
                write_frame(out, b"E", json.dumps(body).encode())
            except MemoryError:
                os._exit(3)
            if failure.retire:
                return  # out of memory or broken: a fresh process takes the next query


if __name__ == "__main__":
    main()
