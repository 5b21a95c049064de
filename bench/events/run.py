"""Audit events benchmark: intake, the chaining worker, 202-to-listable latency, exports.

    .venv/bin/python bench/events/run.py [--batches 40] [--batch-size 100] [--latency 40]
        [--export-events 200000] [--out bench/results/events-<date>.json]

Each figure has a baseline measured in the same process, interleaved where it can be:

(a) events/s accepted by one instance: ``POST /api/v1/events/batch`` through the local
    gateway, one request at a time; baseline: ``POST /api/v1/ingest/<stream>`` with the
    same records flattened (rows/s), alternating request by request.
(b) events processed per worker CPU-second (chain + geo + lake): the worker's own thread
    CPU (``time.thread_time``: the embedded emulator's threads are not counted) over the
    queued batches; baseline: the ingest worker landing the same rows.
(c) p50/p99 from the 202 to the event being listable (``GET /api/v1/events/{id}`` = 200),
    with a poller running the events worker as ``make dev`` does.
(d) export MB/s: an NDJSON, a gzip NDJSON and a Parquet export of ``--export-events``
    events, written by the export worker (wall time of the worker's run, bytes written);
    baseline: the same worker exporting the same rows as an SQL export (``SELECT * FROM
    audit_events``: the lake's rows as they are, no turning each back into the public
    event), same format, right after. The result file is rewritten after each export, so a
    long run that is stopped keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import CODE_PATHS, REPO, git_info, host_info, interpreter_info, loadavg, progress, r3

for path in CODE_PATHS:
    sys.path.insert(0, str(path))


LOCATIONS = ("8.8.8.8", "1.1.1.1", "10.0.0.7", "2001:4860:4860::8888")


def make_event(i: int) -> dict[str, Any]:
    return {
        "action": ("user.signed_in", "doc.updated", "key.rotated", "team.member_added")[i % 4],
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor": {"id": f"user_{i % 500}", "type": "user", "name": f"User {i % 500}"},
        "targets": [{"id": f"doc_{i % 5000}", "type": "document"}, {"id": f"team_{i % 40}", "type": "team"}],
        "context": {
            "location": ("8.8.8.8", "1.1.1.1", "10.0.0.7", "2001:4860:4860::8888")[i % 4],
            "user_agent": "bench",
        },
        "metadata": {"request_id": f"r{i}", "bytes": i * 7, "ok": i % 3 != 0},
    }


def flat(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": event["action"],
        "occurred_at": event["occurred_at"],
        "actor_id": event["actor"]["id"],
        "actor_type": event["actor"]["type"],
        "targets": json.dumps(event["targets"]),
        "location": event["context"]["location"],
        "metadata": json.dumps(event["metadata"]),
    }


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def drain_with(worker: Any, handle: Any) -> tuple[int, float]:
    """Receive every message of ``worker``'s queue and pass each body to ``handle``; returns
    (messages, thread CPU seconds spent inside ``handle``)."""
    from molesignal import aws
    from molesignal.settings import get_settings

    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().queue_name(worker.queue))["QueueUrl"]
    handled, cpu = 0, 0.0
    idle = 0
    while idle < 3:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            idle += 1
            time.sleep(0.2)
            continue
        idle = 0
        for message in messages:
            started = time.thread_time()
            handle(message["Body"])
            cpu += time.thread_time() - started
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            handled += 1
    return handled, cpu


def write_result(result: dict[str, Any], out: Path | None) -> None:
    target = out or REPO / "bench" / "results" / f"events-{datetime.now(UTC):%Y-%m-%d}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--latency", type=int, default=40, help="samples for (c)")
    parser.add_argument("--export-events", type=int, default=200_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only-export", action="store_true", help="run (d) alone")
    parser.add_argument(
        "--export-formats",
        default="ndjson,ndjson+gzip,parquet",
        help="which of ndjson, ndjson+gzip, parquet (d) exports (each as events and as the SQL baseline)",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    quiet = args.quiet

    import httpx

    import registry
    from ingest_worker.handler import record_handler as ingest_record
    from molesignal.events.processing import process_message
    from molesignal.local.pollers import QueuePoller
    from molesignal.local.system import LocalSystem
    from molesignal.observability import logger
    from molesignal.settings import reset_settings

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbench{uuid.uuid4().hex[:6]}"
    reset_settings()
    devnull = open(os.devnull, "w")  # noqa: SIM115
    logger.registered_handler.setStream(devnull)  # type: ignore[union-attr]
    progress("starting the local system", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    workers = {w.name: w for w in registry.REGISTRY.workers}
    result: dict[str, Any] = {
        "benchmark": "events",
        "when": datetime.now(UTC).isoformat(),
        "git": git_info(),
        "host": host_info(),
        "interpreter": interpreter_info(["pyarrow", "duckdb", "moto", "rfc8785", "geoip2fast"]),
        "load_before": loadavg(),
        "parameters": vars(args) | {"out": str(args.out) if args.out else None},
    }
    try:
        http = httpx.Client(base_url=system.url, timeout=300)
        setup = http.post(
            "/api/v1/auth/setup",
            json={"user": "bench", "password": "BenchAdmin123!", "root_password": "BenchRoot1234!"},
        )
        setup.raise_for_status()
        org_id = setup.json()["org_id"]
        root = http.post("/api/v1/auth/login", json={"user": "root", "password": "BenchRoot1234!"}).json()
        root_h = {"Authorization": f"Bearer {root['access_token']}"}
        http.put(
            f"/api/v1/orgs/{org_id}/plan", json={"plan": "enterprise", "requests_per_minute": 10**7}, headers=root_h
        )
        http.put(
            f"/api/v1/orgs/{org_id}/quotas",
            json={"ingest_qps": 100_000, "query_qps": 100_000, "storage_bytes": 10**15},
            headers=root_h,
        )
        admin = http.post("/api/v1/auth/login", json={"user": "bench", "password": "BenchAdmin123!"}).json()
        headers = {"Authorization": f"Bearer {admin['access_token']}"}

        if not args.only_export:
            # (a) intake, interleaved with the ingest baseline.
            progress(f"(a) {args.batches} batches of {args.batch_size}, events vs ingest", quiet)
            events_s, ingest_s = 0.0, 0.0
            for b in range(args.batches):
                batch = [make_event(b * args.batch_size + i) for i in range(args.batch_size)]
                started = time.perf_counter()
                response = http.post("/api/v1/events/batch", json={"events": batch}, headers=headers)
                events_s += time.perf_counter() - started
                response.raise_for_status()
                started = time.perf_counter()
                response = http.post("/api/v1/ingest/bench_flat", json=[flat(e) for e in batch], headers=headers)
                ingest_s += time.perf_counter() - started
                response.raise_for_status()
            total = args.batches * args.batch_size
            result["a_intake"] = {
                "events_per_s": r3(total / events_s),
                "baseline_ingest_rows_per_s": r3(total / ingest_s),
                "ratio_to_baseline": r3((total / events_s) / (total / ingest_s)),
            }
            progress(f"(a) {result['a_intake']}", quiet)

            # (b) worker CPU: the chaining worker vs the ingest worker on the same rows.
            from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

            progress("(b) draining both queues, timing each worker's own thread CPU", quiet)
            from molesignal.events import geo

            started = time.perf_counter()
            geo.lookup("8.8.8.8")  # the data file loads once per process (a cold start's cost, measured apart)
            geo_load_s = time.perf_counter() - started
            _, events_cpu = drain_with(workers["events_worker"], process_message)
            _, ingest_cpu = drain_with(workers["ingest_worker"], lambda body: ingest_record(SQSRecord({"body": body})))
            result["b_worker"] = {
                "events_per_cpu_s": r3(total / events_cpu),
                "baseline_ingest_rows_per_cpu_s": r3(total / ingest_cpu),
                "ratio_to_baseline": r3((total / events_cpu) / (total / ingest_cpu)),
                "geo_data_load_s_once_per_process": r3(geo_load_s),
            }
            progress(f"(b) {result['b_worker']}", quiet)

            # (c) 202 -> listable with a poller running the worker.
            progress(f"(c) {args.latency} single events, 202 to GET 200", quiet)
            poller = QueuePoller(workers["events_worker"], wait_seconds=1)
            poller.start()
            latencies: list[float] = []
            try:
                for i in range(args.latency):
                    started = time.perf_counter()
                    response = http.post("/api/v1/events", json=make_event(i), headers=headers)
                    accepted = time.perf_counter()
                    event_id = response.json()["id"]
                    while http.get(f"/api/v1/events/{event_id}", headers=headers).status_code != 200:
                        time.sleep(0.02)
                    latencies.append((time.perf_counter() - accepted) * 1000)
                    del started
            finally:
                poller.stop()
            result["c_latency_ms"] = {
                "p50": r3(statistics.median(latencies)),
                "p99": r3(quantile(latencies, 0.99)),
                "max": r3(max(latencies)),
                "samples": len(latencies),
            }
            progress(f"(c) {result['c_latency_ms']}", quiet)

        # (d) exports of --export-events events (chained directly through the worker code).
        from molesignal.auth.principal import Principal, Role
        from molesignal.events.chain import Chain, land
        from molesignal.events.geo import enrich
        from molesignal.events.ids import new_ids
        from molesignal.events.model import EventIn
        from molesignal.events.model import accepted as accept
        from molesignal.events.reading import EventFilter
        from molesignal.exports.jobs import Exports, ExportSpec
        from molesignal.lake.writer import Lake
        from molesignal.storage.table import Table

        progress(f"(d) chaining {args.export_events} events for the export", quiet)
        chaining_started = time.perf_counter()
        table = Table()
        template = EventIn.model_validate(make_event(1))
        chunk = 5000
        for start in range(0, args.export_events, chunk):
            count = min(chunk, args.export_events - start)
            docs = [accept(template, i, t) for i, t in new_ids(count)]
            land(Chain(table), Lake(table), org_id, f"bulk-{start}", docs, enrich=enrich)
        principal = Principal(org_id=org_id, user_id="bench", role=Role.ADMIN, kind="jwt", credential_id="bench")
        exports = Exports(table)
        result["d_export"] = {}
        result["d_chained_s"] = r3(time.perf_counter() - chaining_started)
        sql = "SELECT * FROM audit_events"
        formats = [f.strip() for f in args.export_formats.split(",") if f.strip()]
        for name in formats:
            fmt, gzipped = name.removesuffix("+gzip"), name.endswith("+gzip")
            for kind, spec in (
                ("events", ExportSpec(fmt, gzipped, EventFilter(order="asc"), None, None, None, 24)),
                ("sql_baseline", ExportSpec(fmt, gzipped, None, sql, None, None, 24)),
            ):
                item = exports.create(principal, spec)
                started = time.perf_counter()
                done = exports.run(org_id, item["export_id"])
                wall = time.perf_counter() - started
                result["d_export"].setdefault(name, {})[kind] = {
                    "status": done["status"],
                    "rows": int(done.get("rows") or 0),
                    "bytes": int(done.get("bytes") or 0),
                    "seconds": r3(wall),
                    "mb_per_s": r3(int(done.get("bytes") or 0) / 1e6 / wall),
                    "events_per_s": r3(int(done.get("rows") or 0) / wall),
                }
                progress(f"(d) {name} {kind}: {result['d_export'][name][kind]}", quiet)
                write_result(result, args.out)
            timings = result["d_export"][name]
            timings["events_vs_sql_seconds"] = r3(timings["events"]["seconds"] / timings["sql_baseline"]["seconds"])
    finally:
        system.stop()
    result["load_after"] = loadavg()
    write_result(result, args.out)
    print(json.dumps({k: v for k, v in result.items() if k[:2] in ("a_", "b_", "c_", "d_")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
