"""Turns any decoded record into MoleSignal's canonical flat record.

A canonical record is a flat JSON object whose keys are lower-case SQL-friendly names and
whose values are strings, integers, floats, booleans or null, with ``_timestamp`` as µs
since the epoch. Nested objects are flattened with ``_`` (``{"http": {"status": 200}}`` →
``http_status``); arrays are kept as their JSON text. The ingest function normalises, and
the worker lands canonical NDJSON — or, for a native NDJSON body, the same records built
column-wise by ``molesignal.ingest.columnar``, which steps aside wherever it could differ
from this module (ADR 0022).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import orjson

from molesignal.errors import Invalid
from molesignal.lake.layout import is_placeable

TIMESTAMP = "_timestamp"
ORG_ID = "org_id"
STREAM = "_stream"
RESERVED = frozenset({TIMESTAMP, ORG_ID, STREAM})
# The query engine's own names (partition columns, scan aliases): tenant SQL may not use them,
# so a tenant field that would be named so is renamed like the reserved columns above.
ENGINE_PREFIX = "__ms_"
MAX_FIELD_NAME = 128
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NOT_NAME = re.compile(r"[^a-z0-9_]")
_STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
_TIMESTAMP_ALIASES = ("@timestamp", "timestamp", "time")
PLACEABLE_RANGE = "(the lake holds 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_name_cache: dict[str, str] = {}
_child_names: dict[str, dict[str, str]] = {}  # prefix → {key: field_name(prefix + key)}
# Names already canonical (field_name(name) == name) and not reserved, so a flat record keyed
# only by them, with plain values, is its own canonical form (see ``_is_flat_canonical``).
_canonical_names: set[str] = set()
_PLAIN = frozenset({str, float, bool, type(None)})


def check_stream_name(name: str) -> str:
    lowered = name.lower()
    if not _STREAM_NAME.match(lowered):
        raise Invalid(
            f"invalid argument: stream name {name!r} must be 1-128 characters of a-z, 0-9, '_', '.', '-' "
            "and start with a letter or digit",
            code="invalid_stream",
        )
    return lowered


def field_name(raw: str) -> str:
    """A SQL-friendly column name: lower case, [a-z0-9_] only (DuckDB names are case-insensitive)."""
    cached = _name_cache.get(raw)
    if cached is not None:
        return cached
    lowered = raw.lower()
    if lowered.startswith("@"):  # @timestamp, @version (Beats, Logstash) stay recognisable
        lowered = "at_" + lowered[1:]
    name = _NOT_NAME.sub("_", lowered)[:MAX_FIELD_NAME] or "_"
    if name[0].isdigit():
        name = "_" + name[: MAX_FIELD_NAME - 1]
    if len(_name_cache) < 100_000:
        _name_cache[raw] = name
    return name


def parse_timestamp_us(value: Any) -> int:
    """µs since the epoch from µs, ms, ns or s (told apart by magnitude) or ISO 8601 text.

    Exact: numbers with a fraction are read as the decimal they were written as, never through
    a float product, and ISO text is counted in whole µs (finer digits are cut, not rounded).
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = Decimal(text) if any(c in text for c in ".eE") else int(text)
        except (ValueError, ArithmeticError):
            return _iso_us(value, text)
    elif isinstance(value, float):
        value = Decimal(repr(value))  # the shortest text that reads back as this float: what was sent
    if isinstance(value, int):
        return _int_us(value)
    if isinstance(value, Decimal):
        return _decimal_us(value)
    raise ValueError(f"{type(value).__name__} is not a timestamp")


def _int_us(value: int) -> int:
    magnitude = abs(value)
    if magnitude >= 10**17:
        return value // 1000  # ns
    if magnitude >= 10**14:
        return value  # µs
    if magnitude >= 10**11:
        return value * 1000  # ms
    return value * 1_000_000  # s


