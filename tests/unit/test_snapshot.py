"""The planner's memo of an org's stream list and manifests (query/snapshot.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from molesignal.lake.streams import Stream, note_local_change
from molesignal.query.snapshot import LakeSnapshots
from molesignal.settings import reset_settings

HOUR = 3_600_000_000


class CountingReader:
    """Stands in for ``Streams``: counts the DynamoDB reads the memo saves."""

    def __init__(self) -> None:
        self.version = 1
        self.list_reads = 0
        self.manifest_reads: list[tuple[int, int] | None] = []
        self.entries = [
            {"key": "a", "min_ts_us": 0, "max_ts_us": HOUR // 2},
            {"key": "b", "min_ts_us": HOUR, "max_ts_us": 2 * HOUR - 1},
        ]

    def all(self, org_id: str) -> list[Stream]:
        self.list_reads += 1
        return [Stream(org_id=org_id, name="app", version=self.version)]

    def manifest_hours(self, org_id: str, name: str, hours: tuple[int, int] | None) -> list[dict[str, Any]]:
        self.manifest_reads.append(hours)
        return list(self.entries)


@pytest.fixture
def ttl(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOLESIGNAL_QUERY_STREAM_LIST_TTL_S", "30")
    monkeypatch.setenv("MOLESIGNAL_QUERY_MANIFEST_MEMO_TTL_S", "30")
    reset_settings()
    yield
    reset_settings()


def test_the_stream_list_is_read_once_until_a_local_change(ttl: None) -> None:
    memo, reader = LakeSnapshots(), CountingReader()
    assert memo.streams(reader, "o1")["app"].version == 1  # type: ignore[arg-type]
    reader.version = 2  # another process committed: not seen until the memo expires
    assert memo.streams(reader, "o1")["app"].version == 1  # type: ignore[arg-type]
    assert reader.list_reads == 1
    note_local_change("o1")  # this process committed: seen at once
    assert memo.streams(reader, "o1")["app"].version == 2  # type: ignore[arg-type]
    assert reader.list_reads == 2
    memo.streams(reader, "o2")  # type: ignore[arg-type]  # another org never shares an entry
    assert reader.list_reads == 3


def test_an_expired_stream_list_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLESIGNAL_QUERY_STREAM_LIST_TTL_S", "0")
    reset_settings()
    try:
        memo, reader = LakeSnapshots(), CountingReader()
        memo.streams(reader, "o1")  # type: ignore[arg-type]
        memo.streams(reader, "o1")  # type: ignore[arg-type]
        assert reader.list_reads == 2
    finally:
        reset_settings()


def test_manifests_are_kept_per_version_and_hours_and_filtered_per_range(ttl: None) -> None:
    memo, reader = LakeSnapshots(), CountingReader()
    v1 = Stream(org_id="o1", name="app", version=1)
    assert [e["key"] for e in memo.manifest(reader, v1, 0, 2 * HOUR)] == ["a", "b"]  # type: ignore[arg-type]
    # Same hours, narrower range: no read, and only the overlapping entry
    assert [e["key"] for e in memo.manifest(reader, v1, HOUR * 3 // 4, 2 * HOUR)] == ["b"]  # type: ignore[arg-type]
    assert reader.manifest_reads == [(0, HOUR)]
    # A new version (rows landed or expired) is read afresh
    memo.manifest(reader, Stream(org_id="o1", name="app", version=2), 0, 2 * HOUR)  # type: ignore[arg-type]
    assert len(reader.manifest_reads) == 2
