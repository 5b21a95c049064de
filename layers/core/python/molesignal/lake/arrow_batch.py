"""Canonical NDJSON → an Arrow table typed against the stream schema.

The fast path is Arrow's own multi-threaded JSON reader with the stream's known types
given explicitly. When a batch conflicts with them (a string where the stream has a
number, say), the slow path parses with orjson and converts every value by the rules in
``molesignal.lake.schema`` — slower, but it never fails and never drops a value.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from molesignal.ingest.normalize import TIMESTAMP
from molesignal.lake import schema as S

_BLOCK = 1 << 22


def _read(ndjson: bytes, known: dict[str, str]) -> pa.Table:
    explicit = pa.schema([(name, S.arrow_type(kind)) for name, kind in known.items()])
    return pj.read_json(
        io.BytesIO(ndjson),
        read_options=pj.ReadOptions(block_size=_BLOCK),
        parse_options=pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer"),
    )


def _fast(ndjson: bytes, stream_schema: dict[str, str]) -> pa.Table:
    known = {TIMESTAMP: S.INT, **stream_schema}
    table = _read(ndjson, known)
    # Arrow infers timestamps from ISO-looking text; MoleSignal keeps such fields as written.
    inferred_times = [f.name for f in table.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)]
    if inferred_times:
        table = _read(ndjson, {**known, **dict.fromkeys(inferred_times, S.STRING)})
    return table


def _column(values: list[Any], kind: str) -> pa.Array:
    if kind == S.STRING:
        return pa.array([S.as_text(v) for v in values], type=pa.string())
    if kind == S.FLOAT:
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    return pa.array(values, type=S.arrow_type(kind))


def _slow(ndjson: bytes, stream_schema: dict[str, str]) -> pa.Table:
    rows = [orjson.loads(line) for line in ndjson.splitlines() if line.strip()]
    columns: dict[str, list[Any]] = {}
    for index, row in enumerate(rows):
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * index
            column.append(value)
        for column in columns.values():
            if len(column) <= index:
                column.append(None)
    arrays, names = [], []
    for name, values in columns.items():
        batch_kind: str | None = None
        for value in values:
            batch_kind = S.widen(batch_kind, S.value_type(value))
        kind = S.widen(stream_schema.get(name), batch_kind)
        if name == TIMESTAMP:
            kind = S.INT
        if kind == S.FLOAT and any(isinstance(v, int) and abs(v) > S.FLOAT_EXACT for v in values):
            kind = S.STRING
        names.append(name)
        arrays.append(pa.nulls(len(values)) if kind is None else _column(values, kind))
    return pa.table(arrays, names=names)


def to_table(ndjson: bytes, stream_schema: dict[str, str]) -> pa.Table:
    """The batch as an Arrow table whose types are at least as wide as the stream's."""
    try:
        table = _fast(ndjson, stream_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _drop_null_columns(_slow(ndjson, stream_schema))
    if may_have_rounded_integers(table):
        return _drop_null_columns(_slow(ndjson, stream_schema))
    return _widen_to_stream(_drop_null_columns(table), stream_schema)


def from_columns(tables: Sequence[pa.Table], stream_schema: dict[str, str]) -> pa.Table | None:
    """What ``to_table`` makes of the canonical NDJSON of these tables joined (the columns of
    native bodies read by ``molesignal.ingest.columnar``), or None when only that text can say.

    Canonical NDJSON reads back as the types these tables hold (a column of ``1`` and ``1.5``
    is double in both), so where ``_fast`` would succeed on the joined text its table is these
    columns cast to the stream's types, with a typed null column for each stream field they
    lack. Where it would fail (a type the stream cannot take as it is, types that differ
    between the tables) or send the batch to ``_slow`` (a float of 2**53 or more), ``_slow``
    reads the record path's own values — ``1`` and ``1.5`` into a text column are ``"1"``
    and ``"1.5"``, which a double column cannot give back — so the caller lands the text.
    """
    kinds: dict[str, str | None] = {}
    for table in tables:
        for field in table.schema:
            kind = S.kind_of(field.type)
            joined = kinds.get(field.name, kind)
            if joined is not None and kind is not None and joined != kind:
                if {joined, kind} != {S.INT, S.FLOAT}:
                    return None  # Arrow cannot read the joined text's column as one type
                joined = S.FLOAT
            kinds[field.name] = joined if joined is not None else kind
    known = {TIMESTAMP: S.INT, **stream_schema}
    for name, kind in kinds.items():
        want = known.get(name)
        if not (want is None or kind is None or want == kind or (want, kind) == (S.FLOAT, S.INT)):
            return None  # the explicit type refuses this column's values: _slow
    # The column order of ``_fast``'s read: the explicit fields, then the rest as they come.
    order = [*known, *(name for name in kinds if name not in known)]
    by_name = [dict(zip(table.column_names, table.columns, strict=True)) for table in tables]
    arrays, names = [], []
    for name in order:
        kind = known.get(name) or kinds.get(name)
        if kind is None:
            continue  # all null and not in the stream: an inferred null column, dropped
        wanted = S.arrow_type(kind)
        chunks: list[pa.Array] = []
        for table, columns in zip(tables, by_name, strict=True):
            column = columns.get(name)
            if column is None:
                chunks.append(pa.nulls(table.num_rows, wanted))
            else:
                chunks.extend((column if column.type == wanted else column.cast(wanted, safe=False)).chunks)
        arrays.append(pa.chunked_array(chunks, wanted))
        names.append(name)
    table = pa.table(arrays, names=names)
    if may_have_rounded_integers(table):
        return None
    return _widen_to_stream(_drop_null_columns(table), stream_schema)


def may_have_rounded_integers(table: pa.Table) -> bool:
    """Whether a float column holds a magnitude of 2**53 or more.

    Arrow reads an integer next to floats as float64, which is exact below 2**53. Rounding is
    monotonic, so every integer literal above 2**53 reads as a float of at least 2**53: when
    no float column reaches it, no digit was lost. Deciding on the values, not by scanning
    the text, leaves batches whose big integers sit inside strings (a span's events as JSON
    text) on the fast path. A float literal that large (1e20) takes the exact path too.
    """
    floats = [c for f, c in zip(table.schema, table.columns, strict=True) if pa.types.is_floating(f.type)]
    return any(_largest_magnitude(c) >= S.FLOAT_EXACT for c in floats)


def _drop_null_columns(table: pa.Table) -> pa.Table:
    # An all-null column says nothing a missing column does not.
    keep = [i for i, f in enumerate(table.schema) if not pa.types.is_null(f.type)]
    return table.select(keep) if len(keep) != table.num_columns else table


def _widen_to_stream(table: pa.Table, stream_schema: dict[str, str]) -> pa.Table:
    """Cast batch columns whose inferred type is narrower than the stream's (or conflicts)."""
    for index, field in enumerate(table.schema):
        have = S.kind_of(field.type)
        want = S.widen(stream_schema.get(field.name), have)
        if want is None or (want == have and field.type == S.arrow_type(want)):
            continue
        column = table.column(index)
        if want == S.STRING and have in (S.INT, S.FLOAT, S.BOOL):
            converted = pa.array([S.as_text(v) for v in column.to_pylist()], type=pa.string())
        elif want == S.FLOAT and have == S.INT and _exceeds_float(column):
            want = S.STRING
            converted = pa.array([S.as_text(v) for v in column.to_pylist()], type=pa.string())
        else:
            converted = column.cast(S.arrow_type(want))
        table = table.set_column(index, field.name, converted)
    return table


def _exceeds_float(column: Any) -> bool:
    return _largest_magnitude(column) > S.FLOAT_EXACT


def _largest_magnitude(column: Any) -> float:
    """The largest absolute value of a numeric column (an int stays an int: no rounding); 0 when
    every value is null."""
    if column.null_count == len(column):
        return 0
    largest: float = pc.max(pc.abs(column)).as_py()
    return largest


def schema_of(table: pa.Table) -> dict[str, str]:
    out: dict[str, str] = {}
    for field in table.schema:
        kind = S.kind_of(field.type)
        if kind is not None and field.name != TIMESTAMP:
            out[field.name] = kind
    return out
