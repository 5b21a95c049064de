"""Live queries benchmark (``GET /v1/ws``, docs/live.md): delivery latency and DynamoDB cost.

    .venv/bin/python bench/topics/live_latency.py [--inserts 200] [--lines 40] [--counted 200]
        [--port 5293 --emulator-port 5294] [--out bench/results/live-<date>.json]

(a) **INSERT → WebSocket**, against ``python -m molesignal dev`` started on ``--port``: one
    subscriber (``SELECT id, kind FROM bench.events WHERE kind = 'hit'``), ``--inserts``
    single-row ``INSERT`` statements over HTTP one at a time; p50/p99 from sending the
    INSERT to the change frame arriving. Baseline, same statements: the INSERT's own HTTP
    round trip (its answer comes after the commit and the fan-out, so delivery - answer is
    what the socket adds). Target: p50 ≤ 1 s.
(b) **ingest → WebSocket** (live tail), same system, its SQS pollers and ingest worker:
    ``--lines`` log lines, one request each, to ``POST /api/v1/ingest/bench_tail``; p50/p99
    from sending to the frame. Baseline: the ingest request's 202 round trip.
(c) **DynamoDB requests per 1,000 delivered changes**: an embedded system in this process
    (botocore calls counted, ``bench.common.AwsCallTimer``), ``--counted`` INSERTs each:
    before the org ever subscribed (fan-out on, nobody watching: what an org without live
    queries pays), with one subscriber, after that subscriber left (the org's watch marker
    still says a subscription may be alive, so the gsi1 Query is paid), and with live
    queries off (the baseline: ``MOLESIGNAL_LIVE_CONNECTIONS_URL`` empty); each difference
    from the baseline per change x 1,000 is what live queries cost in DynamoDB (and
    ``PostToConnection`` calls likewise).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import AwsCallTimer, git_info, host_info, interpreter_info, loadavg, progress, r3
from bench.e2e.run import start_dev

PASSWORD = "BenchPass123!"  # noqa: S105 - a throwaway local system's
WAIT_S = 30.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": r3(statistics.median(ms)), "p99_ms": r3(pct(ms, 0.99)), "max_ms": r3(max(ms))}


class Receiver:
    """A subscribed WebSocket whose frames a thread timestamps on arrival, by a row key."""

    def __init__(self, url: str, token: str, sql: str, key: str) -> None:
        from websockets.sync.client import connect

        self._opened = connect(url.replace("http://", "ws://") + "/v1/ws", open_timeout=WAIT_S)
        self.ws = self._opened.__enter__()
        self.ws.send(json.dumps({"type": "authenticate", "method": "jwt", "token": token}))
        for expected in ("auth_success", "subscription_ack", "initial_data_batch"):
            frame = json.loads(self.ws.recv(timeout=WAIT_S))
            if frame["type"] != expected:
                raise RuntimeError(f"expected {expected}, got {frame}")
            if expected == "auth_success":
                self.ws.send(json.dumps({"type": "subscribe", "subscription": {"id": "bench", "sql": sql}}))
        self.key = key
        self.arrived: dict[Any, float] = {}
        self.changes = 0
        self._event = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for text in self.ws:
            now = time.perf_counter()
            frame = json.loads(text)
            if frame.get("type") != "change":
                continue
            with self._event:
                self.changes += 1
                for row in frame.get("rows") or []:
                    self.arrived[row[self.key]] = now
                self._event.notify_all()

    def wait_for(self, key: Any) -> float:
        deadline = time.monotonic() + WAIT_S
        with self._event:
            while key not in self.arrived:
                if not self._event.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no change for {key!r} within {WAIT_S} s")
            return self.arrived[key]

    def close(self) -> None:
        self._opened.__exit__(None, None, None)


def login(http: Any, user: str) -> str:
    answer = http.post("/api/v1/auth/login", json={"user": user, "password": PASSWORD})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def prepare(http: Any) -> str:
    """Set up a fresh system; lift the org's quotas; the table the INSERTs go to."""
    http.post("/api/v1/auth/setup", json={"user": "bench", "password": PASSWORD, "root_password": PASSWORD})
    token = login(http, "bench")
    me = http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    org_id = me.get("org_id") or me.get("user", {}).get("org_id")
    root = {"Authorization": f"Bearer {login(http, 'root')}"}
    http.put(
        f"/api/v1/orgs/{org_id}/quotas",
        json={"ingest_qps": 100_000, "query_qps": 100_000, "storage_bytes": 10**15},
        headers=root,
    ).raise_for_status()
    sql(http, token, "CREATE NAMESPACE IF NOT EXISTS bench")
    sql(http, token, "CREATE SHARED TABLE IF NOT EXISTS bench.events (id BIGINT PRIMARY KEY, kind TEXT)")
    return token


