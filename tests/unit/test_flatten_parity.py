"""Flattening caches names per (prefix, key) and stores plain values without ``_scalar``; the
records it gives must be the ones the plain recursive flattening gives, key order included,
for nested records with colliding, reserved, non-canonical and non-text keys."""

from __future__ import annotations

import random
from typing import Any

import orjson

from molesignal.ingest import normalize as N

RECEIVED = 1_800_000_000_000_000
KEYS: list[Any] = [
    *("level", "http", "status", "a", "b", "a_b", "A-B", "org_id", "_stream", "__ms_x", "@version", "1st", ""),
    *("x" * 130, "ms_x_field", "org_id_field", "é", 1, True, 2.5),
]
LEAVES: list[Any] = ["t", "", 0, -7, 2**63 - 1, 2**63, -(2**63) - 1, 1.25, True, False, None, [1, {"a": 2}], {}]


def _reference_flatten(record: dict[Any, Any], prefix: str, out: dict[str, Any], depth: int) -> None:
    """Flattening as it was before the name cache: the joined name built for every key."""
    for key, value in record.items():
        name = N.field_name(f"{prefix}{key}" if prefix else str(key))
        if isinstance(value, dict) and value and depth < 16:
            _reference_flatten(value, name + "_", out, depth + 1)
            continue
        while name in out:
            name = f"{name}_"
        if isinstance(value, dict):
            out[name] = orjson.dumps(value).decode() if value else None
        else:
            out[name] = N._scalar(value)


def _reference(record: dict[Any, Any]) -> dict[str, Any]:
    body = {k: v for k, v in record.items() if k != N.TIMESTAMP}
    flat: dict[str, Any] = {}
    _reference_flatten(body, "", flat, 0)
    N._rename_reserved(flat)
    return {N.TIMESTAMP: RECEIVED, **flat}


def _outcome(flatten: Any, record: dict[Any, Any]) -> Any:
    """The record, or the error's type: a non-text key nested too deep to flatten cannot be
    written as JSON text, and both ways must refuse it alike."""
    try:
        return flatten(record)
    except TypeError as exc:
        return {"error": type(exc).__name__}


def _random_value(rng: random.Random, depth: int) -> Any:
    if depth < 18 and rng.random() < 0.3:
        return {rng.choice(KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    return rng.choice(LEAVES)


def test_flattening_gives_what_the_plain_recursion_gives() -> None:
    rng = random.Random(20261206)
    nested = 0
    for _ in range(5000):
        record = {rng.choice(KEYS): _random_value(rng, 0) for _ in range(rng.randint(1, 6))}
        record.pop(N.TIMESTAMP, None)
        if any(isinstance(k, str) and k in ("time", "timestamp", "@timestamp") for k in record):
            continue  # the timestamp aliases are normalize's business, not flattening's
        expected, got = _outcome(_reference, record), _outcome(lambda r: N.normalize(r, received_us=RECEIVED), record)
        assert got == expected and list(got) == list(expected), record
        nested += any(isinstance(v, dict) and v for v in record.values())
    assert nested > 1000  # nested records were exercised, not only flat ones


def test_a_name_cached_under_one_prefix_is_not_used_under_another() -> None:
    one = N.normalize({"a": {"b": 1}, "c": {"b": 2}}, received_us=RECEIVED)
    assert one == {N.TIMESTAMP: RECEIVED, "a_b": 1, "c_b": 2}
    # 1 and True are one dict key in Python, but different names here: neither takes the other's
    assert N.normalize({"n": {1: "a"}}, received_us=RECEIVED) == {N.TIMESTAMP: RECEIVED, "n_1": "a"}
    assert N.normalize({"n": {True: "b"}}, received_us=RECEIVED) == {N.TIMESTAMP: RECEIVED, "n_true": "b"}
