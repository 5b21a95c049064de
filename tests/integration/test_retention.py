"""Retention against the local system: whole files past a stream's retention go, the data
version moves (cached answers become unreachable), stats and usage follow, the objects go
after a grace period, a racing writer is retried around, and a re-run does nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import registry
from molesignal.clock import now_us
from molesignal.lake.layout import HOUR_US, hour_of
from molesignal.lake.retention import DAY_US, Retention
from molesignal.lake.streams import Streams
from molesignal.lake.writer import Lake
from molesignal.local.scheduler import Scheduler
from molesignal.quotas import Limiter
from molesignal.storage.table import Table
from tests.integration import test_compaction as shared
from tests.integration.test_compaction import compact, gc_items, manifest, object_exists, sweep_at
from tests.support.api import Session
from tests.support.lake import drain_ingest

# fixtures shared with the compaction tests: one org per module, a stream per test
tenant, stream, reader_drops_superseded = shared.tenant, shared.stream, shared.reader_drops_superseded
pytestmark = pytest.mark.usefixtures("reader_drops_superseded")

RETENTION_DAYS = 7


def land(client: httpx.Client, tenant: dict[str, Any], stream: str, *timestamps: int) -> None:
    """One request (one file per hour it touches) per timestamp group."""
    rows = [{"_timestamp": ts, "n": i} for i, ts in enumerate(timestamps)]
    assert client.post(f"/api/v1/ingest/{stream}", json=rows, headers=tenant["ingest"]).status_code == 202


def set_retention(client: httpx.Client, who: Session, stream: str, days: int = RETENTION_DAYS) -> None:
    response = client.patch(f"/api/v1/streams/{stream}", json={"retention_days": days}, headers=who.headers)
    assert response.status_code == 200, response.text


def count(client: httpx.Client, who: Session, stream: str, moment: int, sql: str | None = None) -> tuple[int, bool]:
    body = {
        "sql": sql or f"SELECT count(*) AS n FROM {stream}",
        "time_range": {"start": moment - 40 * DAY_US, "end": moment + DAY_US},
    }
    response = client.post("/api/v1/query", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["rows"][0]["n"]), bool(response.json()["cache_hit"])


@pytest.fixture
def moment() -> int:
    """ "Now" for retention, half-way through an hour, so the cutoff is too."""
    return hour_of(now_us()) + HOUR_US // 2


def test_whole_files_past_the_retention_go_and_the_version_moves(
    client: httpx.Client, tenant: dict[str, Any], stream: str, moment: int
) -> None:
    org, who = tenant["org"], tenant["viewer"]
    cutoff = moment - RETENTION_DAYS * DAY_US
    old = moment - 10 * DAY_US
    land(client, tenant, stream, old, old + 1, old + 2)  # an hour wholly past the cutoff...
    land(client, tenant, stream, old + 5)  # ...in two files
    land(client, tenant, stream, cutoff - 1_000_000, cutoff + 1_000_000)  # straddles the cutoff: kept
    land(client, tenant, stream, moment - DAY_US, moment - DAY_US + 1)  # recent
    drain_ingest()
    set_retention(client, who, stream)
    streams, limiter = Streams(Table()), Limiter(Table())
    before, usage_before = streams.get(org, stream), limiter.usage(org)["storage_bytes"]
    entries = manifest(org, stream)
    expired = [e for e in entries if e["max_ts_us"] < cutoff]
    assert len(entries) == 4 and len(expired) == 2
    cached_sql = f"SELECT count(*) AS n FROM {stream} WHERE n >= 0"
    assert count(client, who, stream, moment, cached_sql) == (8, False)
    assert count(client, who, stream, moment, cached_sql) == (8, True)

    result = Retention(grace_s=60).apply(org, stream, now_us=moment)

    assert (result.files, result.rows, result.bytes) == (2, 4, sum(e["bytes"] for e in expired))
    assert sorted(e["sk"] for e in manifest(org, stream)) == sorted(e["sk"] for e in entries if e not in expired)
    after = streams.get(org, stream)
    assert after.version > before.version
    assert (after.row_count, after.file_count) == (before.row_count - 4, before.file_count - 2)
    assert after.bytes == before.bytes - result.bytes
    assert (after.first_ts_us, after.last_ts_us) == (cutoff - 1_000_000, before.last_ts_us)
    assert limiter.usage(org)["storage_bytes"] == usage_before - result.bytes
    # the cached answer is unreachable: the same SQL runs again and sees the rows that remain
    assert count(client, who, stream, moment, cached_sql) == (4, False)
    # objects stay through the grace period
    assert all(object_exists(e["key"]) for e in expired)
    sweep_at(moment + 61_000_000)
    assert not any(object_exists(e["key"]) for e in expired)
    assert gc_items(org, stream, "GRACE") == []

    # Running again changes nothing — not even the version
    assert Retention().apply(org, stream, now_us=moment).files == 0
    assert streams.get(org, stream) == after

    # An hour later the straddling file has aged out too; days later, everything has
    later = moment + HOUR_US
    assert Retention().apply(org, stream, now_us=later).files == 1
    assert streams.get(org, stream).first_ts_us == moment - DAY_US
    assert Retention().apply(org, stream, now_us=moment + 8 * DAY_US).rows == 2
    empty = streams.get(org, stream)
    assert (empty.row_count, empty.file_count, empty.bytes, empty.first_ts_us, empty.last_ts_us) == (
        0,
        0,
        0,
        None,
        None,
    )
    assert manifest(org, stream) == []
    assert count(client, who, stream, moment) == (0, False)


def test_compacted_files_expire_like_any_other(
    client: httpx.Client, tenant: dict[str, Any], stream: str, moment: int
) -> None:
    org = tenant["org"]
    recent = moment - 2 * DAY_US
    for i in range(3):
        land(client, tenant, stream, recent + i)
    drain_ingest()
    set_retention(client, tenant["viewer"], stream)
    assert [r.outcome for r in compact(tenant, stream)] == ["committed"]
    (merged,) = manifest(org, stream)

    result = Retention(grace_s=60).apply(org, stream, now_us=moment + 6 * DAY_US)

    assert (result.files, result.rows) == (1, 3)
    stats = Streams(Table()).get(org, stream)
    assert (stats.row_count, stats.file_count, stats.bytes) == (0, 0, 0)
    sweep_at(moment + 6 * DAY_US + 61_000_000)
    assert not object_exists(merged["key"])


def test_a_writer_landing_meanwhile_is_retried_around_and_counted_exactly(
    client: httpx.Client, tenant: dict[str, Any], stream: str, moment: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tenant["org"]
    land(client, tenant, stream, moment - 10 * DAY_US, moment - 9 * DAY_US)
    land(client, tenant, stream, moment - DAY_US)
    drain_ingest()
    set_retention(client, tenant["viewer"], stream)
    real_commit = Retention._commit
    calls = {"n": 0}

    def writer_first(self: Retention, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # between retention's read and its commit, a batch lands
            Lake().append_batch(org, stream, f"late{moment:x}", b'{"_timestamp": %d, "n": 9}\n' % (moment - 60))
        real_commit(self, *args)

    monkeypatch.setattr(Retention, "_commit", writer_first)

    result = Retention().apply(org, stream, now_us=moment)

    assert (result.files, result.rows, result.conflicts, calls["n"]) == (2, 2, 1, 2)
    stats = Streams(Table()).get(org, stream)
    assert stats.row_count == 2 and stats.file_count == 2
    assert count(client, tenant["viewer"], stream, moment) == (2, False)


def test_the_retention_schedule_is_registered_and_fires(
    client: httpx.Client, tenant: dict[str, Any], stream: str
) -> None:
    (job,) = [s for s in registry.REGISTRY.schedules if s.name == "retention_worker"]
    assert job.schedule in ("rate(1 hour)", "rate(60 minutes)")
    land(client, tenant, stream, now_us() - 10 * DAY_US)
    land(client, tenant, stream, now_us() - DAY_US)
    drain_ingest()
    set_retention(client, tenant["viewer"], stream)

    report = Scheduler(tuple(registry.REGISTRY.schedules)).fire("retention_worker")

    assert report["files_removed"] >= 1 and report["orgs"] >= 1
    assert (report["truncated"], report["errors"]) == (False, 0)
    assert len(manifest(tenant["org"], stream)) == 1
    assert Scheduler(tuple(registry.REGISTRY.schedules)).fire("retention_worker")["files_removed"] == 0


def test_a_deleted_stream_goes_at_once_and_its_objects_after_the_grace(
    client: httpx.Client, tenant: dict[str, Any], stream: str, moment: int
) -> None:
    org, admin = tenant["org"], tenant["viewer"]
    land(client, tenant, stream, moment - DAY_US, moment - DAY_US + 1)
    land(client, tenant, stream, moment - 2 * HOUR_US)
    drain_ingest()
    entries = manifest(org, stream)
    usage_before = Limiter(Table()).usage(org)["storage_bytes"]
    assert len(entries) == 2 and count(client, admin, stream, moment) == (3, False)

    deleted = client.delete(f"/api/v1/streams/{stream}", headers=admin.headers)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"name": stream, "deleted_files": 2}
    query = {"sql": f"SELECT 1 FROM {stream}", "time_range": {"start": moment - DAY_US, "end": moment}}
    gone = client.post("/api/v1/query", json=query, headers=admin.headers)
    assert gone.status_code == 404 and gone.json()["code"] == "TABLE_NOT_FOUND"
    assert manifest(org, stream) == []
    assert Limiter(Table()).usage(org)["storage_bytes"] == usage_before - sum(int(e["bytes"]) for e in entries)
    # A query planned a moment before may still be reading the files: they outlive the grace.
    scheduled = gc_items(org, stream, "GRACE")
    assert [sorted(i["keys"]) for i in scheduled] == [sorted(e["key"] for e in entries)]
    assert {i["reason"] for i in scheduled} == {"stream deleted"}
    assert all(object_exists(e["key"]) for e in entries)
    sweep_at(now_us() + 14 * 60_000_000)
    assert all(object_exists(e["key"]) for e in entries)
    sweep_at(now_us() + 16 * 60_000_000)
    assert not any(object_exists(e["key"]) for e in entries)
    assert gc_items(org, stream, "GRACE") == []
    assert client.delete(f"/api/v1/streams/{stream}", headers=admin.headers).status_code == 404
