"""``_timestamp`` parsing is exact and agrees with the layout on one range."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from molesignal.errors import Invalid
from molesignal.ingest.normalize import normalize, parse_timestamp_us
from molesignal.lake.layout import MAX_TIMESTAMP_US, file_key, is_placeable


def test_every_written_form_of_a_microsecond_reads_back_exactly() -> None:
    rng = random.Random(11)
    for _ in range(20_000):
        seconds, micros = 1_000_000_000 + rng.randrange(2 * 10**9), rng.randrange(10**6)
        expected = seconds * 10**6 + micros
        forms: list[Any] = [
            f"{seconds}.{micros:06d}",
            f"{seconds}{micros:06d}e-6",
            f"{expected}000.0",  # ns as text with a fraction
            f"{expected}999",  # ns; the extra digits are cut, not rounded
            float(f"{seconds}.{micros:06d}"),  # a JSON number in seconds
            float(f"{seconds * 1000 + micros // 1000}.{micros % 1000:03d}"),  # ms with a fraction
            expected,
        ]
        for form in forms:
            assert parse_timestamp_us(form) == expected, form


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9999-12-31T23:59:59.999999+00:00", MAX_TIMESTAMP_US - 1),
        ("2027-01-15T08:00:00.123456789Z", 1_800_000_000_123_456),
        ("2027-01-15T10:00:00.5+02:00", 1_800_000_000_500_000),
        ("1970-01-01T00:00:00", 0),
    ],
)
def test_iso_text_is_counted_in_whole_microseconds(value: str, expected: int) -> None:
    assert parse_timestamp_us(value) == expected


@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59-14:00", 1e21, 4 * 10**21, "1e99999999", 1e300, -1, "1969-12-31T23:59:59.999999Z"],
)
def test_what_the_layout_cannot_place_is_refused_at_the_door(value: Any) -> None:
    with pytest.raises(Invalid) as refused:
        normalize({"_timestamp": value}, received_us=0)
    assert refused.value.code == "invalid_timestamp"
    assert "out of range" in refused.value.message


@pytest.mark.parametrize("value", [0, MAX_TIMESTAMP_US - 1])
def test_the_edges_of_the_range_have_a_partition(value: int) -> None:
    assert is_placeable(value)
    assert file_key("o", "s", value // 3_600_000_000 * 3_600_000_000, "f")


@pytest.mark.parametrize("value", ["nan", "Infinity", Decimal("NaN"), True, [1], "yesterday"])
def test_what_is_no_number_and_no_date_is_invalid(value: Any) -> None:
    with pytest.raises(Invalid) as refused:
        normalize({"_timestamp": value}, received_us=0)
    assert refused.value.code == "invalid_timestamp"
