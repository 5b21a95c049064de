"""Compaction against the local system: small files of an hour become one, queries answer
exactly as before (from the cache too — the data version does not move), stats follow,
replaced objects go only after their grace period, and a crash or a rival compactor at any
step leaves every row listed exactly once."""

from __future__ import annotations

import os
import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import registry
from molesignal import aws
from molesignal.clock import now_us
from molesignal.lake import garbage
from molesignal.lake.compaction import CompactionPolicy, Compactor, RoundResult, run_compaction
from molesignal.lake.streams import Streams, manifest_partition, manifest_sort_key
from molesignal.lake.visibility import drop_superseded
from molesignal.local.scheduler import Scheduler
from molesignal.provision import provision
from molesignal.quotas import Limiter
from molesignal.settings import get_settings, reset_settings
from molesignal.storage.table import Item, Table
from tests.support.api import (
    ROOT_PASSWORD,
    Session,
    bearer,
    create_api_token,
    create_org,
    create_user,
    ensure_setup,
    login,
)
from tests.support.lake import drain_ingest, landed_rows, landing_one_by_one

T0 = 1_800_000_000_000_000  # an hour boundary in 2027
HOUR = 3_600_000_000


class WorkerKilled(BaseException):
    """Escapes every ``except Exception``, like the process dying."""


