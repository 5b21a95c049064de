"""No query ever sees a row twice or misses an acknowledged row — while compaction runs.

Queries go over HTTP through the embedded engine, each with a fresh SQL text (so the
engine runs, not the cache), in a background thread, while compaction merges and re-merges
the same partitions in the foreground with pauses injected where a race would hurt most:
between writing an output and committing it, and between committing and sweeping (the
replaced objects are deleted a few seconds later, while queries keep running). Manifest
reads come back in small pages, so commits land in the middle of a listing — what a
read-committed DynamoDB Query of a big manifest does; without the reader dropping
superseded entries these tests see rows counted twice.

Every answer must be exact — and so must the rows of the files the plan listed, which is
what the Athena engine reads too (``"$path" IN`` those files; moto's Athena runs no SQL).
With ingest running too, every answer must lie between what was acknowledged before the
query and what was sent by its end, never go back, and always be a whole prefix of the
rows (their ``u`` sum tells a lost row plus a doubled one apart from no change at all).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
import pytest

from molesignal import aws
from molesignal.lake.compaction import CompactionPolicy, Compactor, run_compaction
from molesignal.lake.streams import Streams
from molesignal.storage.table import Table
from tests.integration import test_compaction as shared
from tests.integration.test_compaction import T0, manifest, post_query, send
from tests.support.api import Session
from tests.support.lake import drain_ingest

GRACE_S = 5.0  # replaced objects are deleted while queries run; far longer than one query here
PER_REQUEST = 50

# fixtures shared with the compaction tests: one org per module, a stream per test
tenant, stream, reader_drops_superseded = shared.tenant, shared.stream, shared.reader_drops_superseded
pytestmark = pytest.mark.usefixtures("reader_drops_superseded")


class Answer(NamedTuple):
    low: int  # rows acknowledged before the query was sent
    n: int  # COUNT(*)
    high: int  # rows sent by the time the answer came back
    sum_u: int  # SUM(u)
    scanned: int  # rows in the files the plan listed: what either engine is given to read


@dataclass
class Answers:
    seen: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    slowest_s: float = 0.0


def query_continuously(
    base_url: str, who: Session, stream: str, stop: threading.Event, bounds: Callable[[], tuple[int, int]]
) -> tuple[threading.Thread, Answers]:
    """A thread asking COUNT(*) and SUM(u) over and over; ``bounds()`` gives the acknowledged
    and the sent row counts, read before and after each query."""
    answers = Answers()

    def run() -> None:
        salt = 0
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                salt += 1
                low, _ = bounds()
                started = time.monotonic()
                sql = f"SELECT count(*) AS n, sum(u) AS s FROM {stream} WHERE u > -1 - {salt}"
                response = post_query(client, who, sql, start=T0 - 3_600_000_000, end=T0 + 48 * 3_600_000_000)
                answers.slowest_s = max(answers.slowest_s, time.monotonic() - started)
                _, high = bounds()
                if response.status_code == 429:  # the org's query QPS; not an answer
                    time.sleep(0.2)
                    continue
                body = response.json()
                if response.status_code != 200 or body.get("cache_hit"):
                    answers.failures.append(f"{response.status_code}: {response.text[:300]}")
                    continue
                row = body["rows"][0]
                answers.seen.append(Answer(low, int(row["n"]), high, int(row["s"] or 0), int(body["scanned_rows"])))

    thread = threading.Thread(target=run, name="queries", daemon=True)
    thread.start()
    return thread, answers


@pytest.fixture
def widened_races(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pause (randomly, up to 100 ms) after writing an output and after committing it."""
    rng = random.Random(11)
    real_write, real_commit = Compactor._write_output, Compactor._commit

    def write_then_pause(self: Compactor, key: str, body: bytes) -> None:
        real_write(self, key, body)
        time.sleep(rng.uniform(0, 0.1))

    def commit_then_pause(self: Compactor, *args: Any) -> bool:
        committed = real_commit(self, *args)
        time.sleep(rng.uniform(0, 0.1))
        return committed

    monkeypatch.setattr(Compactor, "_write_output", write_then_pause)
    monkeypatch.setattr(Compactor, "_commit", commit_then_pause)