def _decimal_us(value: Decimal) -> int:
    """The same units as ``_int_us``; a fraction of a µs is cut, as for ISO text."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a timestamp")
    if value.adjusted() >= 30:  # out of range in every unit; keeps the arithmetic within 28 digits
        raise ValueError(f"out of range {PLACEABLE_RANGE}")
    magnitude = value.copy_abs()  # unlike abs(), never rounds or traps
    if magnitude >= 10**17:
        scaled = value / 1000
    elif magnitude >= 10**14:
        scaled = value
    else:
        scaled = value * (1000 if magnitude >= 10**11 else 1_000_000)
    return int(scaled.to_integral_value(ROUND_FLOOR))


def _iso_us(raw: str, text: str) -> int:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError as exc:
        raise ValueError(f"{raw!r} is neither a number nor ISO 8601") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // _ONE_US


def _scalar(value: Any) -> Any:
    kind = type(value)  # exact types first: isinstance against a union costs more than the rest
    if kind in _PLAIN or (kind is int and _INT64_MIN <= value <= _INT64_MAX):
        return value
    if value is None or isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)  # never drop a big integer
    if isinstance(value, list):
        return orjson.dumps(value).decode()
    return str(value)


def _is_flat_canonical(record: dict[str, Any]) -> bool:
    """Whether ``_flatten`` would return the record's items unchanged and in order.

    True when every key is already a canonical, non-reserved name (so nothing is renamed and
    nothing collides) and every value is a plain scalar: records from the OTLP receiver and
    from clients that already send flat rows. Checking costs a set lookup and a type test
    per field, a fraction of flattening.
    """
    for key, value in record.items():
        if key not in _canonical_names:
            if not isinstance(key, str) or _is_reserved(key) or field_name(key) != key:
                return False
            if len(_canonical_names) < 100_000:
                _canonical_names.add(key)
        kind = type(value)
        if kind not in _PLAIN and not (kind is int and _INT64_MIN <= value <= _INT64_MAX):
            return False
    return True


def _is_reserved(name: str) -> bool:
    return name in RESERVED or name.startswith(ENGINE_PREFIX)


def _rename_reserved(flat: dict[str, Any]) -> None:
    """Tenant data may not impersonate the columns the engine trusts, nor take its own names:
    ``org_id`` becomes ``org_id_field``, ``__ms_x`` becomes ``ms_x_field`` (``_`` appended
    while the name is taken, as for any collision)."""
    for name in [n for n in flat if n in RESERVED or n.startswith(ENGINE_PREFIX)]:  # _is_reserved, inlined
        renamed = f"{name.strip('_')}_field"
        while renamed in flat:
            renamed = f"{renamed}_"
        flat[renamed] = flat.pop(name)


def _child_name(prefix: str, key: Any) -> str:
    """``field_name`` of the key under the prefix, cached per (prefix, key) without building
    the joined text first (half of flattening's time went to that). Only text keys are cached:
    ``1`` and ``True`` are one dict key but different names."""
    if type(key) is not str:
        return field_name(f"{prefix}{key}" if prefix else str(key))
    names = _child_names.get(prefix)
    if names is None:
        if len(_child_names) >= 10_000:
            return field_name(f"{prefix}{key}" if prefix else key)
        names = _child_names[prefix] = {}
    name = names.get(key)
    if name is None:
        name = field_name(f"{prefix}{key}" if prefix else key)
        if len(names) < 10_000:
            names[key] = name
    return name


def _flatten(record: dict[str, Any], prefix: str, out: dict[str, Any], depth: int) -> None:
    for key, value in record.items():
        name = _child_name(prefix, key)
        kind = type(value)
        if kind in _PLAIN or (kind is int and _INT64_MIN <= value <= _INT64_MAX):  # _scalar's answer is the value
            while name in out:
                name = f"{name}_"
            out[name] = value
            continue
        if isinstance(value, dict) and value and depth < 16:
            _flatten(value, name + "_", out, depth + 1)
            continue
        while name in out:  # "a_b" and {"a": {"b": ...}} both present: keep both values
            name = f"{name}_"
        if isinstance(value, dict):  # empty, or nested too deep to flatten
            out[name] = orjson.dumps(value).decode() if value else None
        else:
            out[name] = _scalar(value)


def normalize(record: Any, *, received_us: int) -> dict[str, Any]:
    """The canonical form of one record; raises Invalid with the reason it cannot be stored."""
    if not isinstance(record, dict):
        kind = type(record).__name__
        raise Invalid(f"invalid argument: a record must be a JSON object, not {kind}", code="invalid_record")
    raw_ts = record.get(TIMESTAMP)
    if raw_ts is None:
        raw_ts = next((record[k] for k in _TIMESTAMP_ALIASES if record.get(k) is not None), None)
    body = {k: v for k, v in record.items() if k != TIMESTAMP}
    if _is_flat_canonical(body):
        flat = body
    else:
        flat = {}
        _flatten(body, "", flat, 0)
        _rename_reserved(flat)
    try:
        timestamp = received_us if raw_ts is None else parse_timestamp_us(raw_ts)
    except (ValueError, OverflowError) as exc:
        raise Invalid(f"invalid argument: _timestamp: {exc}", code="invalid_timestamp") from exc
    if not is_placeable(timestamp):
        raise Invalid(f"invalid argument: _timestamp: out of range {PLACEABLE_RANGE}", code="invalid_timestamp")
    return {TIMESTAMP: timestamp, **flat}
