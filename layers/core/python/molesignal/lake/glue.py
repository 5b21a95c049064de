"""Glue tables over the lake, one per (org, stream), for the Athena engine.

Each table is an external Parquet table whose partitions are *projected* (docs/adr/
0005-athena-partition-projection.md): Athena computes partition locations from the table
parameters and the query's partition predicates, so nothing ever registers a partition and
no crawler runs. Which files a query reads is decided by the manifest, not by the table:
the Athena SQL restricts every scan with ``"$path" IN (<the manifest's files>)``.

The table's columns follow the stream schema. Schemas only widen (``molesignal.lake.schema``),
so an update merges: columns the table has and this caller does not know of are kept, and
a column's type is the wider of the two. A stale function can therefore never narrow a
table a newer one already widened. A warm function remembers the tables it made current,
keyed by the schema's fingerprint, and calls Glue again only when the schema changes.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from molesignal import aws
from molesignal.lake import schema as S
from molesignal.lake.layout import stream_prefix
from molesignal.lake.streams import Stream
from molesignal.settings import get_settings

# Partition keys. The lake's paths say ``date=…/hour=…``, but projection maps the keys to
# the path through ``storage.location.template``, so the keys need not be named after the
# path: reserved names (the guard refuses ``__ms_*`` in tenant SQL) never collide with a
# stream field called ``date`` or ``hour``.
PARTITION_DATE = "__ms_date"
PARTITION_HOUR = "__ms_hour"
RESERVED_PREFIX = "__ms_"

# Columns every lake file has besides the stream schema's fields.
TIMESTAMP, ORG_ID, STREAM = "_timestamp", "org_id", "_stream"

# Athena's projection range for dates. ``NOW+1YEARS`` admits clients whose clocks run
# ahead; the engine refuses files outside the range instead of silently skipping them.
PROJECTION_DATE_FIRST = "1970-01-01"
PROJECTION_DATE_RANGE = f"{PROJECTION_DATE_FIRST},NOW+1YEARS"

GLUE_TYPES = {S.BOOL: "boolean", S.INT: "bigint", S.FLOAT: "double", S.STRING: "string"}
_KINDS = {glue: kind for kind, glue in GLUE_TYPES.items()}

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

MAX_NAME = 255
_PLAIN_ORG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PLAIN_STREAM = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
_NOT_GLUE = re.compile(r"[^a-z0-9_]")

_current: dict[tuple[str, str, str, str, str], str] = {}
_lock = threading.Lock()


def table_name(org_id: str, stream: str) -> str:
    """``o_<org>__<stream>``, in Glue's alphabet (lower case, ``[a-z0-9_]``, ≤ 255).

    Org ids have no ``_`` and plain stream names no ``-``/``.``, so for those the readable
    name is already unique. Anything else (``.``/``-`` in a stream, doubled separators)
    gets a hash of the exact pair, so two streams can never share a table.
    """
    readable = f"o_{_NOT_GLUE.sub('_', org_id.lower())}__{_NOT_GLUE.sub('_', stream.lower())}"
    if _PLAIN_ORG.match(org_id) and _PLAIN_STREAM.match(stream) and len(readable) <= MAX_NAME:
        return readable
    digest = hashlib.sha256(f"{org_id}\0{stream}".encode()).hexdigest()[:12]
    return f"{readable[: MAX_NAME - 15]}__h{digest}"


def table_location(bucket: str, org_id: str, stream: str) -> str:
    return f"s3://{bucket}/{stream_prefix(org_id, stream)}"


def data_columns(schema: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, MoleSignal type) of the table's data columns, in scan order."""
    fields = [
        (name, kind)
        for name, kind in schema.items()
        if name not in (TIMESTAMP, ORG_ID, STREAM) and not name.startswith(RESERVED_PREFIX)
    ]
    return [(TIMESTAMP, S.INT), *fields, (ORG_ID, S.STRING), (STREAM, S.STRING)]


def table_parameters(bucket: str, org_id: str, stream: str) -> dict[str, str]:
    location = table_location(bucket, org_id, stream)
    return {
        "EXTERNAL": "TRUE",
        "classification": "parquet",
        "projection.enabled": "true",
        f"projection.{PARTITION_DATE}.type": "date",
        f"projection.{PARTITION_DATE}.format": "yyyy-MM-dd",
        f"projection.{PARTITION_DATE}.range": PROJECTION_DATE_RANGE,
        f"projection.{PARTITION_DATE}.interval": "1",
        f"projection.{PARTITION_DATE}.interval.unit": "DAYS",
        f"projection.{PARTITION_HOUR}.type": "integer",
        f"projection.{PARTITION_HOUR}.range": "0,23",
        f"projection.{PARTITION_HOUR}.digits": "2",
        "storage.location.template": f"{location}date=${{{PARTITION_DATE}}}/hour=${{{PARTITION_HOUR}}}/",
        "molesignal.org_id": org_id,
        "molesignal.stream": stream,
    }


