"""Native NDJSON read column-wise by Arrow, for bodies the record path would accept whole.

The record path (``parse_json_records`` + ``normalize``) costs about 40 ms of Python per MiB;
``pyarrow.json.read_json`` reads the same body in a few. This module reads a body with Arrow
and returns its canonical columns — ``_timestamp`` in µs, nested objects flattened to
``parent_child`` names, arrays as their JSON text — **only when every record would be
accepted by the record path and every stored value would be the same**; otherwise it returns
None and the caller takes the record path (ADR 0022). It says None, never guesses, for:

- text Arrow and orjson read differently: a byte order mark at the start of a line, bytes
  that are not UTF-8, a line that is not one object on its own (two objects
  on a line, an object over two lines, a scalar), ``NaN``/``Infinity``, a double of 2**53 or
  more in magnitude (Arrow reads an integer beyond 64 bits as a rounded double where the
  record path keeps every digit; a run of 20 digits inside a string is text to both);
- records the record path would refuse or rename: a ``_timestamp`` it cannot read or place,
  a name that is reserved or that two paths share after canonicalisation;
- values whose JSON text Arrow loses: arrays of numbers with a fraction, of objects, of
  arrays, of ISO-looking text; nesting deeper than the record path flattens;
- anything else not foreseen: any type outside null, bool, int64, double, string and lists
  of the first four and string, and any error Arrow raises.

Arrow infers ISO-looking text as timestamps: such paths are read again as explicit strings.
A struct may stand for records that sent ``null`` or ``{}`` there, which the record path keeps
as a null field of the struct's own name; those names are reported as ``maybe_names`` so the
field cap and the collision check can count them (``Columns.names``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from molesignal.errors import DomainError
from molesignal.ingest import envelope
from molesignal.ingest.envelope import canonical_ndjson
from molesignal.ingest.normalize import (
    ENGINE_PREFIX,
    RESERVED,
    TIMESTAMP,
    field_name,
    normalize,
    parse_timestamp_us,
)
from molesignal.ingest.records import parse_json_records
from molesignal.lake.layout import MAX_TIMESTAMP_US, MIN_TIMESTAMP_US

# The record path reads ``_timestamp``, else the first of these that is not null.
TIMESTAMP_SOURCES = (TIMESTAMP, "@timestamp", "timestamp", "time")
MAX_DEPTH = 16  # normalize._flatten keeps an object at this depth as JSON text
_FLOAT_EXACT = 2.0**53
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'  # what orjson escapes in a string (it writes other text as it is)
# integers_among_doubles reads records by the record path for at most 1 row in 8 (or 64 rows)
_MOST_ROWS_CHECKED = 8
_LAYOUT_KEY = b"molesignal.columns"  # encode_columns: the names in order, and which are text
_ROWS_ALWAYS_CHECKED = 64
_LIST_ITEMS = (pa.types.is_string, pa.types.is_int64, pa.types.is_boolean, pa.types.is_null)


@dataclass(frozen=True)
class Columns:
    """A body's canonical records as columns: ``_timestamp`` first, then one per field."""

    table: pa.Table
    maybe_names: frozenset[str]  # struct names a record may hold as null (sent as null or {})
    # Every line break of the stripped body separates two records (``}\n{``: no blank line, no
    # padding): row k is then the k-th line from the body's first ``{``.
    line_per_row: bool = False

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)

    def names(self) -> frozenset[str]:
        """Every field name the record path could give these records (without ``_timestamp``)."""
        return frozenset(n for n in self.table.column_names if n != TIMESTAMP) | self.maybe_names


def read(body: bytes, received_us: int) -> Columns | None:
    """The body's canonical columns, or None when only the record path can answer for it."""
    try:
        return _read(body, received_us)
    except pa.ArrowException:  # anything Arrow cannot do with a body is the record path's to answer
        return None


