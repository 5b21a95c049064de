"""Records that are already flat and canonical skip flattening; the answer must be the one
flattening gives, for those and for every record that only looks close."""

from __future__ import annotations

import random
from typing import Any

import pytest

from molesignal.ingest import normalize as N

RECEIVED = 1_800_000_000_000_000
KEYS = [
    *("level", "msg", "http_status", "org_id", "_stream", "Level", "a-b", "1st", "@version", "", "x" * 130, "a_b"),
    *("__ms_x", "ms_x_field", "org_id_field"),
]
VALUES: list[Any] = [
    "text",
    "",
    0,
    -5,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    1.5,
    float("inf"),
    True,
    False,
    None,
    [1, "two"],
    {},
    {"b": 1},
    {"nested": {"deeper": "x"}},
]


def _reference(record: Any) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(N, "_is_flat_canonical", lambda _body: False)
        return N.normalize(record, received_us=RECEIVED)


def _random_record(rng: random.Random) -> dict[str, Any]:
    record = {rng.choice(KEYS): rng.choice(VALUES) for _ in range(rng.randint(0, 6))}
    if rng.random() < 0.5:
        record["_timestamp"] = RECEIVED + rng.randint(0, 10**6)
    return record


def test_the_fast_path_gives_what_flattening_gives_on_random_records() -> None:
    rng = random.Random(20261124)
    took_fast = 0
    for _ in range(5000):
        record = _random_record(rng)
        expected = _reference(record)
        got = N.normalize(record, received_us=RECEIVED)
        assert got == expected and list(got) == list(expected), record
        took_fast += N._is_flat_canonical({k: v for k, v in record.items() if k != "_timestamp"})
    assert 200 < took_fast < 4800  # both paths were exercised


@pytest.mark.parametrize(
    ("record", "fast"),
    [
        ({"level": "info", "n": 3, "ok": True, "ms": 1.5, "none": None}, True),
        ({"level": "info", "org_id": "other"}, False),  # reserved: renamed to org_id_field
        ({"_stream": "x"}, False),
        ({"__ms_evil": "x"}, False),  # the engine's reserved prefix: renamed to ms_evil_field
        ({"Level": "info"}, False),  # not canonical: lower-cased
        ({"http": {"status": 200}}, False),  # nested: flattened
        ({"tags": ["a"]}, False),  # a list becomes its JSON text
        ({"big": 2**64}, False),  # beyond int64: kept as text
    ],
)
def test_which_records_take_the_fast_path(record: dict[str, Any], fast: bool) -> None:
    assert N._is_flat_canonical(record) is fast
    assert N.normalize(record, received_us=RECEIVED) == _reference(record)


def test_a_reserved_name_is_never_trusted_even_after_a_fast_record() -> None:
    N.normalize({"level": "a"}, received_us=RECEIVED)
    assert N.normalize({"org_id": "evil"}, received_us=RECEIVED) == {"_timestamp": RECEIVED, "org_id_field": "evil"}
