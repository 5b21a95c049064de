"""Warm-function memos (molesignal.recent) and the storage check's reuse rule (molesignal.quotas)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from molesignal.quotas import _UsageViews
from molesignal.recent import RecentReads
from molesignal.settings import reset_settings


@pytest.fixture
def memo_s(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOLESIGNAL_WARM_MEMO_S", "5")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.usefixtures("memo_s")
def test_a_read_is_reused_within_the_window_and_forgotten_after_a_local_change() -> None:
    loads: list[int] = []
    memo: RecentReads[str, int] = RecentReads()

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert memo.get("org", load) == 1
    assert memo.get("org", load) == 1  # within 5 s: no second read
    memo.forget("org")  # this process changed it
    assert memo.get("org", load) == 2


def test_no_window_reads_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLESIGNAL_WARM_MEMO_S", "0")
    reset_settings()
    try:
        memo: RecentReads[str, int] = RecentReads()
        values = iter(range(10))
        assert [memo.get("org", lambda: next(values)) for _ in range(3)] == [0, 1, 2]
    finally:
        monkeypatch.undo()
        reset_settings()


@pytest.mark.usefixtures("memo_s")
def test_storage_use_is_reread_whenever_the_request_might_not_fit() -> None:
    reads: list[int] = []
    stored = {"bytes": 100}

    def read() -> int:
        reads.append(stored["bytes"])
        return stored["bytes"]

    views = _UsageViews()
    # Far under the cap: the first request reads, the next reuse it plus what was admitted since
    assert views.used("org", 10, 1_000, read) == 100
    views.admitted("org", 10)
    assert views.used("org", 10, 1_000, read) == 110
    views.admitted("org", 10)
    assert len(reads) == 1
    # When the reading plus admissions plus the request pass the cap, it reads again (a
    # refusal is always decided on a fresh reading)
    stored["bytes"] = 990
    assert views.used("org", 900, 1_000, read) == 990
    assert reads == [100, 990]