def _read(body: bytes, received_us: int) -> Columns | None:
    text = body.strip()
    counted = _object_lines(text) if text[:1] == b"{" else None  # a JSON array, or nothing to read
    if counted is None:
        return None
    lines, line_per_row = counted
    table = _arrow_read(text, lines)
    if table is None:
        return None
    leaves: list[tuple[str, pa.ChunkedArray]] = []
    maybe: set[str] = set()
    timestamp_sources: dict[str, pa.ChunkedArray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in TIMESTAMP_SOURCES:
            if _leaf(column) is None and not pa.types.is_struct(column.type):
                return None  # a rounded integer: the record path reads its exact value
            timestamp_sources[name] = column
        if name != TIMESTAMP and not _flatten(field_name(name), column, 0, leaves, maybe):
            return None
    timestamps = _timestamps(timestamp_sources, table.num_rows, received_us)
    if timestamps is None:
        return None
    names = [n for n, _ in leaves]
    every = names + sorted(maybe)
    if len(set(every)) != len(every) or any(n in RESERVED or n.startswith(ENGINE_PREFIX) for n in every):
        return None
    columns = [timestamps, *(c for _, c in leaves)]
    return Columns(pa.table(columns, names=[TIMESTAMP, *names]), frozenset(maybe), line_per_row)


def _object_lines(text: bytes) -> tuple[int, bool] | None:
    """How many lines the text has when every non-blank one starts with ``{`` and ends with
    ``}`` and no byte is read differently by the two readers, and whether every line break
    separates two objects (no blank line, no padding); else None. A line break between
    ``}`` and ``{`` cannot sit inside one JSON value, so no object spans lines; whether a
    line holds two objects is told by the row count after the read."""
    # No scan for what Arrow refuses where orjson does (checked by the parity tests): control
    # bytes (a tab or carriage return between two objects is caught by the row count: \r ends
    # a line for Arrow, not for the record path), escaped lone surrogates, a byte order mark
    # inside an object. One at the start of a line fails the line check below.
    if not text.isascii():
        try:
            text.decode()
        except UnicodeDecodeError:  # Arrow does not check the strings it reads; orjson refuses
            return None
    breaks = text.count(b"\n")
    if text[:1] == b"{" and text[-1:] == b"}" and text.count(b"}\n{") == breaks:
        return breaks + 1, True  # the usual body, told without a loop: no blank line, no padding
    lines = 0
    for raw_line in text.split(b"\n"):
        line = raw_line.strip()
        if not line:
            continue
        if line[:1] != b"{" or line[-1:] != b"}":
            return None
        lines += 1
    return lines, False


def _arrow_read(text: bytes, lines: int) -> pa.Table | None:
    try:
        table = _parse(text, None)
        hints = _string_hints(table.schema)
        if hints is not None:
            if not hints:
                return None
            table = _parse(text, pa.schema(hints))
            if _string_hints(table.schema) is not None:
                return None
    except pa.ArrowException:
        return None
    return table if table.num_rows == lines else None


def _parse(text: bytes, explicit: pa.Schema | None) -> pa.Table:
    # One block for the whole body, so types are inferred once, over every row.
    options = pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer")
    return pj.read_json(io.BytesIO(text), read_options=pj.ReadOptions(block_size=len(text) + 1), parse_options=options)


def _string_hints(schema: pa.Schema | pa.StructType) -> list[pa.Field] | None:
    """Fields that re-read every inferred temporal path as a string (structs partially
    spelled, the rest still inferred); None when there is none, [] when one is in a list."""
    hints: list[pa.Field] = []
    found = False
    for field in schema:
        kind = field.type
        if _is_temporal(kind):
            hints.append(pa.field(field.name, pa.string()))
            found = True
        elif pa.types.is_struct(kind):
            inner = _string_hints(kind)
            if inner == []:
                return []
            if inner is not None:
                hints.append(pa.field(field.name, pa.struct(inner)))
                found = True
        elif pa.types.is_list(kind) and _is_temporal(kind.value_type):
            return []
    return hints if found else None


def _is_temporal(kind: pa.DataType) -> bool:
    return bool(pa.types.is_temporal(kind) or pa.types.is_decimal(kind))


def _flatten(
    name: str, column: pa.ChunkedArray, depth: int, leaves: list[tuple[str, pa.ChunkedArray]], maybe: set[str]
) -> bool:
    """Append the column's canonical leaves as ``normalize._flatten`` names them; False
    when a value cannot be stored as the record path would store it."""
    kind = column.type
    if pa.types.is_struct(kind):
        if depth >= MAX_DEPTH and kind.num_fields:
            return False
        maybe.add(name)
        children = column.flatten()  # each child null where its struct is
        for index in range(kind.num_fields):
            child = kind.field(index).name
            if not _flatten(field_name(f"{name}_{child}"), children[index], depth + 1, leaves, maybe):
                return False
        return True
    converted = _leaf(column)
    if converted is None:
        return False
    leaves.append((name, converted))
    return True


def _leaf(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array | None:
    kind = column.type
    if pa.types.is_null(kind) or pa.types.is_boolean(kind) or pa.types.is_int64(kind) or pa.types.is_string(kind):
        return column
    if pa.types.is_float64(kind):
        if column.null_count == len(column):
            return column
        if pc.any(pc.is_nan(column)).as_py() or pc.any(pc.is_inf(column)).as_py():
            return None  # NaN, Infinity: orjson refuses the line
        return column if pc.max(pc.abs(column)).as_py() < _FLOAT_EXACT else None
    if pa.types.is_list(kind) and any(test(kind.value_type) for test in _LIST_ITEMS):
        return _list_text(column.combine_chunks())
    return None


def _list_text(lists: pa.ListArray) -> pa.Array:
    """Each list as ``orjson.dumps`` writes it (``["a",null]``, ``[1,2]``, ``[]``), built
    with Arrow compute; per row in Python only when a string needs escaping."""
    values = lists.values
    if pa.types.is_string(values.type):
        if pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
            return pa.array([None if v is None else orjson.dumps(v).decode() for v in lists.to_pylist()], pa.string())
        items = pc.binary_join_element_wise('"', values, '"', "")
    else:
        items = values.cast(pa.string())  # true/false, integers as orjson writes them
    items = pc.fill_null(items, "null")
    joined = pc.binary_join(pa.ListArray.from_arrays(lists.offsets, items, mask=lists.is_null()), ",")
    return pc.binary_join_element_wise("[", joined, "]", "")


def _timestamps(sources: dict[str, pa.ChunkedArray], rows: int, received_us: int) -> pa.Array | None:
    """Each row's ``_timestamp`` in µs from the first non-null source, as ``normalize`` reads it;
    None when one cannot be read or placed (the record path rejects that record)."""
    result = pa.array([received_us] * rows, pa.int64()) if rows else pa.array([], pa.int64())
    undecided = pa.array([True] * rows, pa.bool_())
    for name in TIMESTAMP_SOURCES:
        column = sources.get(name)
        if column is None or column.null_count == rows:
            continue
        array = column.combine_chunks()
        chosen = pc.and_(undecided, pc.is_valid(array))
        if not pc.any(chosen).as_py():
            continue
        values = _as_us(array.filter(chosen))
        if values is None:
            return None
        result = pc.replace_with_mask(result, chosen, values)
        undecided = pc.and_(undecided, pc.invert(chosen))
    if rows and not (pc.min(result).as_py() >= MIN_TIMESTAMP_US and pc.max(result).as_py() < MAX_TIMESTAMP_US):
        return None
    return result


def _as_us(values: pa.Array) -> pa.Array | None:
    kind = values.type
    if pa.types.is_int64(kind) and pc.min(values).as_py() >= 0:
        return _int_us(values)
    if pa.types.is_int64(kind) or pa.types.is_float64(kind) or pa.types.is_string(kind):
        return _each(values, parse_timestamp_us)
    return None  # a boolean, an object or an array is not a timestamp


def _int_us(values: pa.Array) -> pa.Array:
    """``normalize._int_us`` for non-negative integers: ns, µs, ms or s by magnitude."""
    ns = pc.greater_equal(values, 10**17)
    us = pc.greater_equal(values, 10**14)
    ms = pc.greater_equal(values, 10**11)
    scaled = pc.if_else(ms, pc.multiply(values, 1000), pc.multiply(values, 1_000_000))
    return pc.if_else(ns, pc.divide(values, 1000), pc.if_else(us, values, scaled))


def _each(values: pa.Array, convert: Callable[[Any], int]) -> pa.Array | None:
    seen: dict[Any, int] = {}
    out = []
    try:
        for value in values.to_pylist():
            us = seen.get(value)
            if us is None:
                us = seen[value] = convert(value)
            out.append(us)
        return pa.array(out, pa.int64())
    except (ValueError, OverflowError, ArithmeticError, pa.ArrowException):
        return None


def encode_columns(table: pa.Table) -> bytes:
    """An Arrow table as the worker is handed it, zstd-compressed (level 1).

    Text columns do not go as Arrow lays them out: their offsets grow without end and
    compress poorly. They go as their values' lengths, all in one column, and their bytes one
    after another; the rest of the table is one IPC stream as it is. That is about a quarter
    fewer bytes on the benchmark's logs for ~0.5 ms more per MiB each way, and bytes through
    SQS cost more than that here (docs/performance.md, ADR 0028)."""
    import cramjam

    names = table.column_names
    texts = [i for i, field in enumerate(table.schema) if pa.types.is_string(field.type)]
    arrays = [table.column(i).combine_chunks() for i in texts]
    rest = table.drop_columns([names[i] for i in texts]) if texts else table
    order = orjson.dumps({"names": names, "texts": texts})
    rest = rest.replace_schema_metadata({_LAYOUT_KEY: order})
    lengths = pa.table(
        {"lengths": pa.concat_arrays([pc.binary_length(a) for a in arrays]) if texts else pa.array([], pa.int32())}
    )
    parts = [_ipc(rest), _ipc(lengths)]
    head = b"".join(len(part).to_bytes(8, "little") + part for part in parts)
    return bytes(cramjam.zstd.compress(b"".join([head, *(_value_bytes(a) for a in arrays)]), level=1))


def decode_columns(compressed: bytes) -> pa.Table:
    """The table ``encode_columns`` was given."""
    import cramjam

    whole = pa.py_buffer(cramjam.zstd.decompress(compressed))
    position, streams = 0, []
    for _ in range(2):
        size = int.from_bytes(whole.slice(position, 8).to_pybytes(), "little")
        streams.append(pa.ipc.open_stream(whole.slice(position + 8, size)).read_all())
        position += 8 + size
    rest, lengths_table = streams
    layout = orjson.loads((rest.schema.metadata or {})[_LAYOUT_KEY])
    names, texts = layout["names"], layout["texts"]
    lengths = lengths_table.column(0).combine_chunks()
    ends = pc.cumulative_sum(pc.fill_null(lengths, 0)).cast(pa.int32())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), ends]).buffers()[1]
    text = whole.slice(position)
    if (ends[-1].as_py() if len(ends) else 0) != len(text):
        raise ValueError("handed-over columns: the text does not match its lengths")
    rows = rest.num_rows
    made = {
        index: pa.StringArray.from_buffers(rows, offsets, text, lengths.buffers()[0], -1, k * rows)
        for k, index in enumerate(texts)
    }
    others = iter(rest.columns)
    columns = [made[i] if i in made else next(others) for i in range(len(names))]
    return pa.table(columns, names=names)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _value_bytes(array: pa.StringArray) -> pa.Buffer:
    """The bytes of a text array's values, in order (an array may be a slice of its buffers)."""
    data = array.buffers()[2]
    if len(array) == 0 or data is None:
        return pa.py_buffer(b"")
    offsets = pa.Array.from_buffers(pa.int32(), len(array) + 1, [None, array.buffers()[1]], offset=array.offset)
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    sliced: pa.Buffer = data.slice(start, end - start)
    return sliced


