"""What realtime alert rules cost the ingest worker, and how soon a notification arrives.

In one process: the local system (embedded emulator) under a fresh resource prefix.

**Throughput.** Three streams of one org get the same batches of the ingest benchmark's
dataset; one stream has no realtime rule (the baseline), one 10 and one 100. Rules are
``level = 'error' AND service = '<s>'``, ``message LIKE '%timeout%' AND service = '<s>'``
and ``level = 'fatal'``, every fifth grouped by ``service``; they match some rows of every
batch, so alerts fire on the first batch and keep firing (the steady state). Each
invocation is the real ingest worker handed ``--messages`` (10) queued messages of
``--records`` (500) records through the local poller (SQS receive, landing them together,
the rules, the notifications the first batch enqueues). The streams take turns over
``--rounds`` rounds after a warm-up round, the order rotating. ``ratio_cpu`` = rows per
CPU-second with rules / those of the baseline: the process's CPU time (the embedded emulator
included) is far steadier than wall time on a shared machine; wall-clock ratios are recorded
too. Target: ≥ 0.8 at 100 rules. Recent compaction is off so every invocation does the same
landing work.

**Latency.** Pollers and scheduler run as in ``make dev``. One realtime rule
(``level = 'error'``, ``resolve_after_s`` 0) notifies a webhook receiver in this process.
Each sample POSTs one error row to ``/api/v1/ingest/<stream>`` and times from the 202 to the
receiver getting the firing notification; an info row then resolves the alert (and its
notification is awaited) before the next sample. Target: p50 ≤ 5 s.

    .venv/bin/python bench/alerts/run.py                 # table + bench/results/alerts-<date>.json
    .venv/bin/python bench/alerts/run.py --rounds 3 --samples 10 --out /tmp/alerts.json
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import httpx  # noqa: E402
import orjson  # noqa: E402
from bench.common import git_info, interpreter_info, loadavg, progress, r3  # noqa: E402
from bench.ingest import dataset  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
ORG = "bench-org"
RULE_COUNTS = (0, 10, 100)
TARGET_RATIO = 0.8
TARGET_P50_S = 5.0


class Inbox:
    """A webhook receiver: records each notification with the moment it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Condition()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with inbox.lock:
                    inbox.received.append((time.perf_counter(), json.loads(body)))
                    inbox.lock.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                del args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, found: Any, timeout_s: float = 60) -> float:
        """Wait until ``found(received)`` names a moment; return it."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while (at := found(self.received)) is None:
                if not self.lock.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("no matching notification arrived")
            return float(at)


def start_system(pollers: bool, quiet: bool) -> Any:
    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.quotas import Limiter, Quota
    from molesignal.settings import reset_settings
    from molesignal.storage.table import Table

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbenchal{uuid.uuid4().hex[:6]}"
    os.environ["MOLESIGNAL_RECENT_COMPACTION_FANIN"] = "0"
    os.environ.pop("AWS_ENDPOINT_URL", None)  # a new emulator for each part
    reset_settings()
    progress(f"starting the local system (pollers {'on' if pollers else 'off'})", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=pollers, run_scheduler=pollers)
    system.start()
    Limiter(Table()).set_quota(ORG, Quota(ingest_qps=10**6, query_qps=10**6, storage_bytes=10**15))
    return system


def make_rules(stream: str, count: int, destination_id: str) -> None:
    from alerts_api.schemas import AlertRuleCreate
    from molesignal.alerts.rule_checks import prepare_rule
    from molesignal.alerts.rules import Rules
    from molesignal.storage.table import Table

    table = Table()
    services = [s[0] for s in dataset.SERVICES]
    templates = (
        "level = 'error' AND service = '{s}'",
        "message LIKE '%timeout%' AND service = '{s}'",
        "level = 'fatal'",
    )
    for number in range(count):
        where = templates[number % len(templates)].format(s=services[number % len(services)])
        body = AlertRuleCreate.model_validate(
            {
                "name": f"{stream} rule {number}",
                "kind": "realtime",
                "stream": stream,
                "where": where,
                "destinations": [destination_id],
                "group_by": ["service"] if number % 5 == 4 else [],
            }
        )
        Rules(table).create(prepare_rule(table, ORG, "bench", body.model_dump(), current=None))


def destination(url: str) -> str:
    from molesignal.alerts.destinations import Destinations, DestinationSpec, DestinationType
    from molesignal.auth.principal import Principal, Role
    from molesignal.storage.table import Table

    admin = Principal(ORG, "bench-admin", Role.ADMIN, "jwt", "bench", "bench")
    spec = DestinationSpec(name=f"bench-{uuid.uuid4().hex[:6]}", type=DestinationType.WEBHOOK, url=url)
    return Destinations(Table()).create(admin, spec).id


def batches_of(records: int, count: int) -> list[list[dict[str, Any]]]:
    from molesignal.ingest.normalize import normalize

    raw = dataset.ensure_raw(max(40_000, records * count), dataset.DEFAULT_SEED, quiet=True).read_bytes().split(b"\n")
    rows = [normalize(orjson.loads(line), received_us=dataset.START_US) for line in raw[: records * count]]
    return [rows[i * records : (i + 1) * records] for i in range(count)]


def invoke(stream: str, batches: list[list[dict[str, Any]]]) -> tuple[float, float]:
    """Queue one message per batch, then time the worker's invocations until they are landed:
    (wall seconds, CPU seconds of this process, the embedded emulator included)."""
    import registry
    from molesignal import aws
    from molesignal.ingest import envelope
    from molesignal.ingest.service import ingest_queue_url, new_request_id
    from molesignal.local.pollers import QueuePoller

    worker = next(w for w in registry.REGISTRY.workers if w.name == "ingest_worker")
    poller = QueuePoller(worker, wait_seconds=0)
    sqs = aws.client("sqs")
    entries = []
    for index, rows in enumerate(batches):
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
        entries.append({"Id": str(index), "MessageBody": message.to_json()})
    sqs.send_message_batch(QueueUrl=ingest_queue_url(), Entries=entries)
    handled, started, cpu = 0, time.perf_counter(), time.process_time()
    while handled < len(batches):
        handled += poller.poll_once()
    return time.perf_counter() - started, time.process_time() - cpu


def throughput(args: argparse.Namespace, quiet: bool) -> dict[str, Any]:

    inbox = Inbox()
    hook = destination(inbox.url)
    streams = {count: f"al_{count}_{uuid.uuid4().hex[:6]}" for count in RULE_COUNTS}
    for count, stream in streams.items():
        make_rules(stream, count, hook)
    batches = batches_of(args.records, args.messages)
    rows = args.records * args.messages
    wall: dict[int, list[float]] = {count: [] for count in RULE_COUNTS}
    cpu: dict[int, list[float]] = {count: [] for count in RULE_COUNTS}
    for round_number in range(args.rounds + 1):
        order = list(RULE_COUNTS[round_number % 3 :] + RULE_COUNTS[: round_number % 3])
        for count in order:
            took, used = invoke(streams[count], batches)
            if round_number:  # round 0 warms up: imports, compiled predicates, alerts firing
                wall[count].append(took)
                cpu[count].append(used)
        progress(f"  round {round_number}: " + ", ".join(f"{c} rules" for c in order), quiet)
    inbox.server.shutdown()
    base_wall, base_cpu = statistics.median(wall[0]), statistics.median(cpu[0])
    return {
        "rows_per_invocation": rows,
        "messages_per_invocation": args.messages,
        "rounds": args.rounds,
        "variants": {
            str(count): _variant(streams[count], count, rows, wall, cpu, base_wall, base_cpu) for count in RULE_COUNTS
        },
    }


def _variant(
    stream: str,
    count: int,
    rows: int,
    wall: dict[int, list[float]],
    cpu: dict[int, list[float]],
    base_wall: float,
    base_cpu: float,
) -> dict[str, Any]:
    from molesignal.alerts.engine import AlertEngine
    from molesignal.alerts.rules import Rules
    from molesignal.storage.table import Table

    rules = {r.id: r for r in Rules(Table()).all(ORG) if r.stream == stream}
    states = [s for s in AlertEngine(Table()).states(ORG).values() if s.source_id in rules]
    wall_median, cpu_median = statistics.median(wall[count]), statistics.median(cpu[count])
    return {
        "rules": count,
        "rules_with_errors": sum(1 for r in rules.values() if r.last_error),
        "alerts_firing": sum(1 for s in states if s.state.value == "firing"),
        "wall_s": [r3(x) for x in wall[count]],
        "cpu_s": [r3(x) for x in cpu[count]],
        "rows_per_s": round(rows / wall_median),
        "rows_per_cpu_s": round(rows / cpu_median),
        "ratio_wall": r3(base_wall / wall_median),
        "ratio_cpu": r3(base_cpu / cpu_median),
        "ratio_cpu_best": r3(min(cpu[0]) / min(cpu[count])),  # each variant's quickest invocation
    }


def latency(system: Any, samples: int, quiet: bool) -> dict[str, Any]:
    """Over HTTP, as a user of ``make dev`` would: set up, sign in, add a webhook and a rule."""
    inbox = Inbox()
    stream = f"al_latency_{uuid.uuid4().hex[:6]}"
    seconds = []
    with httpx.Client(base_url=system.url, timeout=30) as client:
        setup = {"user": "admin", "password": "BenchPass123!", "root_password": "BenchRoot123!"}
        client.post("/api/v1/auth/setup", json=setup).raise_for_status()
        login = client.post("/api/v1/auth/login", json={"user": "admin", "password": "BenchPass123!"})
        client.headers["authorization"] = f"Bearer {login.raise_for_status().json()['access_token']}"
        hook = client.post(
            "/api/v1/alerts/destinations", json={"name": "bench", "type": "webhook", "url": inbox.url}
        ).raise_for_status()
        rule = {
            "name": "latency",
            "kind": "realtime",
            "stream": stream,
            "where": "level = 'error'",
            "resolve_after_s": 0,
            "destinations": [hook.json()["id"]],
        }
        client.post("/api/v1/alerts/rules", json=rule).raise_for_status()
        for number in range(samples):
            answer = client.post(f"/api/v1/ingest/{stream}", json=[{"level": "error", "seq": number}])
            accepted = time.perf_counter()
            if answer.status_code != 202:
                raise SystemExit(f"ingest answered {answer.status_code}: {answer.text}")
            arrived = inbox.wait_for(lambda got, n=number: _notified(got, "firing", n))
            seconds.append(arrived - accepted)
            client.post(f"/api/v1/ingest/{stream}", json=[{"level": "info", "seq": number}])
            inbox.wait_for(lambda got, n=number: _notified(got, "resolved", n))  # before the next error
            progress(f"  sample {number + 1}/{samples}: {seconds[-1]:.2f} s", quiet)
    inbox.server.shutdown()
    ordered = sorted(seconds)
    return {
        "samples": samples,
        "seconds": [r3(s) for s in seconds],
        "p50_s": r3(statistics.median(ordered)),
        "p99_s": r3(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]),
        "max_s": r3(ordered[-1]),
    }


def _notified(received: list[tuple[float, dict[str, Any]]], status: str, seq: int) -> float | None:
    """When the notification of ``status`` for the error row ``seq`` arrived (None: not yet)."""
    for at, body in received:
        if body["status"] == status and (body.get("sample") or {}).get("seq") == seq:
            return at
    return None


def main(argv: list[str] | None = None) -> int:
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=500, help="records per message (default %(default)s)")
    parser.add_argument("--messages", type=int, default=10, help="messages per invocation (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--samples", type=int, default=30, help="latency samples (default %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"alerts-{now:%Y-%m-%d}.json")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    quiet = args.quiet
    load_start = loadavg()
    from molesignal.observability import logger

    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    system = start_system(pollers=False, quiet=quiet)
    try:
        progress("throughput: 0, 10 and 100 realtime rules", quiet)
        worker = throughput(args, quiet)
    finally:
        system.stop()
    system = start_system(pollers=True, quiet=quiet)
    try:
        progress("latency: ingest 202 -> webhook", quiet)
        delivery = latency(system, args.samples, quiet)
    finally:
        system.stop()
    ratio_100 = worker["variants"]["100"]["ratio_cpu"]
    result = {
        "benchmark": "alerts",
        "date": now.isoformat(timespec="seconds"),
        "git": git_info(),
        "interpreter": interpreter_info(["duckdb", "pyarrow", "sqlglot"]),
        "load": {"start": load_start, "end": loadavg()},
        "throughput": worker,
        "latency": delivery,
        "targets": {
            "ratio_at_100_rules": {"target": TARGET_RATIO, "measured": ratio_100, "pass": ratio_100 >= TARGET_RATIO},
            "p50_s": {"target": TARGET_P50_S, "measured": delivery["p50_s"], "pass": delivery["p50_s"] <= TARGET_P50_S},
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        "| rules | rows/CPU-s | ratio (CPU) | best/best (CPU) | rows/s (wall) | ratio (wall) | firing | rule errors |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for v in worker["variants"].values():
        print(
            f"| {v['rules']} | {v['rows_per_cpu_s']:,} | {v['ratio_cpu']:.3f} | {v['ratio_cpu_best']:.3f} | "
            f"{v['rows_per_s']:,} | {v['ratio_wall']:.3f} | {v['alerts_firing']} | {v['rules_with_errors']} |"
        )
    p50, p99 = delivery["p50_s"], delivery["p99_s"]
    print(f"ingest 202 -> webhook: p50 {p50} s, p99 {p99} s ({delivery['samples']} samples)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
