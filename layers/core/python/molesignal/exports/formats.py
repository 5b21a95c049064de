"""Writing a result as CSV, NDJSON or Parquet (optionally gzip), one Arrow batch at a time.

Audit events are written as the API shows them: NDJSON keeps their nesting; CSV and
Parquet hold the top-level fields with nested ones as JSON text (``flatten``), which
``unflatten`` reverses — so every format carries what ``verify-events`` needs.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Mapping
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from molesignal.query.values import jsonable

FORMATS = ("csv", "ndjson", "parquet")
EVENT_COLUMNS = (
    "id",
    "seq",
    "action",
    "occurred_at",
    "received_at",
    "actor",
    "targets",
    "context",
    "metadata",
    "version",
    "prev_hash",
    "hash",
)
NESTED = ("actor", "targets", "context", "metadata")
MEDIA = {"csv": "text/csv", "ndjson": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}


def extension(fmt: str, gzipped: bool) -> str:
    return fmt + (".gz" if gzipped else "")


def flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: orjson.dumps(event[k]).decode() if k in NESTED else event[k] for k in EVENT_COLUMNS}


def unflatten(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: orjson.loads(row[k]) if k in NESTED else row[k] for k in EVENT_COLUMNS}
    out["seq"] = int(out["seq"])
    out["version"] = int(out["version"])
    return out


class Writer:
    """Appends batches to ``sink`` in one format; ``close`` finishes the file."""

    def __init__(self, sink: IO[bytes], fmt: str, *, gzipped: bool) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        self.format = fmt
        self._raw = sink
        self._gzip = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6) if gzipped else None
        self._out: Any = self._gzip if self._gzip is not None else sink
        self._csv: pcsv.CSVWriter | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def write_batch(self, batch: pa.RecordBatch | pa.Table) -> None:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if table.num_rows == 0:
            return
        self.rows += table.num_rows
        if self.format == "ndjson":
            for row in table.to_pylist():
                self._out.write(orjson.dumps({k: jsonable(v) for k, v in row.items()}) + b"\n")
            return
        if self._schema is None:
            self._schema = table.schema
        else:
            table = table.cast(self._schema)
        if self.format == "csv":
            if self._csv is None:
                self._csv = pcsv.CSVWriter(self._out, self._schema)
            self._csv.write_table(table)
        else:
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._out, self._schema, compression="zstd")
            self._parquet.write_table(table)

    def write_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        chunk = list(events)
        if not chunk:
            return
        if self.format == "ndjson":
            self.rows += len(chunk)
            self._out.write(b"".join(orjson.dumps(dict(e)) + b"\n" for e in chunk))
            return
        flat = [flatten(e) for e in chunk]
        schema = pa.schema([(c, pa.int64() if c in ("seq", "version") else pa.string()) for c in EVENT_COLUMNS])
        self.write_batch(pa.Table.from_pylist(flat, schema=schema))

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self._parquet is not None:
            self._parquet.close()
        if self._gzip is not None:
            self._gzip.close()
        self._raw.flush()


def read_events(data: bytes, fmt: str) -> list[dict[str, Any]]:
    """An events export back as public events (for ``verify-events`` and tests)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if fmt == "ndjson":
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]
    if fmt == "csv":
        types = {c: pa.int64() if c in ("seq", "version") else pa.string() for c in EVENT_COLUMNS}
        options = pcsv.ConvertOptions(column_types=types, strings_can_be_null=False)
        table = pcsv.read_csv(io.BytesIO(data), convert_options=options)
    elif fmt == "parquet":
        table = pq.read_table(io.BytesIO(data))
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return [unflatten(row) for row in table.to_pylist()]
