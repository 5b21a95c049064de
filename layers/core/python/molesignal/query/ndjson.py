"""Arrow record batches to NDJSON, a column at a time.

Each column becomes an array of JSON texts with Arrow compute kernels (integers, floats,
booleans and strings: the usual columns of a log query), the texts are joined element-wise
with the JSON-encoded column names into one line per row, and the batch's NDJSON is the
data buffer of that string array: no Python object per row. Other types (timestamps,
decimals, lists, structs ...) take the same path as the JSON answer, ``values.jsonable``
then a JSON dump, one value at a time, so both answers spell those values alike.

The output parses to what ``{name: jsonable(value)}`` per row would give: non-finite floats
are ``null``, floats keep a fraction (``1.0``) and strings are escaped as orjson escapes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from molesignal.query.values import jsonable

# JSON escapes of the control characters, as orjson writes them.
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_CONTROL = [(chr(c), _SHORT_ESCAPES.get(chr(c), f"\\u{c:04x}")) for c in range(0x20)]


def encode_batch(batch: pa.RecordBatch) -> bytes:
    """The batch's rows as NDJSON, one object per line, each line ending in a newline."""
    rows = batch.num_rows
    if rows == 0:
        return b""
    if batch.num_columns == 0:
        return bytes(b"{}\n" * rows)
    parts: list[Any] = []
    for index, (name, column) in enumerate(zip(batch.schema.names, batch.columns, strict=True)):
        key = orjson.dumps(name).decode()
        parts.append(("{" if index == 0 else ",") + key + ":")
        parts.append(json_texts(column))
    parts.append("}\n")
    lines: pa.Array = pc.binary_join_element_wise(*parts, "")
    return _data_of(lines)


def json_texts(column: pa.Array) -> pa.Array:
    """One JSON text per value of ``column`` (never null: a null is the text ``null``)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return json_texts(column.dictionary_decode())
    encode = _VECTORISED.get(_family(kind))
    texts = encode(column) if encode else _one_by_one(column)
    return texts.fill_null("null")


def _family(kind: pa.DataType) -> str:
    if pa.types.is_null(kind):
        return "null"
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    return "other"


def _nulls(column: pa.Array) -> pa.Array:
    return pa.nulls(len(column), pa.string())


def _bools(column: pa.Array) -> pa.Array:
    return pc.if_else(column, "true", "false")


def _ints(column: pa.Array) -> pa.Array:
    return pc.cast(column, pa.string())


def _floats(column: pa.Array) -> pa.Array:
    # Widened first: a FLOAT reaches the JSON answer as the Python float of its value.
    wide = pc.cast(column, pa.float64())
    texts = pc.cast(wide, pa.string())
    # Arrow writes 1.0 as "1"; JSON readers would see an integer. Keep the fraction.
    integral = pc.invert(pc.match_substring_regex(texts, "[.e]"))
    texts = pc.if_else(integral, pc.binary_join_element_wise(texts, ".0", ""), texts)
    return pc.if_else(pc.is_finite(wide), texts, pa.scalar(None, pa.string()))


def _strings(column: pa.Array) -> pa.Array:
    text = pc.cast(column, pa.string())
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    if _has_control_characters(text):
        for char, escape in _CONTROL:
            text = pc.replace_substring(text, char, escape)
    return pc.binary_join_element_wise('"', text, '"', "")


def _has_control_characters(text: pa.Array) -> bool:
    # Printable ASCII throughout is the common case, and a quarter of the cost of the regex.
    if pc.all(pc.ascii_is_printable(text)).as_py() is not False:
        return False
    return bool(pc.any(pc.match_substring_regex(text, r"[\x00-\x1f]")).as_py())


_VECTORISED: dict[str, Callable[[pa.Array], pa.Array]] = {
    "null": _nulls,
    "bool": _bools,
    "int": _ints,
    "float": _floats,
    "string": _strings,
}


def _dump(value: Any) -> str:
    plain = jsonable(value)
    try:
        return orjson.dumps(plain).decode()
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))


def _one_by_one(column: pa.Array) -> pa.Array:
    return pa.array([_dump(value) for value in column.to_pylist()], type=pa.string())


def _data_of(lines: pa.Array) -> bytes:
    """The bytes of a string array's values, back to back (they already end in newlines)."""
    if lines.type != pa.string():
        lines = lines.cast(pa.string())
    offsets = memoryview(lines.buffers()[1]).cast("i")  # type: ignore[arg-type]
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    data = lines.buffers()[2]
    return data.slice(first, last - first).to_pybytes() if data is not None else b""