# --- shared with test_consistency and test_retention ------------------------------------
@pytest.fixture
def reader_drops_superseded(system: Any, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Readers must drop entries a listed compacted entry replaces (``molesignal.lake.
    visibility``): a DynamoDB Query — and moto — may show a compaction's commit half-applied.

    If ``Streams.manifest`` does not do it yet, it is patched to for the test (and a warning
    says so); once it does, the tests exercise the production reader unchanged.
    """
    table = Table()
    org, hour = f"probe{uuid.uuid4().hex[:8]}", T0 // HOUR * HOUR
    partition = manifest_partition(org, "probe")
    old = {"pk": partition, "sk": manifest_sort_key(hour, "00aa"), "min_ts_us": hour, "max_ts_us": hour, "rows": 1}
    new = {**old, "sk": manifest_sort_key(hour, "zc000001-aa"), "replaces": [old["sk"]]}
    for item in (old, new):
        table.put(item)
    try:
        listed = {e["sk"] for e in Streams(table).manifest(org, "probe")}
    finally:
        for item in (old, new):
            table.delete(item["pk"], item["sk"])
    if old["sk"] not in listed:
        return True
    original = Streams.manifest

    def manifest(self: Streams, *args: Any, **kwargs: Any) -> list[Item]:
        return drop_superseded(original(self, *args, **kwargs))

    monkeypatch.setattr(Streams, "manifest", manifest)
    warnings.warn(
        "Streams.manifest does not drop superseded entries yet (see molesignal.lake.visibility); patched for this test",
        stacklevel=1,
    )
    return False


@pytest.fixture(scope="module")
def tenant(system: Any, base_url: str) -> Iterator[dict[str, Any]]:
    """A deployment of the module's own, with one org whose admin queries and one ingest
    token; each test uses its own stream.

    Its own table stays small, which keeps the emulator fast: moto copies the whole table
    for every operation of a transaction, and compaction commits many of them.
    """
    previous = os.environ.get("MOLESIGNAL_RESOURCE_PREFIX")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"mslake{uuid.uuid4().hex[:6]}"
    # These tests drive the scheduled compaction over files landed one per request: the worker
    # takes one message per invocation (a batch's messages would share a file) and leaves
    # recent hours to the schedule (its own merging, ADR 0011, is tested in test_recent_compaction).
    os.environ["MOLESIGNAL_RECENT_COMPACTION_FANIN"] = "0"
    reset_settings()
    one_by_one = landing_one_by_one()
    one_by_one.__enter__()
    provision()
    try:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            ensure_setup(http)
            root = login(http, "root", ROOT_PASSWORD)
            org = create_org(http, root)
            admin = create_user(http, root, "admin", org_id=org)
            yield {"org": org, "viewer": admin, "ingest": bearer(create_api_token(http, admin, role="ingest"))}
    finally:
        one_by_one.__exit__(None, None, None)
        os.environ.pop("MOLESIGNAL_RECENT_COMPACTION_FANIN", None)
        if previous is None:
            os.environ.pop("MOLESIGNAL_RESOURCE_PREFIX", None)
        else:
            os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = previous
        reset_settings()


@pytest.fixture
def stream() -> str:
    return f"s{uuid.uuid4().hex[:10]}"


def send(
    client: httpx.Client,
    tenant: dict[str, Any],
    stream: str,
    requests: int,
    per_request: int,
    *,
    first: int = 0,
    t0: int = T0,
    spread_hours: int = 1,
) -> list[dict[str, Any]]:
    """``requests`` requests (one file each: the module's worker takes one message per
    invocation) of rows with a unique ``u``; request r lands in hour ``r % spread_hours``."""
    sent: list[dict[str, Any]] = []
    for r in range(first, first + requests):
        rows = [
            {
                "_timestamp": t0 + (r % spread_hours) * HOUR + r * 1000 + i,
                "u": r * per_request + i,
                "level": ("info", "warn", "error")[(r + i) % 3],
            }
            for i in range(per_request)
        ]
        response = client.post(f"/api/v1/ingest/{stream}", json=rows, headers=tenant["ingest"])
        assert response.status_code == 202, response.text
        sent.extend(rows)
    return sent


def post_query(
    client: httpx.Client, who: Session, sql: str, *, start: int = T0 - HOUR, end: int = T0 + 48 * HOUR
) -> httpx.Response:
    return client.post(
        "/api/v1/query", json={"sql": sql, "time_range": {"start": start, "end": end}}, headers=who.headers
    )


def query(client: httpx.Client, who: Session, sql: str) -> Any:
    response = post_query(client, who, sql)
    assert response.status_code == 200, response.text
    return response.json()


def count_and_sum(client: httpx.Client, who: Session, stream: str, salt: int) -> tuple[int, int, bool]:
    """A fresh SQL text each time (``salt``), so the engine runs rather than the cache."""
    body = query(client, who, f"SELECT count(*) AS n, sum(u) AS s FROM {stream} WHERE u > -1 - {salt}")
    row = body["rows"][0]
    return int(row["n"]), int(row["s"] or 0), bool(body["cache_hit"])


def manifest(org: str, stream: str) -> list[Item]:
    return Streams(Table()).manifest(org, stream)


def gc_items(org: str, stream: str, kind: str) -> list[Item]:
    """The stream's garbage items: ``PENDING`` reservations or ``GRACE`` schedules."""
    items = Table().query_all(garbage.gc_partition(org), sk_prefix=f"{kind}#")
    mine = f"lake/org={org}/stream={stream}/"
    return [
        i for i in items if str(i.get("key", "")).startswith(mine) or any(k.startswith(mine) for k in i.get("keys", ()))
    ]


def object_exists(key: str) -> bool:
    s3 = aws.client("s3")
    try:
        s3.head_object(Bucket=get_settings().resource_name("lake"), Key=key)
    except s3.exceptions.ClientError:
        return False
    return True


def compact(tenant: dict[str, Any], stream: str, compactor: Compactor | None = None) -> list[RoundResult]:
    return (compactor or Compactor()).compact_stream(tenant["org"], stream)[0]


def sweep_at(moment: int, **kwargs: Any) -> garbage.SweepResult:
    return garbage.sweep(Table(), get_settings().resource_name("lake"), now_us=moment, **kwargs)


# --- tests ------------------------------------------------------------------------------
pytestmark = pytest.mark.usefixtures("reader_drops_superseded")


def test_small_files_of_an_hour_become_one_and_every_answer_stays_the_same(
    client: httpx.Client, tenant: dict[str, Any], stream: str
) -> None:
    org, who = tenant["org"], tenant["viewer"]
    sent = send(client, tenant, stream, requests=12, per_request=25)
    drain_ingest()
    inputs = manifest(org, stream)
    assert len(inputs) == 12
    streams, limiter = Streams(Table()), Limiter(Table())
    before, usage_before = streams.get(org, stream), limiter.usage(org)["storage_bytes"]
    cached_sql = f"SELECT level, count(*) AS n, sum(u) AS s FROM {stream} GROUP BY level ORDER BY level"
    cached = query(client, who, cached_sql)
    assert cached["cache_hit"] is False
    expected = (len(sent), sum(r["u"] for r in sent))
    assert count_and_sum(client, who, stream, 1)[:2] == expected

    # When compaction runs (grace: one minute)
    compactor = Compactor(policy=CompactionPolicy(grace_s=60))
    (round_,) = compact(tenant, stream, compactor)

    # Then one file replaces the twelve...
    assert (round_.outcome, round_.inputs, round_.rows) == ("committed", 12, 300)
    (merged,) = manifest(org, stream)
    assert merged["key"] == round_.output_key
    assert merged["key"].startswith(f"lake/org={org}/stream={stream}/date=2027-01-15/hour=08/zc000001-")
    assert sorted(merged["replaces"]) == sorted(e["sk"] for e in inputs)
    assert (merged["rows"], merged["hour_us"], merged["kind"], merged["bytes"]) == (
        300,
        T0,
        "lake_file",
        round_.bytes_out,
    )
    assert (merged["min_ts_us"], merged["max_ts_us"]) == (sent[0]["_timestamp"], sent[-1]["_timestamp"])
    assert sorted(r["u"] for r in landed_rows(org, stream)) == sorted(r["u"] for r in sent)
    # ...answers are unchanged — computed afresh, and from the cache, which stays valid
    assert count_and_sum(client, who, stream, 2) == (*expected, False)
    again = query(client, who, cached_sql)
    assert again["cache_hit"] is True and again["rows"] == cached["rows"]
    # ...the data version and row count stand still; bytes, files and usage follow the layout
    after = streams.get(org, stream)
    assert (after.version, after.row_count, after.schema) == (before.version, before.row_count, before.schema)
    assert (after.file_count, after.bytes) == (1, merged["bytes"])
    delta = merged["bytes"] - sum(e["bytes"] for e in inputs)
    assert limiter.usage(org)["storage_bytes"] == usage_before + delta

    # The replaced objects stay through the grace period, then the sweep deletes them
    assert all(object_exists(e["key"]) for e in inputs)
    compactor.sweep()
    assert all(object_exists(e["key"]) for e in inputs)
    compactor.sweep(now_us=now_us() + 61_000_000)
    assert not any(object_exists(e["key"]) for e in inputs)
    assert object_exists(merged["key"]) and gc_items(org, stream, "GRACE") == []
    assert count_and_sum(client, who, stream, 3) == (*expected, False)
    # and running again finds nothing to do
    assert compact(tenant, stream) == []


def test_files_with_conflicting_types_merge_without_losing_a_value(
    client: httpx.Client, tenant: dict[str, Any], stream: str
) -> None:
    batches = [
        [{"_timestamp": T0 + 1, "code": 200, "ratio": 1, "ok": True, "n": 1}],
        [{"_timestamp": T0 + 2, "code": "E42", "ratio": 0.5, "ok": "yes", "n": 2, "extra": 7}],
        [{"_timestamp": T0 + 3, "code": 201, "ratio": 2, "ok": False, "n": 3}],
    ]
    for rows in batches:  # one file each
        assert client.post(f"/api/v1/ingest/{stream}", json=rows, headers=tenant["ingest"]).status_code == 202
    drain_ingest()
    sql = f"SELECT n, code, ratio, ok, extra FROM {stream} ORDER BY n"
    before = query(client, tenant["viewer"], sql)["rows"]
    assert before[0]["code"] == "200"  # the reader already casts up to the stream's string

    assert [r.inputs for r in compact(tenant, stream)] == [3]

    rows = landed_rows(tenant["org"], stream)
    assert [(r["code"], r["ratio"], r["ok"], r.get("extra")) for r in rows] == [
        ("200", 1.0, "true", None),
        ("E42", 0.5, "yes", 7),
        ("201", 2.0, "false", None),
    ]
    assert query(client, tenant["viewer"], sql + " LIMIT 100")["rows"] == before


def test_integers_a_float_column_would_round_stay_in_their_own_file(
    client: httpx.Client, tenant: dict[str, Any], stream: str
) -> None:
    org, big = tenant["org"], 2**60 + 1
    for rows in (
        [{"_timestamp": T0 + 1, "v": big}],
        [{"_timestamp": T0 + 2, "v": 0.5}],
        [{"_timestamp": T0 + 3, "v": 2.5}],
    ):  # one file each
        assert client.post(f"/api/v1/ingest/{stream}", json=rows, headers=tenant["ingest"]).status_code == 202
    drain_ingest()
    assert Streams(Table()).get(org, stream).schema["v"] == "float64"

    assert [(r.outcome, r.inputs) for r in compact(tenant, stream)] == [("committed", 2)]

    entries = manifest(org, stream)
    assert len(entries) == 2 and sum(1 for e in entries if e.get("no_compact")) == 1
    assert [r["v"] for r in landed_rows(org, stream)] == [big, 0.5, 2.5]
    assert compact(tenant, stream) == []  # the excluded file is not read again


def test_killed_after_writing_the_output_a_rerun_commits_the_same_file_once(
    client: httpx.Client, tenant: dict[str, Any], stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tenant["org"]
    sent = send(client, tenant, stream, requests=6, per_request=10)
    drain_ingest()
    inputs = manifest(org, stream)

    def killed(*_: Any, **__: Any) -> bool:
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(Compactor, "_commit", killed)
        with pytest.raises(WorkerKilled):
            compact(tenant, stream)
    # The output was written and reserved, but nothing lists it: the old files still answer
    assert manifest(org, stream) == inputs
    assert count_and_sum(client, tenant["viewer"], stream, 1)[:2] == (60, sum(r["u"] for r in sent))
    (pending,) = gc_items(org, stream, "PENDING")
    assert object_exists(pending["key"])

    (round_,) = compact(tenant, stream)

    (merged,) = manifest(org, stream)
    assert round_.outcome == "committed" and round_.output_key == merged["key"] == pending["key"]
    assert gc_items(org, stream, "PENDING") == []
    assert sorted(r["u"] for r in landed_rows(org, stream)) == sorted(r["u"] for r in sent)
    assert count_and_sum(client, tenant["viewer"], stream, 2)[:2] == (60, sum(r["u"] for r in sent))


def test_killed_after_the_commit_before_the_sweep_nothing_is_lost_or_doubled(
    client: httpx.Client, tenant: dict[str, Any], stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tenant["org"]
    sent = send(client, tenant, stream, requests=5, per_request=10)
    drain_ingest()
    inputs = manifest(org, stream)
    compactor = Compactor(policy=CompactionPolicy(grace_s=60))

    def killed(*_: Any, **__: Any) -> None:
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(Compactor, "sweep", killed)
        with pytest.raises(WorkerKilled):
            run_compaction(compactor, orgs=[org])

    assert len(manifest(org, stream)) == 1
    assert count_and_sum(client, tenant["viewer"], stream, 1)[:2] == (50, sum(r["u"] for r in sent))
    assert [sorted(g["keys"]) for g in gc_items(org, stream, "GRACE")] == [sorted(e["key"] for e in inputs)]
    # The next run has nothing to merge, and its sweep deletes the objects once they are due
    assert compact(tenant, stream, compactor) == []
    compactor.sweep(now_us=now_us() + 61_000_000)
    assert not any(object_exists(e["key"]) for e in inputs)
    assert gc_items(org, stream, "GRACE") == []
    assert sorted(r["u"] for r in landed_rows(org, stream)) == sorted(r["u"] for r in sent)


def test_two_compactors_racing_on_a_partition_one_wins_and_counts_stay_exact(
    client: httpx.Client, tenant: dict[str, Any], stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tenant["org"]
    sent = send(client, tenant, stream, requests=8, per_request=10)
    drain_ingest()
    # Both have planned, merged and written the same output before either commits. (The
    # transactions themselves are serialised: moto's are not isolated from one another,
    # DynamoDB's are.)
    ready, commit_lock = threading.Barrier(2, timeout=30), threading.Lock()
    real_commit = Compactor._commit

    def commit_after_rival(self: Compactor, *args: Any) -> bool:
        ready.wait()
        with commit_lock:
            return real_commit(self, *args)

    monkeypatch.setattr(Compactor, "_commit", commit_after_rival)
    results: list[RoundResult] = []
    workers = [threading.Thread(target=lambda: results.extend(compact(tenant, stream))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert sorted(r.outcome for r in results) == ["committed", "lost"]
    assert results[0].output_key == results[1].output_key  # same inputs, same name
    (merged,) = manifest(org, stream)
    assert merged["rows"] == 80
    assert sorted(r["u"] for r in landed_rows(org, stream)) == sorted(r["u"] for r in sent)
    stats = Streams(Table()).get(org, stream)
    assert (stats.file_count, stats.bytes, stats.row_count) == (1, merged["bytes"], 80)
    # The winner's commit released the reservation both shared: nothing is left to sweep
    assert gc_items(org, stream, "PENDING") == []
    assert count_and_sum(client, tenant["viewer"], stream, 1)[:2] == (80, sum(r["u"] for r in sent))


def test_an_abandoned_output_is_deleted_without_listing_the_bucket(
    client: httpx.Client, tenant: dict[str, Any], stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tenant["org"]
    send(client, tenant, stream, requests=3, per_request=5)
    drain_ingest()

    def killed(*_: Any, **__: Any) -> bool:
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(Compactor, "_commit", killed)
        with pytest.raises(WorkerKilled):
            compact(tenant, stream)
    (pending,) = gc_items(org, stream, "PENDING")
    # More data lands in the hour, so the next run merges a different set under another name
    send(client, tenant, stream, requests=1, per_request=5, first=3)
    drain_ingest()
    (round_,) = compact(tenant, stream)
    assert round_.outcome == "committed" and round_.output_key != pending["key"]

    # Past its lifetime the reservation is doomed (no commit can list the object from then
    # on) and the object goes one grace period later
    later = now_us() + 3601 * 1_000_000
    assert sweep_at(later, grace_s=60).abandoned_outputs >= 1
    assert object_exists(pending["key"])
    sweep_at(later + 61_000_000)
    assert not object_exists(pending["key"])
    assert gc_items(org, stream, "PENDING") == []
    assert len(landed_rows(org, stream)) == 20


def test_the_sweep_never_deletes_an_object_a_manifest_lists(
    client: httpx.Client, tenant: dict[str, Any], stream: str
) -> None:
    org = tenant["org"]
    send(client, tenant, stream, requests=3, per_request=5)
    drain_ingest()
    inputs = manifest(org, stream)
    compact(tenant, stream, Compactor(policy=CompactionPolicy(grace_s=60)))
    # a (hypothetical) bug lists a replaced file again
    Table().put({k: v for k, v in inputs[0].items()})

    sweep_at(now_us() + 61_000_000)

    assert object_exists(inputs[0]["key"])
    assert not any(object_exists(e["key"]) for e in inputs[1:])
    assert gc_items(org, stream, "GRACE") == []


def test_the_compaction_schedule_is_registered_and_fires(
    client: httpx.Client, tenant: dict[str, Any], stream: str
) -> None:
    (job,) = [s for s in registry.REGISTRY.schedules if s.name == "compaction_worker"]
    assert job.schedule == "rate(15 minutes)"
    send(client, tenant, stream, requests=3, per_request=5, t0=T0 + 30 * HOUR)
    drain_ingest()

    report = Scheduler(tuple(registry.REGISTRY.schedules)).fire("compaction_worker")

    assert report["committed"] >= 1 and report["files_merged"] >= 3
    assert (report["truncated"], report["errors"]) == (False, 0)
    assert len(manifest(tenant["org"], stream)) == 1
