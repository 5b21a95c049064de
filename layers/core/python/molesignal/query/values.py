"""Engine values → JSON values."""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any

_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1  # what a 64-bit integer (signed or not) can hold


def jsonable(value: Any) -> Any:
    """A JSON value that says exactly what the engine returned.

    Integers are JSON numbers while a 64-bit integer can hold them; beyond (HUGEINT sums,
    128-bit literals) they are their decimal text, as the lake stores such integers. A
    DECIMAL is a number when a float says it exactly, its decimal text otherwise.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _UINT_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def _decimal(value: Decimal) -> Any:
    if not value.is_finite():
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:  # a whole number (HUGEINT through Arrow is DECIMAL(38, 0))
        return jsonable(int(value))
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)