@pytest.fixture
def paged_manifest_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Manifest queries come back three entries a page, a little apart — as a big manifest's
    1 MB pages do on DynamoDB — so commits land in the middle of a reader's listing, which
    a read-committed Query then shows half-applied."""
    client = aws.client("dynamodb")
    real_query = client.query

    def paged(**kwargs: Any) -> Any:
        partition = str(kwargs.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S", ""))
        # the query function's reads (on the gateway's threads), not the compactor's own
        if partition.startswith("MANIFEST#") and threading.current_thread() is not threading.main_thread():
            time.sleep(0.005)
            kwargs = {**kwargs, "Limit": 3}
        return real_query(**kwargs)

    monkeypatch.setattr(client, "query", paged)


def compaction_passes(org: str, *, until: Callable[[int], bool]) -> tuple[int, int]:
    """Compaction runs, three files at a time so partitions are merged again and again,
    each run ending with a sweep, until there is nothing left to merge and ``until(objects
    deleted so far)``; returns the rounds committed and the objects deleted."""
    compactor = Compactor(policy=CompactionPolicy(max_inputs=3, grace_s=GRACE_S))
    committed = deleted = 0
    while True:
        report = run_compaction(compactor, orgs=[org])
        committed += len(report.committed())
        deleted += report.swept.objects_deleted
        if not report.rounds:
            if until(deleted):
                return committed, deleted
            time.sleep(0.1)


def prefix_sum(rows: int) -> int:
    return rows * (rows - 1) // 2  # u runs 0, 1, 2, ... in the order requests were sent


@pytest.mark.usefixtures("widened_races", "paged_manifest_reads")
def test_queries_during_repeated_compaction_count_every_row_exactly_once(
    client: httpx.Client, base_url: str, tenant: dict[str, Any], stream: str
) -> None:
    org = tenant["org"]
    with ThreadPoolExecutor(4) as pool:  # 40 requests, one file each, 10 per hour
        parts = pool.map(lambda r: send(client, tenant, stream, 1, PER_REQUEST, first=r, spread_hours=4), range(40))
        sent = [row for part in parts for row in part]
    drain_ingest()
    assert len(manifest(org, stream)) == 40
    version = Streams(Table()).get(org, stream).version
    total = len(sent)
    stop = threading.Event()
    thread, answers = query_continuously(base_url, tenant["viewer"], stream, stop, lambda: (total, total))

    try:
        # until replaced objects have been deleted too, while queries kept running
        committed, deleted = compaction_passes(org, until=lambda deleted: deleted > 0 and len(answers.seen) >= 10)
        seen_before = len(answers.seen)
        while len(answers.seen) < seen_before + 3 and thread.is_alive():
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)

    assert answers.failures == []
    assert committed >= 15 and deleted > 0  # 40 files, 3 at a time, into 4: many rounds, nested merges
    assert len(manifest(org, stream)) == 4
    wrong = [a for a in answers.seen if (a.n, a.sum_u, a.scanned) != (total, prefix_sum(total), total)]
    assert wrong == [], f"{len(wrong)} of {len(answers.seen)} answers were not exact: {wrong[:5]}"
    assert len(answers.seen) >= 10, answers
    assert Streams(Table()).get(org, stream).version == version


@pytest.mark.usefixtures("widened_races", "paged_manifest_reads")
def test_queries_during_compaction_and_ingest_never_go_back_and_end_exact(
    client: httpx.Client, base_url: str, tenant: dict[str, Any], stream: str
) -> None:
    org, requests = tenant["org"], 30
    send(client, tenant, stream, requests=10, per_request=PER_REQUEST, spread_hours=2)
    drain_ingest()
    counts = {"acknowledged": 10 * PER_REQUEST, "sent": 10 * PER_REQUEST}
    lock = threading.Lock()

    def bounds() -> tuple[int, int]:
        with lock:
            return counts["acknowledged"], counts["sent"]

    def ingest() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for r in range(10, requests):
                with lock:
                    counts["sent"] += PER_REQUEST
                send(http, tenant, stream, requests=1, per_request=PER_REQUEST, first=r, spread_hours=2)
                drain_ingest()
                with lock:
                    counts["acknowledged"] += PER_REQUEST

    stop = threading.Event()
    thread, answers = query_continuously(base_url, tenant["viewer"], stream, stop, bounds)
    writer = threading.Thread(target=ingest, name="ingest", daemon=True)
    writer.start()
    try:
        compaction_passes(org, until=lambda _: not writer.is_alive() and len(answers.seen) >= 10)
        seen_before = len(answers.seen)
        while len(answers.seen) < seen_before + 3 and thread.is_alive():
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
        writer.join(timeout=60)

    total = requests * PER_REQUEST
    assert answers.failures == []
    out_of_bounds = [a for a in answers.seen if not a.low <= a.n <= a.high]
    assert out_of_bounds == [], f"answers outside [acknowledged, sent]: {out_of_bounds[:5]}"
    not_a_prefix = [a for a in answers.seen if (a.sum_u, a.scanned) != (prefix_sum(a.n), a.n)]
    assert not_a_prefix == [], f"answers whose rows are not exactly the first n: {not_a_prefix[:5]}"
    counts_seen = [a.n for a in answers.seen]
    assert counts_seen == sorted(counts_seen), "a later answer saw fewer rows"
    assert counts_seen[-1] == total and len(set(counts_seen)) > 2
    assert len(manifest(org, stream)) == 2
    assert Streams(Table()).get(org, stream).row_count == total