def hand_over(columns: Columns, body: bytes, received_us: int) -> tuple[bytes, str]:
    """What the ingest message carries for a body read column-wise, and its payload format: the
    columns (Arrow IPC, zstd; version 3, ADR 0028) when they say all the body's text would, else
    the body's zstd (version 2), which the worker reads again."""
    if integers_among_doubles(columns, body, received_us):
        return envelope.compress(body.strip()), envelope.RAW_NDJSON
    return encode_columns(columns.table), envelope.ARROW_COLUMNS


def integers_among_doubles(columns: Columns, body: bytes, received_us: int) -> bool:
    """Whether a double column holds a value the body wrote as an integer (``1`` beside ``1.5``).

    That is the one thing the columns cannot say about the text (ADR 0022): where a stream holds
    the field as text the record path stores ``"1"``, a double gives ``"1.0"``. Only integral
    doubles can have been written so; the records holding one are read by the record path
    itself to tell. When they are many (over 64 and one in eight), it answers True without
    reading them: the body then travels as text, which costs the worker a parse, not an answer."""
    doubles = [
        (name, column)
        for name, column in zip(columns.table.column_names, columns.table.columns, strict=True)
        if name != TIMESTAMP and pa.types.is_float64(column.type) and column.null_count < len(column)
    ]
    if not doubles:
        return False
    wholes = [pc.fill_null(pc.equal(c, pc.floor(c)), False).combine_chunks() for _name, c in doubles]
    integral = wholes[0]
    for whole in wholes[1:]:
        integral = pc.or_(integral, whole)
    rows = pc.indices_nonzero(integral).to_pylist()
    if not rows:
        return False
    if len(rows) > max(_ROWS_ALWAYS_CHECKED, columns.rows // _MOST_ROWS_CHECKED):
        return True
    names = [name for name, _ in doubles]
    try:
        records = [normalize(orjson.loads(line), received_us=received_us) for line in _lines_of(columns, body, rows)]
    except (ValueError, IndexError, DomainError):  # not for a body read whole; if so, the text tells
        return True
    return any(type(record.get(name)) is int for record in records for name in names)


def _lines_of(columns: Columns, body: bytes, rows: list[int]) -> list[bytes]:
    """The body's lines holding ``rows`` (ascending). For the usual body the line breaks up to
    the last row are walked (~0.2 ms per MiB at most), rather than the whole body split into
    lines (~0.7 ms, a thousand objects) to read a few (ADR 0032)."""
    if not columns.line_per_row:
        lines = [line for line in body.split(b"\n") if line.strip()]
        return [lines[row] for row in rows]
    found = []
    start, line = body.find(b"{"), 0  # the stripped body's start: whitespace holds no brace
    for row in rows:
        while line < row:
            start = body.index(b"\n", start) + 1
            line += 1
        end = body.find(b"\n", start)
        found.append(body[start : end if end >= 0 else len(body)])
    return found


class RawBody:
    """A native NDJSON body that the ingest function accepted whole on the column-wise path,
    as an ingest message hands it to the worker: its text (version 2; read lazily, from a
    loader), or the columns the ingest function read from it (version 3, ADR 0028), or both."""

    def __init__(
        self,
        ndjson: bytes | Callable[[], bytes] | None,
        received_us: int,
        *,
        handed_over: pa.Table | None = None,
    ) -> None:
        if ndjson is None and handed_over is None:
            raise ValueError("a native body needs its text or its columns")
        self._ndjson = ndjson
        self.received_us = received_us  # the ingest function's clock: the ``_timestamp`` of records without one
        self.handed_over = handed_over

    @cached_property
    def ndjson(self) -> bytes | None:
        return self._ndjson() if callable(self._ndjson) else self._ndjson

    def columns(self) -> Columns | None:
        return None if self.ndjson is None else read(self.ndjson, self.received_us)

    def table(self) -> pa.Table | None:
        """The body's canonical columns: those handed over — ``read`` made them in the ingest
        function from the same bytes and clock, so reading again gives the same table — else
        ``read`` of the text."""
        if self.handed_over is not None:
            return self.handed_over
        columns = self.columns()
        return None if columns is None else columns.table

    def canonical(self) -> bytes:
        """The canonical NDJSON the record path makes of the body, for landings that need the
        record path's values as text (``lake.arrow_batch.from_columns`` says when). Without the
        text, the records are rebuilt from the columns: the same fields and values (the columns
        came alone only when no double was written as an integer), null fields left out."""
        if self.ndjson is not None:
            records = [normalize(raw, received_us=self.received_us) for _index, raw in parse_json_records(self.ndjson)]
            return canonical_ndjson(records)
        rows = self.handed_over.to_pylist() if self.handed_over is not None else []
        return canonical_ndjson([{k: v for k, v in row.items() if v is not None} for row in rows])
