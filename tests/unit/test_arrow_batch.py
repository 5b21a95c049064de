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