def table_input(
    org_id: str, stream: str, schema: Mapping[str, str], *, bucket: str, existing: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The Glue ``TableInput`` for a stream; ``existing`` columns are merged in (never dropped or narrowed)."""
    columns: dict[str, str] = {}
    for column in existing or []:
        kind = _KINDS.get(str(column.get("Type", "")).lower())
        if kind is not None:
            columns[str(column["Name"])] = kind
    for name, kind in data_columns(schema):
        columns[name] = S.widen(columns.get(name), kind) or S.STRING
    return {
        "Name": table_name(org_id, stream),
        "Description": f"MoleSignal stream {stream!r} of org {org_id!r} (managed; do not edit)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": table_parameters(bucket, org_id, stream),
        "PartitionKeys": [{"Name": PARTITION_DATE, "Type": "string"}, {"Name": PARTITION_HOUR, "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": GLUE_TYPES[kind]} for name, kind in columns.items()],
            "Location": table_location(bucket, org_id, stream),
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        },
    }


def _comparable(table: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The parts of a table (as Glue returns it, or a TableInput) that ``ensure_table`` manages."""
    storage = table.get("StorageDescriptor") or {}
    serde = storage.get("SerdeInfo") or {}
    have = table.get("Parameters") or {}
    return {
        "TableType": table.get("TableType"),
        "Parameters": {key: have.get(key) for key in parameters},
        "PartitionKeys": [(k["Name"], k["Type"].lower()) for k in table.get("PartitionKeys") or []],
        "Columns": [(c["Name"], c["Type"].lower()) for c in storage.get("Columns") or []],
        "Location": storage.get("Location"),
        "InputFormat": storage.get("InputFormat"),
        "OutputFormat": storage.get("OutputFormat"),
        "Serde": serde.get("SerializationLibrary"),
    }


def _fingerprint(schema: Mapping[str, str]) -> str:
    text = "\n".join(f"{name}\t{kind}" for name, kind in data_columns(schema))
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_table(org_id: str, stream: Stream) -> str:
    """Create or update the Glue table of a stream; return its name."""
    return ensure_stream_table(org_id, stream.name, stream.schema)


def ensure_stream_table(org_id: str, stream: str, schema: Mapping[str, str]) -> str:
    settings = get_settings()
    database, bucket = settings.athena_database, settings.resource_name("lake")
    key = (database, bucket, org_id, stream, _fingerprint(schema))
    with _lock:
        known = _current.get(key)
    if known is not None:
        return known
    name = _ensure(database, bucket, org_id, stream, schema)
    with _lock:
        _current[key] = name
    return name


def forget(name: str | None = None) -> None:
    """Drop the in-process memory of current tables (one table, or all)."""
    with _lock:
        for key in [k for k, v in _current.items() if name is None or v == name]:
            del _current[key]


def drop_table(org_id: str, stream: str) -> None:
    """Remove a deleted stream's table, so a stream recreated under the name starts afresh."""
    from molesignal.settings import get_settings

    glue = aws.client("glue")
    name = table_name(org_id, stream)
    with suppress(glue.exceptions.EntityNotFoundException):  # never queried through Athena
        glue.delete_table(DatabaseName=get_settings().athena_database, Name=name)
    forget(name)


def _ensure(database: str, bucket: str, org_id: str, stream: str, schema: Mapping[str, str]) -> str:
    glue = aws.client("glue")
    name = table_name(org_id, stream)
    for _attempt in range(3):
        try:
            current = glue.get_table(DatabaseName=database, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            try:
                glue.create_table(DatabaseName=database, TableInput=table_input(org_id, stream, schema, bucket=bucket))
                return name
            except glue.exceptions.AlreadyExistsException:
                continue  # another function created it a moment ago: read it and merge
        existing = (current.get("StorageDescriptor") or {}).get("Columns") or []
        wanted = table_input(org_id, stream, schema, bucket=bucket, existing=existing)
        managed = wanted["Parameters"]
        if _comparable(current, managed) != _comparable(wanted, managed):
            # Parameters someone else added (e.g. by hand in the console) are kept.
            wanted["Parameters"] = {**(current.get("Parameters") or {}), **managed}
            glue.update_table(DatabaseName=database, TableInput=wanted)
        return name
    raise RuntimeError(f"could not create or read the Glue table {database}.{name}")