def sql(http: Any, token: str, statement: str) -> None:
    answer = http.post("/v1/api/sql", json={"sql": statement}, headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()


def inserts(http: Any, token: str, receiver: Receiver, count: int, first_id: int) -> tuple[list[float], list[float]]:
    delivered: list[float] = []
    answered: list[float] = []
    for i in range(first_id, first_id + count):
        started = time.perf_counter()
        sql(http, token, f"INSERT INTO bench.events (id, kind) VALUES ({i}, 'hit')")  # noqa: S608 - our own ids
        answered.append(time.perf_counter() - started)
        delivered.append(receiver.wait_for(i) - started)
    return delivered, answered


def ingest_lines(http: Any, token: str, receiver: Receiver, count: int) -> tuple[list[float], list[float]]:
    delivered: list[float] = []
    answered: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    for seq in range(count):
        line = {"level": "error", "seq": seq, "message": f"bench line {seq}"}
        started = time.perf_counter()
        http.post("/api/v1/ingest/bench_tail", json=[line], headers=headers).raise_for_status()
        answered.append(time.perf_counter() - started)
        delivered.append(receiver.wait_for(seq) - started)
    return delivered, answered


def against_dev(args: argparse.Namespace, quiet: bool) -> dict[str, Any]:
    import httpx

    system = start_dev(args.port, args.emulator_port, quiet)
    try:
        http = httpx.Client(base_url=system.url, timeout=60)
        token = prepare(http)
        headers = {"Authorization": f"Bearer {token}"}
        first = [{"level": "info", "seq": -1, "message": "first"}]
        http.post("/api/v1/ingest/bench_tail", json=first, headers=headers).raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the stream exists once its first line landed
            probe = http.post("/v1/api/sql", json={"sql": "SELECT count(*) FROM bench_tail"}, headers=headers)
            if probe.status_code == 200:
                break
            time.sleep(0.5)
        progress(f"(a) {args.inserts} INSERTs → WebSocket", quiet)
        receiver = Receiver(system.url, token, "SELECT id, kind FROM bench.events WHERE kind = 'hit'", "id")
        delivered, answered = inserts(http, token, receiver, args.inserts, 1)
        receiver.close()
        progress(f"(b) {args.lines} ingested lines → WebSocket", quiet)
        tail = Receiver(system.url, token, "SELECT seq, message FROM bench_tail WHERE level = 'error'", "seq")
        tail_delivered, tail_answered = ingest_lines(http, token, tail, args.lines)
        tail.close()
        return {
            "insert_to_ws": summary(delivered),
            "insert_round_trip_baseline": summary(answered),
            "ingest_to_ws": summary(tail_delivered),
            "ingest_202_baseline": summary(tail_answered),
        }
    finally:
        system.stop()


def counted(args: argparse.Namespace, quiet: bool) -> dict[str, Any]:
    import httpx

    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.observability import logger
    from molesignal.settings import reset_settings

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbenchlive{uuid.uuid4().hex[:6]}"
    reset_settings()
    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[union-attr]  # noqa: SIM115
    progress(f"(c) DynamoDB requests: {args.counted} INSERTs with a subscriber, {args.counted} without", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    try:
        http = httpx.Client(base_url=system.url, timeout=60)
        token = prepare(http)
        with AwsCallTimer() as timer:
            next_id = 1

            def plain_inserts() -> list[tuple[str, str, float]]:
                nonlocal next_id
                timer.take()
                for i in range(next_id, next_id + args.counted):
                    sql(http, token, f"INSERT INTO bench.events (id, kind) VALUES ({i}, 'hit')")  # noqa: S608
                next_id += args.counted
                return timer.take()

            never = plain_inserts()  # fan-out on, the org never subscribed: no Query
            receiver = Receiver(system.url, token, "SELECT id FROM bench.events WHERE kind = 'hit'", "id")
            timer.take()
            inserts(http, token, receiver, args.counted, next_id)
            next_id += args.counted
            watched = timer.take()
            receiver.close()
            time.sleep(0.5)  # $disconnect removes the subscription
            unwatched = plain_inserts()  # the subscriber left: the marker still says "maybe", one Query
            os.environ["MOLESIGNAL_LIVE_CONNECTIONS_URL"] = ""  # baseline: no live queries at all
            reset_settings()
            baseline = plain_inserts()

        def count(calls: list[tuple[str, str, float]], service: str) -> int:
            return sum(1 for s, _, _ in calls if s == service)

        delivered = receiver.changes
        base = count(baseline, "dynamodb")
        return {
            "delivered_changes": delivered,
            "dynamodb_requests_with_subscriber": count(watched, "dynamodb"),
            "dynamodb_requests_fanout_on_org_never_subscribed": count(never, "dynamodb"),
            "dynamodb_requests_fanout_on_no_subscriber": count(unwatched, "dynamodb"),
            "dynamodb_requests_fanout_off_baseline": base,
            "dynamodb_requests_per_1000_delivered": r3((count(watched, "dynamodb") - base) / delivered * 1000),
            "dynamodb_requests_per_1000_unwatched_changes": r3(
                (count(unwatched, "dynamodb") - base) / args.counted * 1000
            ),
            "dynamodb_requests_per_1000_changes_org_never_subscribed": r3(
                (count(never, "dynamodb") - base) / args.counted * 1000
            ),
            "post_to_connection_per_1000_delivered": r3(count(watched, "apigatewaymanagementapi") / delivered * 1000),
            "dynamodb_requests_per_insert_baseline": r3(base / args.counted),
        }
    finally:
        system.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inserts", type=int, default=200)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--counted", type=int, default=200)
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOLESIGNAL_PORT", "5293")))
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("MOLESIGNAL_EMULATOR_PORT", "5294")))
    parser.add_argument("--only-counted", action="store_true", help="(c) only; keeps (a) and (b) of --out's file")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "live",
        "when": datetime.now(UTC).isoformat(),
        "git": git_info(),
        "host": host_info(),
        "interpreter": interpreter_info(["websockets", "uvicorn", "duckdb", "moto"]),
        "load_before": loadavg(),
        "parameters": vars(args) | {"out": str(args.out) if args.out else None},
    }
    out = args.out or Path(__file__).resolve().parents[1] / "results" / f"live-{datetime.now(UTC):%Y-%m-%d}.json"
    if args.only_counted:
        result["make_dev"] = json.loads(out.read_text())["make_dev"]
    else:
        result["make_dev"] = against_dev(args, args.quiet)
    result["dynamodb"] = counted(args, args.quiet)
    result["load_after"] = loadavg()
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"make_dev": result["make_dev"], "dynamodb": result["dynamodb"]}, indent=2))
    progress(f"wrote {out}", args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
