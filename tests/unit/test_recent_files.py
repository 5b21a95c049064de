"""The tables of files a process just committed, kept for the merge of their tier (ADR 0031):
what is recalled, and that a remembered table is what reading its object back gives."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molesignal.lake.compaction import merge
from molesignal.lake.recent_files import RecentFiles
from molesignal.lake.streams import Stream
from molesignal.lake.writer import cluster, encode_parquet, prepare, split_by_hour
from molesignal.settings import reset_settings

T0 = 1_800_000_000_000_000


@pytest.fixture(autouse=True)
def fanin_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOLESIGNAL_RECENT_COMPACTION_FANIN", "8")
    reset_settings()
    yield
    reset_settings()


def table_of(rows: int, start: int = 0) -> pa.Table:
    return pa.table({"_timestamp": pa.array(range(start, start + rows), pa.int64()), "n": list(range(rows))})


def entry(key: str, rows: int, size: int) -> dict[str, object]:
    return {"key": key, "rows": rows, "bytes": size}


def test_a_file_is_recalled_only_as_its_manifest_entry_lists_it() -> None:
    files = RecentFiles(limit_bytes=1 << 20, enabled=True)
    table = table_of(10)
    files.remember("k1", table, object_bytes=500)
    assert files.recall(entry("k1", 10, 500)) is table
    # Given an entry naming the key with other rows or another size (listed again by someone else)
    assert files.recall(entry("k1", 11, 500)) is None
    assert files.recall(entry("k1", 10, 501)) is None
    # And a key this process never committed
    assert files.recall(entry("k2", 10, 500)) is None


def test_the_least_recently_remembered_go_first_and_merged_inputs_are_forgotten() -> None:
    one = table_of(100)
    size = one.get_total_buffer_size()
    files = RecentFiles(limit_bytes=3 * size, enabled=True)
    for key in ("a", "b", "c", "d"):
        files.remember(key, table_of(100), object_bytes=1)
    assert len(files) == 3 and files.held_bytes == 3 * size
    assert files.recall(entry("a", 100, 1)) is None  # the oldest made room for "d"
    assert files.recall(entry("d", 100, 1)) is not None
    files.forget(["b", "c"])
    assert len(files) == 1 and files.held_bytes == size
    # A table beyond the whole limit is not kept at all
    files.remember("huge", table_of(1000), object_bytes=1)
    assert files.recall(entry("huge", 1000, 1)) is None and len(files) == 1


def test_nothing_is_kept_when_recent_tiers_are_not_merged_or_the_limit_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLESIGNAL_RECENT_COMPACTION_FANIN", "0")
    reset_settings()
    files = RecentFiles(limit_bytes=1 << 20, enabled=True)
    files.remember("k", table_of(5), object_bytes=1)
    assert len(files) == 0
    monkeypatch.setenv("MOLESIGNAL_RECENT_COMPACTION_FANIN", "8")
    monkeypatch.setenv("MOLESIGNAL_RECENT_FILES_CACHE_MIB", "0")
    reset_settings()
    limited = RecentFiles(enabled=True)  # limit from settings: 0 MiB
    limited.remember("k", table_of(5), object_bytes=1)
    assert len(limited) == 0


def test_a_process_that_does_not_merge_recent_tiers_keeps_nothing() -> None:
    files = RecentFiles(limit_bytes=1 << 20)  # not enabled: the audit chain's writer, a query function
    files.remember("k", table_of(5), object_bytes=1)
    assert len(files) == 0 and files.recall(entry("k", 5, 1)) is None


MIXED = b"\n".join(
    [
        b'{"_timestamp":%d,"host":"h1","level":"info","n":1,"f":1.5,"ok":true,"msg":"a"}' % (T0 + 5),
        b'{"_timestamp":%d,"host":"h2","level":"warn","msg":"b","extra":"only here"}' % (T0 + 1),
        b'{"_timestamp":%d,"host":"h1","level":"info","n":-7,"f":null,"ok":false}' % (T0 + 3),
        b'{"_timestamp":%d,"host":"h2","level":"error","n":9007199254740993,"msg":"\\u00e9 \\ud83d\\ude00"}' % (T0 + 2),
    ]
)


def test_a_remembered_table_is_what_reading_its_object_back_gives_and_merges_to_the_same_bytes() -> None:
    stream = Stream(org_id="o1", name="s1")
    encoded, bodies = [], []
    for shift in (0, 10):
        ndjson = MIXED.replace(b'"_timestamp":%d' % T0, b'"_timestamp":%d' % (T0 + shift))
        for _hour, part in split_by_hour(prepare(ndjson, "o1", stream)):
            encoded.append(cluster(part))  # what the writer encodes, and remembers after the commit
            bodies.append(encode_parquet(encoded[-1]))
    read_back = [pq.read_table(io.BytesIO(body)) for body in bodies]
    for kept, read in zip(encoded, read_back, strict=True):
        assert kept.schema == read.schema
        assert kept.equals(read)
    # So the merge of a tier writes the same file from either
    assert encode_parquet(merge(encoded)) == encode_parquet(merge(read_back))
