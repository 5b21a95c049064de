"""Writing SQL table data: Parquet files staged for the commits of ``molesignal.lake.table_commit``."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from molesignal import aws
from molesignal.clock import now_us
from molesignal.lake import garbage
from molesignal.lake.layout import table_file_key, table_scope_prefix
from molesignal.lake.table_commit import (
    MAX_REMOVALS_PER_COMMIT,
    MAX_REWRITES_PER_COMMIT,
    Change,
    StagedFile,
    TableCommits,
    TableGone,
    VersionConflict,
)
from molesignal.lake.tables import INSERTED_AT, ColumnType, ScopeFiles, TableDef, files_partition, new_file_id
from molesignal.lake.writer import encode_parquet
from molesignal.storage.table import Item

__all__ = [
    "MAX_REMOVALS_PER_COMMIT",
    "MAX_REWRITES_PER_COMMIT",
    "Change",
    "StagedFile",
    "TableGone",
    "TableStore",
    "VersionConflict",
    "arrow_type",
]
_PK_BOUNDS_TYPES = ("SMALLINT", "INT", "BIGINT", "TEXT")


def arrow_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type a declared column is stored as (kept here: the catalog stays pyarrow-free)."""
    fixed = {
        "BOOLEAN": pa.bool_(),
        "SMALLINT": pa.int16(),
        "INT": pa.int32(),
        "BIGINT": pa.int64(),
        "FLOAT": pa.float32(),
        "DOUBLE": pa.float64(),
        "TEXT": pa.string(),
        "JSON": pa.string(),
        "FILE": pa.string(),
        "BYTES": pa.binary(),
        "TIMESTAMP": pa.timestamp("us"),
        "DATE": pa.date32(),
    }.get(column_type.base)
    return fixed or pa.decimal128(column_type.precision, column_type.scale)


def table_schema(definition: TableDef) -> pa.Schema:
    """The Arrow schema of a table file: declared columns, then the hidden insertion time."""
    fields = [pa.field(c.name, arrow_type(c.type)) for c in definition.columns]
    return pa.schema([*fields, pa.field(INSERTED_AT, pa.int64())])


def conform(definition: TableDef, data: pa.Table) -> pa.Table:
    """A file's rows at the table's current schema: columns added since are NULL."""
    schema = table_schema(definition)
    columns = []
    for fld in schema:
        if fld.name in data.column_names:
            columns.append(data.column(fld.name).cast(fld.type))
        else:
            columns.append(pa.nulls(data.num_rows, fld.type))
    return pa.Table.from_arrays(columns, schema=schema)


class TableStore(TableCommits):
    # --- files ---------------------------------------------------------------------
    def stage(self, files: ScopeFiles, data: pa.Table, *, file_id: str | None = None) -> StagedFile:
        """Write ``data`` (rows at the table's schema) as a new file of the scope, reserved."""
        definition, scope = files.table, files.state.scope
        file_id = file_id or new_file_id()
        key = table_file_key(definition.org_id, definition.table_id, scope, file_id)
        entry: Item = {
            "pk": files_partition(definition.org_id, definition.table_id, scope),
            "sk": f"F#{file_id}",
            "kind": "table_file",
            "key": key,
            "rows": data.num_rows,
            "columns": [c.name for c in definition.columns],
            "created_at_us": now_us(),
        }
        if data.num_rows:
            inserted = pc.min_max(data.column(INSERTED_AT))
            entry["min_inserted_us"] = int(inserted["min"].as_py())
            entry["max_inserted_us"] = int(inserted["max"].as_py())
        entry.update(_key_bounds(definition, data))
        garbage.reserve_output(
            self.table, definition.org_id, key, manifest_pk=str(entry["pk"]), manifest_sk=str(entry["sk"])
        )
        body = encode_parquet(data)
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet"
        )
        entry["bytes"] = len(body)
        return StagedFile(entry, data.num_rows, len(body))

    def read(self, definition: TableDef, entry: Mapping[str, Any]) -> pa.Table:
        """One listed file, at the table's current schema."""
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=str(entry["key"]))["Body"].read()
        return conform(definition, pq.read_table(io.BytesIO(body)))

    def abandon(self, definition: TableDef, staged: Iterable[StagedFile]) -> None:
        """After a statement failed: its staged objects and their reservations."""
        keys = [str(f.entry["key"]) for f in staged]
        garbage.abandon_outputs(self.table, definition.org_id, self.bucket, keys)


def _key_bounds(definition: TableDef, data: pa.Table) -> dict[str, Any]:
    """The smallest and largest key of a file with a one-column integer or text key: an INSERT
    checks only the files whose range can hold its keys."""
    if len(definition.primary_key) != 1 or not data.num_rows:
        return {}
    column = definition.column(definition.primary_key[0])
    if column is None or column.type.base not in _PK_BOUNDS_TYPES:
        return {}
    bounds = pc.min_max(data.column(column.name))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if isinstance(low, str) and max(len(low), len(high)) > 256:
        return {}  # long text keys would bloat the entry: such files are always checked
    return {"pk_min": low, "pk_max": high}


def scope_prefix_of(definition: TableDef, scope: str) -> str:
    return table_scope_prefix(definition.org_id, definition.table_id, scope)


def pk_candidates(entries: Sequence[Item], low: Any, high: Any) -> list[Item]:
    """The entries whose key range can hold a key in [low, high] (all, without bounds)."""
    return [
        e
        for e in entries
        if "pk_min" not in e or ((low is None or e["pk_max"] >= low) and (high is None or e["pk_min"] <= high))
    ]
