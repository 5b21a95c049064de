"""Fresh data stays fast to query: a stream fed by many small batches against the same rows compacted.

In one process: the local system (embedded emulator, no pollers, no scheduler) under a fresh
resource prefix. Three streams of one org are fed the same ``--batches`` (240) small batches
of ``--records`` (100) records from the ingest benchmark's dataset, one worker invocation per
batch (a message put on the ingest queue, then the real ingest worker through the local
poller), so each batch lands on its own, as requests trickling in from many small clients do:

* **as landed, no recent compaction** (``MOLESIGNAL_RECENT_COMPACTION_FANIN=0``): one file per
  batch — what queries met between scheduled compactions before ADR 0011;
* **as landed** (the default): the worker merges an hour's small files of one tier as soon as
  ``recent_compaction_fanin`` (8) of them are there;
* **compacted** (the baseline): fed like the first, then compacted by the scheduled
  compaction (``Compactor.compact_stream``) until nothing is left to merge.

Queries (``QueryService.run`` without the result cache, over S3 through DuckDB's httpfs, as
the query function runs them; the planner's memo warm): count by level; the services whose
messages mention ``timeout``; the latest 100 rows. They take turns over ``--rounds`` rounds,
the stream order rotating. ``ratio`` = a stream's median / the compacted stream's median;
target: the default stream at most 1.5 times on every query.

    .venv/bin/python bench/smallfiles/run.py                      # table + bench/results/smallfiles-<date>.json
    .venv/bin/python bench/smallfiles/run.py --batches 200 --rounds 5 --out /tmp/sf.json
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import orjson  # noqa: E402
from bench.common import git_info, interpreter_info, loadavg, progress, r3, r4  # noqa: E402
from bench.ingest import dataset  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
ORG = "bench-org"
TARGET_RATIO = 1.5
VARIANTS = ("no_recent_compaction", "as_landed", "compacted")
QUERIES = {
    "count_by_level": "SELECT level, count(*) AS n FROM {s} GROUP BY level ORDER BY level",
    "timeout_by_service": (
        "SELECT service, count(*) AS n FROM {s} WHERE message LIKE '%timeout%' "
        "GROUP BY service ORDER BY n DESC, service"
    ),
    "latest_100": "SELECT _timestamp, service, level, message FROM {s} ORDER BY _timestamp DESC LIMIT 100",
}


def start_system(quiet: bool) -> Any:
    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.quotas import Limiter, Quota
    from molesignal.settings import reset_settings
    from molesignal.storage.table import Table

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbenchsf{uuid.uuid4().hex[:6]}"
    reset_settings()
    progress("starting the local system (emulator, no pollers)", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    Limiter(Table()).set_quota(ORG, Quota(ingest_qps=10**6, query_qps=10**6, storage_bytes=10**15))
    return system


def batches_of(records: int, per_batch: int, count: int) -> list[list[dict[str, Any]]]:
    from molesignal.ingest.normalize import normalize

    raw = dataset.ensure_raw(records, dataset.DEFAULT_SEED, quiet=True).read_bytes().split(b"\n")
    needed = per_batch * count
    if len(raw) - 1 < needed:
        raise SystemExit(f"the dataset has {len(raw) - 1} records; {needed} are needed")
    rows = [normalize(orjson.loads(line), received_us=dataset.START_US) for line in raw[:needed]]
    return [rows[i * per_batch : (i + 1) * per_batch] for i in range(count)]


def feed(stream: str, batches: list[list[dict[str, Any]]], fanin: int, quiet: bool) -> dict[str, Any]:
    """One message and one worker invocation per batch."""
    import registry
    from molesignal import aws
    from molesignal.ingest import envelope
    from molesignal.ingest.service import ingest_queue_url, new_request_id
    from molesignal.local.pollers import QueuePoller
    from molesignal.settings import reset_settings

    os.environ["MOLESIGNAL_RECENT_COMPACTION_FANIN"] = str(fanin)
    reset_settings()
    worker = next(w for w in registry.REGISTRY.workers if w.name == "ingest_worker")
    poller = QueuePoller(worker, wait_seconds=0)
    sqs = aws.client("sqs")
    started, cpu = time.perf_counter(), time.process_time()
    for number, rows in enumerate(batches):
        payload = envelope.encode_records(rows)
        message = envelope.IngestMessage(
            request_id=f"{new_request_id()}-0",
            org_id=ORG,
            stream=stream,
            received_us=dataset.START_US,
            records=len(rows),
            raw_bytes=len(payload),
            payload_b64=base64.b64encode(payload).decode(),
        )
        sqs.send_message(QueueUrl=ingest_queue_url(), MessageBody=message.to_json())
        while poller.poll_once() == 0:
            time.sleep(0.05)
        if not quiet and (number + 1) % 40 == 0:
            progress(f"  {stream}: {number + 1}/{len(batches)} batches landed", quiet)
    # This process's CPU: the worker's landing and merging, the sending (the emulator's is
    # its own process): as_landed minus no_recent_compaction is what merging recent tiers costs.
    return {"feed_s": r3(time.perf_counter() - started), "feed_cpu_s": r3(time.process_time() - cpu), "fanin": fanin}


def describe(stream: str) -> dict[str, Any]:
    from molesignal.lake.streams import Streams
    from molesignal.storage.table import Table

    entries = Streams(Table()).manifest(ORG, stream)
    sizes = sorted(int(e["bytes"]) for e in entries)
    return {
        "files": len(entries),
        "rows": sum(int(e["rows"]) for e in entries),
        "bytes": sum(sizes),
        "file_bytes_median": int(statistics.median(sizes)) if sizes else 0,
        "generations": sorted({int(e.get("generation", 0)) for e in entries}),
    }


def compact_fully(stream: str) -> int:
    from molesignal.lake.compaction import Compactor

    rounds = 0
    for _ in range(20):
        results, _stopped = Compactor().compact_stream(ORG, stream)
        committed = [r for r in results if r.outcome == "committed"]
        rounds += len(committed)
        if not committed:
            break
    return rounds


def run_query(principal: Any, sql: str) -> tuple[float, Any]:
    from molesignal.query.service import QueryRequest, QueryService

    end = dataset.START_US + (dataset.SPAN_HOURS + 1) * 3_600_000_000
    started = time.perf_counter()
    outcome = QueryService().run(principal, QueryRequest(sql, dataset.START_US - 3_600_000_000, end), use_cache=False)
    return time.perf_counter() - started, outcome.rows


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=240, help="small batches per stream (default %(default)s)")
    parser.add_argument("--records", type=int, default=100, help="records per batch (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fanin", type=int, default=None, help="the as-landed stream's fan-in (default: settings)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"smallfiles-{now:%Y-%m-%d}.json")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    quiet = args.quiet
    load_start = loadavg()

    system = start_system(quiet)
    from molesignal.auth.principal import Principal, Role
    from molesignal.observability import logger
    from molesignal.settings import get_settings

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the worker logs a line per landing
    logger.registered_handler.setStream(devnull)  # type: ignore[union-attr]
    fanin = args.fanin if args.fanin is not None else get_settings().recent_compaction_fanin
    principal = Principal(ORG, "bench-user", Role.VIEWER, "jwt", "bench", "bench")
    try:
        batches = batches_of(max(120_000, args.batches * args.records), args.records, args.batches)
        streams = {variant: f"sf_{variant}_{uuid.uuid4().hex[:6]}" for variant in VARIANTS}
        feeding: dict[str, Any] = {}
        for variant, stream in streams.items():
            progress(f"feeding {stream}: {args.batches} batches of {args.records} records", quiet)
            feeding[variant] = feed(stream, batches, fanin if variant == "as_landed" else 0, quiet)
        progress("compacting the baseline stream", quiet)
        feeding["compacted"]["compaction_rounds"] = compact_fully(streams["compacted"])
        files = {variant: describe(stream) for variant, stream in streams.items()}
        for variant, about in files.items():
            progress(f"  {variant}: {about['files']} files, {about['rows']} rows", quiet)

        answers: dict[str, dict[str, Any]] = {}
        samples: dict[str, dict[str, list[float]]] = {q: {v: [] for v in VARIANTS} for q in QUERIES}
        for name, template in QUERIES.items():  # warm-up, and the answers must agree
            for variant, stream in streams.items():
                _, rows = run_query(principal, template.format(s=stream))
                answers.setdefault(name, {})[variant] = rows
        mismatched = [q for q, by in answers.items() if any(by[v] != by["compacted"] for v in VARIANTS)]
        for round_ in range(args.rounds):
            progress(f"round {round_ + 1}/{args.rounds}", quiet)
            for offset, (name, template) in enumerate(QUERIES.items()):
                shift = (round_ + offset) % len(VARIANTS)
                for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                    seconds, _ = run_query(principal, template.format(s=streams[variant]))
                    samples[name][variant].append(seconds)
    finally:
        system.stop()

    table: dict[str, Any] = {}
    for name, by_variant in samples.items():
        base = statistics.median(by_variant["compacted"])
        table[name] = {
            variant: {
                "median_ms": r3(statistics.median(values) * 1000),
                "min_ms": r3(min(values) * 1000),
                "ratio": r4(statistics.median(values) / base),
            }
            for variant, values in by_variant.items()
        }
    worst = max(table[q]["as_landed"]["ratio"] for q in table)
    result = {
        "benchmark": "smallfiles",
        "started_utc": now.isoformat(timespec="seconds"),
        "git": git_info(),
        "machine": interpreter_info(["pyarrow", "duckdb", "moto", "boto3"]),
        "load_start": load_start,
        "load_end": loadavg(),
        "batches": args.batches,
        "records_per_batch": args.records,
        "fanin": fanin,
        "rounds": args.rounds,
        "feeding": feeding,
        "files": files,
        "queries": QUERIES,
        "answers_match": not mismatched,
        "mismatched": mismatched,
        "results": table,
        "samples_s": {q: {v: [r4(x) for x in xs] for v, xs in by.items()} for q, by in samples.items()},
        "target": {"as_landed_over_compacted_at_most": TARGET_RATIO, "worst": worst, "pass": worst <= TARGET_RATIO},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")

    print(f"\n{args.batches} batches of {args.records} records per stream; files:")
    for variant in VARIANTS:
        print(f"  {variant:22s} {files[variant]['files']:5d} files  (generations {files[variant]['generations']})")
    print(f"\n{'query':20s} " + " ".join(f"{v:>30s}" for v in VARIANTS))
    for name, row in table.items():
        cells = " ".join(f"{row[v]['median_ms']:10.1f} ms ({row[v]['ratio']:5.2f}x)".rjust(30) for v in VARIANTS)
        print(f"{name:20s} {cells}")
    verdict = "pass" if worst <= TARGET_RATIO else "MISS"
    print(f"\nas landed / compacted, worst query: {worst:.2f}x (target ≤ {TARGET_RATIO}): {verdict}")
    print(f"answers match: {not mismatched}")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
