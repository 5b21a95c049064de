"""Stream schemas and the rule that resolves type conflicts without dropping a value.

A field's type only ever widens along the lattice

    null → bool | int64 | float64 | string,   int64 + float64 → float64,   anything else mixed → string

and a value is converted to the wider type losslessly: numbers and booleans become their
JSON text when a field turns into a string; integers beyond ±2^53 that would lose digits
as float64 make the field a string instead. Files already written keep their own types;
the stream schema is always a supertype of every file's schema, so readers cast up.
"""

from __future__ import annotations

from typing import Any

BOOL, INT, FLOAT, STRING = "bool", "int64", "float64", "string"
TYPES = (BOOL, INT, FLOAT, STRING)
FLOAT_EXACT = 2**53


def widen(current: str | None, incoming: str | None) -> str | None:
    if current is None or current == incoming:
        return incoming
    if incoming is None:
        return current
    if {current, incoming} == {INT, FLOAT}:
        return FLOAT
    return STRING


def merge(schema: dict[str, str], batch: dict[str, str]) -> dict[str, str]:
    merged = dict(schema)
    for name, kind in batch.items():
        widened = widen(merged.get(name), kind)
        if widened is not None:
            merged[name] = widened
    return merged


def value_type(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    return STRING


def as_text(value: Any) -> str | None:
    """The string form of a JSON scalar, as it appeared on the wire."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {BOOL: pa.bool_(), INT: pa.int64(), FLOAT: pa.float64(), STRING: pa.string()}[kind]


def kind_of(arrow: Any) -> str | None:
    """The schema type for an Arrow type read from canonical NDJSON (None for all-null)."""
    import pyarrow as pa

    if pa.types.is_null(arrow):
        return None
    if pa.types.is_boolean(arrow):
        return BOOL
    if pa.types.is_integer(arrow):
        return INT
    if pa.types.is_floating(arrow):
        return FLOAT
    return STRING
