"""The worker's NDJSON → Arrow conversion picks the fast Arrow reader whenever it is exact."""

from __future__ import annotations

import orjson
import pytest

from molesignal.lake import arrow_batch


def _ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def test_microsecond_timestamps_next_to_floats_stay_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_slow_path(*_: object) -> None:
        raise AssertionError("took the slow path")

    monkeypatch.setattr(arrow_batch, "_slow", no_slow_path)
    rows = [{"_timestamp": 1_800_000_000_000_000 + i, "ms": i + 0.5, "n": i} for i in range(100)]
    table = arrow_batch.to_table(_ndjson(rows), {})
    assert table.column("_timestamp").to_pylist()[0] == 1_800_000_000_000_000


def test_integers_beyond_two_to_the_53_take_the_exact_path() -> None:
    big = 9_007_199_254_740_993
    table = arrow_batch.to_table(_ndjson([{"_timestamp": 1, "v": 0.5}, {"_timestamp": 2, "v": big}]), {})
    assert table.column("v").to_pylist() == ["0.5", str(big)]


def test_big_integers_inside_strings_stay_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # A span's events land as JSON text: nanosecond times inside a string lose nothing.
    monkeypatch.setattr(arrow_batch, "_slow", lambda *_: pytest.fail("took the slow path"))
    events = orjson.dumps([{"time_unix_nano": 1_795_305_600_123_456_789, "name": "retry"}]).decode()
    table = arrow_batch.to_table(_ndjson([{"_timestamp": 1, "duration_ms": 1.5, "events": events}]), {})
    assert table.column("events").to_pylist() == [events]


@pytest.mark.parametrize("big", [9_007_199_254_740_993, -9_007_199_254_740_993, 2**63 - 1])
def test_every_integer_that_floats_would_round_takes_the_exact_path(big: int) -> None:
    rows = [{"_timestamp": 1, "v": 0.5}, {"_timestamp": 2, "v": big}, {"_timestamp": 3, "v": None}]
    assert arrow_batch.to_table(_ndjson(rows), {}).column("v").to_pylist() == ["0.5", str(big), None]


def test_integers_up_to_two_to_the_53_stay_exact_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrow_batch, "_slow", lambda *_: pytest.fail("took the slow path"))
    edge = 2**53 - 1
    table = arrow_batch.to_table(_ndjson([{"_timestamp": 1, "v": 0.5}, {"_timestamp": 2, "v": edge}]), {})
    assert table.column("v").to_pylist() == [0.5, float(edge)] and int(table.column("v")[1].as_py()) == edge


def test_a_stream_float_column_with_a_big_integer_keeps_every_digit() -> None:
    big = 12_345_678_901_234_567_891
    table = arrow_batch.to_table(_ndjson([{"_timestamp": 1, "v": big}]), {"v": "float64"})
    assert table.column("v").to_pylist() == [str(big)]
