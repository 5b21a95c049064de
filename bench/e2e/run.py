"""End-to-end benchmark: from the first byte sent to every row queryable, on ``make dev``.

Talks only HTTP to a running local system, so it measures whatever ``make dev`` runs
(the embedded emulator of the day, the gateway, the functions, the pollers):

* by default it starts ``python -m molesignal dev`` itself, in a fresh data directory and
  resource prefix, on ``--port``/``--emulator-port``, and stops it afterwards;
* with ``--url`` it uses a system that is already running (``--root-password`` and
  ``--admin-user``/``--admin-password`` log in; a fresh system is set up with them).

Scenarios (``--scenarios``, both by default):

**large** — ``--clients`` (4) concurrent clients send ``--mib`` MiB of raw NDJSON in bodies
of at most ``--body-bytes`` (1 MiB) to ``POST /api/v1/ingest/<stream>``. The clock starts
before the first byte and stops when ``SELECT count(*)`` over the stream returns every
record sent (polled every ``--poll-s``). **Baseline**, in the same run, before and after:
``pyarrow.json.read_json`` + ``pyarrow.parquet.write_table`` (pyarrow's defaults, its
default threads) on the same bodies, one body at a time. ``ratio`` = baseline seconds /
end-to-end seconds (a throughput ratio; target ≥ 0.25).

**small** — ``--small-clients`` (16) clients send ``--small-records`` (100) records per
request for ``--small-seconds``; the script reports the requests accepted per second, the
rows landed per second while the clients run (the stream's stats, read every second) and
the **drain**: how long after the last 202 every row is queryable (issue 11.9: the worker
must keep up with what the gateway accepts).

**Where the time goes.** When the script started the system (or ``--pid`` names it), it
reads the process's CPU time before and after each scenario, and with ``--py-spy PATH``
it samples the process with ``py-spy record --gil`` (only threads holding the GIL: the
local system is one Python process, so the GIL is the budget everything shares) and
sorts the samples into components: gateway/HTTP server, authorizer, ingest function,
worker, pollers, query, emulator (moto and its web server), AWS client (botocore).

    .venv/bin/python bench/e2e/run.py                          # table + bench/results/e2e-<date>.json
    .venv/bin/python bench/e2e/run.py --mib 16 --small-seconds 10 --out /tmp/e2e.json   # quick
    .venv/bin/python bench/e2e/run.py --py-spy "$(command -v py-spy)"                    # with the GIL profile
    .venv/bin/python bench/e2e/run.py --url http://127.0.0.1:5080 --root-password ... --admin-password ...
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

import httpx  # noqa: E402
import orjson  # noqa: E402
import pyarrow.json as pj  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench.common import (  # noqa: E402
    git_info,
    interpreter_info,
    loadavg,
    progress,
    r3,
    r4,
    tree_cpu_s,
    tree_cpu_split_s,
    tree_rss_bytes,
)
from bench.ingest import dataset  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
MIB = 1 << 20
TARGET_RATIO = 0.25
DEFAULT_ROOT_PASSWORD = "BenchRoot123!"  # noqa: S105 - set on the fresh system the script starts
DEFAULT_ADMIN = ("bench", "BenchAdmin123!")
QUERY_SPAN_US = (dataset.START_US - 3_600_000_000, dataset.START_US + (dataset.SPAN_HOURS + 1) * 3_600_000_000)


# ---------------------------------------------------------------- the system under test


@dataclass
class System:
    url: str
    pid: int | None = None
    process: subprocess.Popen[bytes] | None = None
    data_dir: str | None = None
    log_path: str | None = None

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of the system's processes (it and its children: the
        emulator, query engines), all threads (Linux)."""
        return tree_cpu_s(self.pid) if self.pid is not None else None

    def cpu_split(self) -> dict[str, dict[str, float]]:
        """The same, per process of the system and split into user and kernel time."""
        return tree_cpu_split_s(self.pid, _process_label) if self.pid is not None else {}

    def rss_mib(self) -> float | None:
        return tree_rss_bytes(self.pid) / MIB if self.pid is not None else None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_dev(port: int, emulator_port: int, quiet: bool) -> System:
    """``python -m molesignal dev`` in a fresh data directory and resource prefix."""
    work_dir = tempfile.mkdtemp(prefix="molesignal-e2e-")
    data_dir = os.path.join(work_dir, "data")  # the system refuses a non-empty directory not its own
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "MOLESIGNAL_AWS_ENDPOINT_URL")}
    env.update(
        {
            "MOLESIGNAL_PORT": str(port),
            "MOLESIGNAL_EMULATOR_PORT": str(emulator_port),
            "MOLESIGNAL_DATA_DIR": data_dir,
            "MOLESIGNAL_RESOURCE_PREFIX": f"e2e{uuid.uuid4().hex[:6]}",
            "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("layers/core/python", "functions", ".")),
        }
    )
    log_path = os.path.join(work_dir, "dev.log")
    log = open(log_path, "wb")  # noqa: SIM115 - the child writes to it until it stops
    process = subprocess.Popen(
        [sys.executable, "-m", "molesignal", "dev"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"make dev exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{url}/api/v1/healthz", timeout=2).status_code == 200:
                progress(f"local system up at {url} (pid {process.pid}, data {data_dir})", quiet)
                return System(url, process.pid, process, data_dir, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"the local system did not answer within 120 s; see {log_path}")


@dataclass
class Tenant:
    org_id: str
    headers: dict[str, str]


def tenant(http: httpx.Client, root_password: str, admin: tuple[str, str]) -> Tenant:
    """Log in (setting the system up if it is fresh), lift the org's quotas, make an editor token."""
    if http.get("/api/v1/auth/status").json().get("needs_setup"):
        setup = http.post(
            "/api/v1/auth/setup", json={"user": admin[0], "password": admin[1], "root_password": root_password}
        )
        setup.raise_for_status()
    logged = http.post("/api/v1/auth/login", json={"user": admin[0], "password": admin[1]})
    logged.raise_for_status()
    session = logged.json()
    org_id = session["user"]["org_id"]
    root = http.post("/api/v1/auth/login", json={"user": "root", "password": root_password})
    root.raise_for_status()
    quota = http.put(
        f"/api/v1/orgs/{org_id}/quotas",
        json={"ingest_qps": 100_000, "query_qps": 100_000, "storage_bytes": 10**15},
        headers={"Authorization": f"Bearer {root.json()['access_token']}"},
    )
    quota.raise_for_status()
    token = http.post(
        "/api/v1/tokens",
        json={"name": f"e2e-{uuid.uuid4().hex[:6]}", "role": "editor"},
        headers={"Authorization": f"Bearer {session['access_token']}"},
    )
    token.raise_for_status()
    return Tenant(org_id, {"Authorization": f"Bearer {token.json()['token']}"})


def count_rows(http: httpx.Client, who: Tenant, stream: str) -> int:
    response = http.post(
        "/api/v1/query",
        json={
            "sql": f'SELECT count(*) AS n FROM "{stream}"',  # noqa: S608 - our own generated stream name
            "time_range": {"start": QUERY_SPAN_US[0], "end": QUERY_SPAN_US[1]},
        },
        headers=who.headers,
    )
    if response.status_code in (400, 404) and "TABLE_NOT_FOUND" in response.text:  # 404 since docs/api.md said so
        return 0  # nothing landed yet: the stream does not exist
    response.raise_for_status()
    return int(response.json()["rows"][0]["n"])


def stream_stats(http: httpx.Client, who: Tenant, stream: str) -> dict[str, Any]:
    """The stream's files and stored bytes once every row is queryable (recent compaction
    may have merged some files by then)."""
    response = http.get(f"/api/v1/streams/{stream}", headers=who.headers)
    response.raise_for_status()
    stats = response.json()["stats"]
    return {"files": stats["files"], "stored_bytes": stats["bytes"], "rows": stats["rows"]}


def wait_queryable(
    http: httpx.Client,
    who: Tenant,
    stream: str,
    expected: int,
    poll_s: float,
    timeout_s: float,
    polls_ms: list[float] | None = None,
) -> int:
    """Poll ``count(*)`` until it reaches ``expected``; each poll's latency goes to ``polls_ms``."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        seen = count_rows(http, who, stream)
        if polls_ms is not None:
            polls_ms.append((time.perf_counter() - started) * 1000)
        if seen >= expected:
            return seen
        time.sleep(poll_s)
    raise SystemExit(f"only {seen} of {expected} rows became queryable within {timeout_s:g} s")


def wait_idle(
    http: httpx.Client, who: Tenant, stream: str, stats: dict[str, Any], settle_s: float, timeout_s: float
) -> dict[str, Any]:
    """The stream's stats once its file count has not changed for ``settle_s``: work the
    system defers past the clock (merging what landed) shows in the CPU until then."""
    deadline = time.monotonic() + timeout_s
    settled_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(min(0.25, settle_s))
        now = stream_stats(http, who, stream)
        if now["files"] != stats["files"]:
            stats, settled_since = now, time.monotonic()
        elif time.monotonic() - settled_since >= settle_s:
            return stats
    raise SystemExit(f"the stream's file count kept changing for {timeout_s:g} s")


# ---------------------------------------------------------------- data and baseline


def bodies_of(raw: bytes, body_bytes: int, total_bytes: int) -> list[bytes]:
    """Consecutive bodies of whole NDJSON lines, each at most ``body_bytes``, ``total_bytes`` in all."""
    bodies: list[bytes] = []
    start, used = 0, 0
    while start < len(raw) and used < total_bytes:
        end = raw.rfind(b"\n", start, start + body_bytes) + 1
        if end <= start:
            raise SystemExit("a record is longer than --body-bytes")
        bodies.append(raw[start:end])
        used += end - start
        start = end
    if used < total_bytes:
        raise SystemExit(f"the dataset holds only {used:,} bytes; raise --records")
    return bodies


def baseline_pass(bodies: list[bytes]) -> tuple[float, float]:
    """pyarrow read_json + write_table (defaults) per body: (wall s, CPU s of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        table = pj.read_json(io.BytesIO(body))
        pq.write_table(table, io.BytesIO())
    return time.perf_counter() - wall, time.process_time() - cpu


# ---------------------------------------------------------------- the GIL profile


class GilProfile:
    """``py-spy record --gil --subprocesses`` on the system for the length of a scenario: each
    process has its own GIL (the emulator runs in a child, docs/adr/0023-local-process-shape.md)."""

    def __init__(self, py_spy: str | None, pid: int | None, path: Path, rate: int) -> None:
        self.enabled = bool(py_spy and pid)
        self.path = path
        self._args = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--gil", "--rate", str(rate)]
        self._args += ["--format", "raw", "--output", str(path), "--nonblocking"]
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GilProfile:
        if self.enabled:
            self._process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(timeout=60)

    def summary(self, wall_s: float, top: int = 25) -> dict[str, Any] | None:
        if not self.enabled or not self.path.exists():
            return None
        return summarise_stacks(self.path.read_text(), self.rate, wall_s, top)


# (component, marker) — the first marker found walking a stack from its root names the component.
# Order matters: a worker invocation runs inside the poller, a handler inside the gateway.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("emulator", ("moto/", "werkzeug/", "molesignal/local/emulator", "socketserver.py")),
    ("worker", ("ingest_worker/", "molesignal/lake/writer", "molesignal/lake/arrow_batch")),
    ("compaction and schedules", ("compaction_worker/", "retention_worker/", "housekeeping_worker/", "scheduler.py")),
    ("authorizer", ("authorizer/handler",)),
    ("ingest function", ("ingest_api/",)),
    ("query function", ("query_api/",)),
    ("other functions", ("auth_api/", "admin_api/", "platform_api/", "otlp_api/")),
    ("pollers", ("molesignal/local/pollers",)),
    ("gateway", ("molesignal/local/gateway", "uvicorn/", "h11/", "httptools")),
)
# Within a component, what the sample's innermost frame was doing.
ACTIVITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWS client (botocore, urllib3, http.client)", ("botocore/", "boto3/", "urllib3/", "http/client.py")),
    ("normalize", ("molesignal/ingest/normalize",)),
    ("JSON parse/encode (orjson, json)", ("orjson", "json/")),
    ("zstd/base64 (hand-over)", ("cramjam", "base64.py")),
    ("pyarrow", ("pyarrow/",)),
    ("pydantic/FastAPI/Mangum/Starlette", ("pydantic", "fastapi/", "mangum/", "starlette/")),
    ("logging/powertools", ("logging/", "aws_lambda_powertools/")),
    ("DuckDB", ("duckdb",)),
)


def _component(frames: list[str]) -> str:
    for name, markers in COMPONENTS:
        if any(marker in frame for frame in frames for marker in markers):
            return name
    return "other"


def _activity(frames: list[str]) -> str:
    """What the innermost frame was running (a C call such as ``orjson.loads`` is charged to
    the Python line that made it, so that line shows in ``top_leaves``)."""
    for name, markers in ACTIVITIES:
        if any(marker in frames[-1] for marker in markers):
            return name
    return "own code and the rest"


def _process_label(command: str) -> str:
    """Which of the system's processes a ``py-spy --subprocesses`` stack ran in."""
    if "molesignal emulator" in command:
        return "emulator"
    if "molesignal worker" in command:
        return "worker"
    if "molesignal dev" in command:
        return "system"
    if " -c " in command:
        return "query engines"
    return "other"


def summarise_stacks(raw: str, rate: int, wall_s: float, top: int) -> dict[str, Any]:
    by_process: collections.Counter[str] = collections.Counter()
    components_by_process: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    by_component: collections.Counter[str] = collections.Counter()
    by_activity: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        process = "system"
        while frames and frames[0].startswith("process "):  # py-spy's frames naming the process
            process = _process_label(frames.pop(0))
        if not frames:
            continue
        component = _component(frames)
        by_process[process] += count
        components_by_process[process][component] += count
        by_component[component] += count
        by_activity[component][_activity(frames)] += count
        leaves[f"{component}: {frames[-1]}"] += count
        total += count
    share = lambda n: r4(n / total) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "rate_hz": rate,
        "gil_busy_s": r3(total / rate),
        "gil_busy_share_of_wall": r4(total / rate / wall_s) if wall_s else None,
        # Each process has a GIL of its own: its busy share of the wall clock, and what held it.
        "processes": {
            name: {
                "gil_busy_share_of_wall": r4(n / rate / wall_s) if wall_s else None,
                "components": {c: r4(k / n) for c, k in components_by_process[name].most_common()},
            }
            for name, n in by_process.most_common()
        },
        "components": {
            name: {
                "share": share(n),
                "gil_s": r3(n / rate),
                "activities": {a: share(c) for a, c in by_activity[name].most_common()},
            }
            for name, n in by_component.most_common()
        },
        "top_leaves": [{"frame": f, "share": share(n)} for f, n in leaves.most_common(top)],
    }


# ---------------------------------------------------------------- scenarios


@dataclass
class Sent:
    records: int = 0
    requests: int = 0
    bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_accepted: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, records: int, size: int, started: float) -> None:
        now = time.perf_counter()
        with self.lock:
            self.records += records
            self.requests += 1
            self.bytes += size
            self.latencies_ms.append((now - started) * 1000)
            self.last_accepted = max(self.last_accepted, now)


def post_ndjson(http: httpx.Client, path: str, who: Tenant, body: bytes, sent: Sent) -> None:
    started = time.perf_counter()
    response = http.post(path, content=body, headers={**who.headers, "Content-Type": "application/x-ndjson"})
    records = body.count(b"\n")
    if response.status_code != 202 or response.json().get("accepted") != records:
        with sent.lock:
            sent.errors.append(f"{response.status_code} {response.text[:200]}")
        return
    sent.note(records, len(body), started)


def run_clients(url: str, clients: int, work: Callable[[httpx.Client, int], None]) -> None:
    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            work(http, index)

    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def latency_summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "median": r3(statistics.median(ordered)),
        "p90": r3(ordered[int(0.9 * (len(ordered) - 1))]),
        "max": r3(ordered[-1]),
    }


def cpu_split_per_mib(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], total_bytes: int
) -> dict[str, dict[str, float]]:
    """Each process's user and kernel CPU per MiB over the scenario (a query engine started
    during it counts from zero)."""
    mib = total_bytes / MIB
    return {
        label: {kind: r3((spent - before.get(label, {}).get(kind, 0.0)) * 1000 / mib) for kind, spent in kinds.items()}
        for label, kinds in sorted(after.items())
    }


def warm_up(system: System, who: Tenant, bodies: list[bytes], args: argparse.Namespace) -> float:
    """Make the system warm, as it is a minute into any ``make dev``: one body per client to
    a stream of its own, until it is queryable, so the functions' imports and the query
    engines' start (measured in the cold-start section) fall outside the clock."""
    stream = f"e2e_warm_{uuid.uuid4().hex[:8]}"
    started, sent = time.perf_counter(), Sent()
    warm = bodies[: args.clients]
    path = f"/api/v1/ingest/{stream}"
    run_clients(system.url, len(warm), lambda http, i: post_ndjson(http, path, who, warm[i], sent))
    if sent.errors:
        raise SystemExit(f"warm-up failed: {sent.errors[0]}")
    with httpx.Client(base_url=system.url, timeout=60) as http:
        wait_queryable(http, who, stream, sum(b.count(b"\n") for b in warm), args.poll_s, args.timeout_s)
    return time.perf_counter() - started


def scenario_large(system: System, who: Tenant, bodies: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    quiet = args.quiet
    warm_s = warm_up(system, who, bodies, args) if args.warm_up else None
    if warm_s is not None:
        progress(f"large: warm-up ({args.clients} bodies to another stream) queryable after {warm_s:.1f} s", quiet)
    stream = f"e2e_{uuid.uuid4().hex[:8]}"
    path = f"/api/v1/ingest/{stream}"
    total_records = sum(b.count(b"\n") for b in bodies)
    total_bytes = sum(len(b) for b in bodies)
    progress(f"large: baseline before ({args.baseline_passes} passes over {len(bodies)} bodies)", quiet)
    before = [baseline_pass(bodies) for _ in range(args.baseline_passes)]
    sent = Sent()
    polls_ms: list[float] = []
    progress(f"large: {args.clients} clients send {total_bytes / MIB:.1f} MiB in {len(bodies)} bodies", quiet)
    cpu0, split0, wall0 = system.cpu_s(), system.cpu_split(), time.perf_counter()
    with GilProfile(args.py_spy, system.pid, args.profile_dir / "large.txt", args.py_spy_rate) as profile:
        wall0 = time.perf_counter()
        run_clients(
            system.url,
            args.clients,
            lambda http, i: [post_ndjson(http, path, who, b, sent) for b in bodies[i :: args.clients]],
        )
        accepted_s = time.perf_counter() - wall0
        if sent.errors:
            raise SystemExit(f"{len(sent.errors)} requests failed; first: {sent.errors[0]}")
        with httpx.Client(base_url=system.url, timeout=60) as http:
            wait_queryable(http, who, stream, total_records, args.poll_s, args.timeout_s, polls_ms)
        e2e_s = time.perf_counter() - wall0
    with httpx.Client(base_url=system.url, timeout=60) as http:
        stats = stream_stats(http, who, stream)
        cpu1, split1 = system.cpu_s(), system.cpu_split()
        idle = wait_idle(http, who, stream, stats, args.idle_s, args.timeout_s)
        idle_s = time.perf_counter() - wall0 - e2e_s - args.idle_s  # the settling wait is not work
        cpu2, split2 = system.cpu_s(), system.cpu_split()
    progress(f"large: queryable after {e2e_s:.1f} s (accepted after {accepted_s:.1f} s)", quiet)
    after = [baseline_pass(bodies) for _ in range(args.baseline_passes)]
    baselines = before + after
    baseline_wall = statistics.median(w for w, _ in baselines)
    baseline_cpu = statistics.median(c for _, c in baselines)
    system_cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return {
        "stream": stream,
        "warm_up_s": r3(warm_s) if warm_s is not None else None,
        "clients": args.clients,
        "bodies": len(bodies),
        "records": total_records,
        "bytes": total_bytes,
        "end_to_end_s": r3(e2e_s),
        "accepted_s": r3(accepted_s),
        "drain_after_last_202_s": r3(wall0 + e2e_s - sent.last_accepted),
        "end_to_end_mib_s": r3(total_bytes / MIB / e2e_s),
        "api_accepted_mib_s": r3(total_bytes / MIB / accepted_s),
        "request_latency_ms": latency_summary(sent.latencies_ms),
        "stream_when_queryable": stats,
        "count_polls_ms": [round(ms, 1) for ms in polls_ms],
        "baseline": {
            "samples_wall_s": [r3(w) for w, _ in baselines],
            "samples_cpu_s": [r3(c) for _, c in baselines],
            "wall_s": r3(baseline_wall),
            "cpu_s": r3(baseline_cpu),
            "mib_s": r3(total_bytes / MIB / baseline_wall),
        },
        "ratio": r4(baseline_wall / e2e_s),
        "target_ratio": TARGET_RATIO,
        "pass": baseline_wall / e2e_s >= TARGET_RATIO,
        "system_cpu_s": r3(system_cpu) if system_cpu is not None else None,
        "system_cpu_ms_per_mib": r3(system_cpu * 1000 / (total_bytes / MIB)) if system_cpu is not None else None,
        "system_cores_used": r3(system_cpu / e2e_s) if system_cpu is not None else None,
        "system_cpu_ms_per_mib_by_process": cpu_split_per_mib(split0, split1, total_bytes),
        "baseline_cpu_ms_per_mib": r3(baseline_cpu * 1000 / (total_bytes / MIB)),
        # From the first byte until the stream's file count settled (--idle-s unchanged):
        # nothing deferred past the clock is left out of the CPU (the settling wait, polls
        # of the stream's stats, is in it: a few ms).
        "until_idle": {
            "seconds_after_queryable": r3(max(0.0, idle_s)),
            "stream": idle,
            "system_cpu_ms_per_mib": r3((cpu2 - cpu0) * 1000 / (total_bytes / MIB))
            if cpu0 is not None and cpu2 is not None
            else None,
            "system_cpu_ms_per_mib_by_process": cpu_split_per_mib(split0, split2, total_bytes),
        },
        "rss_mib_after": r3(system.rss_mib() or 0) or None,
        "gil_profile": profile.summary(e2e_s),
    }


def scenario_small(system: System, who: Tenant, raw: bytes, args: argparse.Namespace) -> dict[str, Any]:
    quiet = args.quiet
    stream = f"e2e_small_{uuid.uuid4().hex[:8]}"
    path = f"/api/v1/ingest/{stream}"
    lines = raw.split(b"\n")
    per = args.small_records
    sent = Sent()
    stop = threading.Event()
    landed: list[tuple[float, int]] = []

    def work(http: httpx.Client, index: int) -> None:
        n = index
        while not stop.is_set():
            start = (n * per) % max(1, len(lines) - per - 1)
            post_ndjson(http, path, who, b"\n".join(lines[start : start + per]) + b"\n", sent)
            n += args.small_clients

    def watch(http: httpx.Client, t0: float) -> None:
        while not stop.is_set():
            response = http.get(f"/api/v1/streams/{stream}", headers=who.headers)
            rows = int(response.json()["stats"]["rows"]) if response.status_code == 200 else 0
            landed.append((time.perf_counter() - t0, rows))
            stop.wait(1.0)

    progress(f"small: {args.small_clients} clients, {per} records per request, for {args.small_seconds:g} s", quiet)
    cpu0 = system.cpu_s()
    with GilProfile(args.py_spy, system.pid, args.profile_dir / "small.txt", args.py_spy_rate) as profile:
        t0 = time.perf_counter()
        timer = threading.Timer(args.small_seconds, stop.set)
        timer.start()
        watcher_http = httpx.Client(base_url=system.url, timeout=60)
        watcher = threading.Thread(target=watch, args=(watcher_http, t0), name="watcher")
        watcher.start()
        run_clients(system.url, args.small_clients, work)
        sending_s = time.perf_counter() - t0
        watcher.join()
        landed_while_sending = landed[-1][1] if landed else 0
        wait_queryable(watcher_http, who, stream, sent.records, args.poll_s, args.timeout_s)
        done = time.perf_counter()
        watcher_http.close()
    cpu1 = system.cpu_s()
    drain_s = done - sent.last_accepted
    progress(f"small: {sent.requests} requests accepted in {sending_s:.1f} s; drained {drain_s:.1f} s later", quiet)
    return {
        "stream": stream,
        "clients": args.small_clients,
        "records_per_request": per,
        "sending_s": r3(sending_s),
        "requests": sent.requests,
        "records": sent.records,
        # A failed request is not counted as sent (its rows are not waited for); it is reported.
        "failed_requests": len(sent.errors),
        "failures": sent.errors[:5],
        "accepted_requests_per_s": r3(sent.requests / sending_s),
        "accepted_records_per_s": r3(sent.records / sending_s),
        "landed_records_while_sending": landed_while_sending,
        "landed_records_per_s_while_sending": r3(landed_while_sending / sending_s),
        "landed_share_when_sending_stopped": r4(landed_while_sending / sent.records) if sent.records else None,
        "drain_after_last_202_s": r3(drain_s),
        "request_latency_ms": latency_summary(sent.latencies_ms),
        "landed_timeline": [[r3(t), n] for t, n in landed],
        "system_cpu_s": r3(cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None,
        "gil_profile": profile.summary(done - t0),
    }


# ---------------------------------------------------------------- report


def print_report(result: dict[str, Any]) -> None:
    large = result.get("large")
    if large:
        print(f"\nEnd to end: {large['clients']} clients, {large['bodies']} bodies, {large['bytes'] / MIB:.1f} MiB")
        rate = large["end_to_end_mib_s"]
        print(f"  first byte → every row queryable   {large['end_to_end_s']:8.2f} s   {rate:6.2f} MiB/s")
        rate = large["api_accepted_mib_s"]
        print(f"  … API accepted everything after    {large['accepted_s']:8.2f} s   {rate:6.2f} MiB/s")
        print(f"  … queryable after the last 202     {large['drain_after_last_202_s']:8.2f} s")
        if large.get("stream_when_queryable"):
            files = large["stream_when_queryable"]
            print(f"  stream then: {files['files']} files, {files['stored_bytes'] / MIB:.1f} MiB stored")
        base = large["baseline"]
        print(f"  baseline read_json + write_table   {base['wall_s']:8.2f} s   {base['mib_s']:6.2f} MiB/s")
        verdict = "pass" if large["pass"] else "MISS"
        print(f"  ratio (baseline / end to end)      {large['ratio']:8.3f}     target ≥ {TARGET_RATIO}: {verdict}")
        if large.get("system_cpu_ms_per_mib") is not None:
            cores = large["system_cores_used"]
            print(
                f"  system CPU {large['system_cpu_ms_per_mib']:.0f} ms per MiB ({cores:.2f} cores);"
                f" baseline {large['baseline_cpu_ms_per_mib']:.0f} ms per MiB"
            )
            for label, kinds in (large.get("system_cpu_ms_per_mib_by_process") or {}).items():
                print(f"    {label:<16} user {kinds['user']:5.0f} ms per MiB   kernel {kinds['sys']:4.0f} ms per MiB")
        idle = large.get("until_idle")
        if idle and idle.get("system_cpu_ms_per_mib") is not None:
            print(
                f"  until idle ({idle['stream']['files']} files, {idle['seconds_after_queryable']:.1f} s after):"
                f" system CPU {idle['system_cpu_ms_per_mib']:.0f} ms per MiB"
            )
            for label, kinds in idle["system_cpu_ms_per_mib_by_process"].items():
                print(f"    {label:<16} user {kinds['user']:5.0f} ms per MiB   kernel {kinds['sys']:4.0f} ms per MiB")
        print_profile(large.get("gil_profile"))
    small = result.get("small")
    if small:
        print(f"\nSmall requests: {small['clients']} clients, {small['records_per_request']} records per request")
        per_s = small["accepted_records_per_s"]
        print(f"  accepted  {small['accepted_requests_per_s']:8.2f} requests/s   {per_s:9.0f} records/s")
        print(f"  landed    {small['landed_records_per_s_while_sending']:28.0f} records/s while sending")
        print(f"  every row queryable {small['drain_after_last_202_s']:.2f} s after the last 202")
        print_profile(small.get("gil_profile"))


def print_profile(profile: dict[str, Any] | None) -> None:
    if not profile:
        return
    print(f"  GIL held {profile['gil_busy_s']:.1f} s ({profile['gil_busy_share_of_wall']:.0%} of the wall time):")
    for name, process in profile.get("processes", {}).items():
        top = ", ".join(f"{c} {s:.0%}" for c, s in list(process["components"].items())[:4])
        print(f"    process {name:18s} GIL busy {process['gil_busy_share_of_wall']:5.0%} of the wall   ({top})")
    for name, part in profile["components"].items():
        doing = ", ".join(f"{a} {s:.0%}" for a, s in list(part["activities"].items())[:3])
        print(f"    {name:26s} {part['share']:6.1%}   ({doing})")


def main(argv: list[str] | None = None) -> int:
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", help="a running system (default: start `python -m molesignal dev`)")
    parser.add_argument("--pid", type=int, help="with --url: the system's process, for CPU time and py-spy")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOLESIGNAL_PORT", "5107")))
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("MOLESIGNAL_EMULATOR_PORT", "4607")))
    parser.add_argument("--root-password", default=DEFAULT_ROOT_PASSWORD)
    parser.add_argument("--admin-user", default=DEFAULT_ADMIN[0])
    parser.add_argument("--admin-password", default=DEFAULT_ADMIN[1])
    parser.add_argument("--scenarios", default="large,small", help="comma-separated: large, small")
    parser.add_argument("--mib", type=float, default=64, help="large: MiB of raw NDJSON sent (default %(default)s)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--body-bytes", type=int, default=MIB)
    parser.add_argument("--baseline-passes", type=int, default=3, help="baseline passes before and after")
    parser.add_argument("--small-clients", type=int, default=16)
    parser.add_argument("--small-records", type=int, default=100)
    parser.add_argument("--small-seconds", type=float, default=30)
    parser.add_argument("--records", type=int, default=120_000, help="dataset records (bench/ingest/dataset.py)")
    parser.add_argument(
        "--warm-up",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="large: first send one body per client to another stream and wait until it is queryable",
    )
    for name, default, about in (
        ("--poll-s", 0.05, "seconds between count(*) polls"),
        ("--timeout-s", 900.0, "give up waiting after this long"),
        ("--idle-s", 3.0, "large: the stream's file count unchanged this long counts as idle"),
    ):
        parser.add_argument(name, type=float, default=default, help=about)
    parser.add_argument("--py-spy", help="path of py-spy: sample the system's GIL holders during each scenario")
    parser.add_argument("--py-spy-rate", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"e2e-{now:%Y-%m-%d}.json")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    args.profile_dir = Path(tempfile.mkdtemp(prefix="molesignal-e2e-profile-"))

    raw = dataset.ensure_raw(args.records, dataset.DEFAULT_SEED, quiet=args.quiet).read_bytes()
    bodies = bodies_of(raw, args.body_bytes, int(args.mib * MIB))
    load_start = loadavg()
    system = System(args.url, pid=args.pid) if args.url else start_dev(args.port, args.emulator_port, args.quiet)
    result: dict[str, Any] = {
        "benchmark": "e2e",
        "started_utc": now.isoformat(timespec="seconds"),
        "git": git_info(),
        "machine": interpreter_info(["pyarrow", "moto", "boto3", "fastapi", "mangum", "uvicorn", "orjson", "duckdb"]),
        "system": {"url": system.url, "started_by_script": system.process is not None, "pid": system.pid},
        "dataset": {"generator": "bench/ingest/dataset.py", "records": args.records, "seed": dataset.DEFAULT_SEED},
        "load_start": load_start,
    }
    try:
        with httpx.Client(base_url=system.url, timeout=60) as http:
            who = tenant(http, args.root_password, (args.admin_user, args.admin_password))
        result["system"]["rss_mib_start"] = system.rss_mib()
        if "large" in scenarios:
            result["large"] = scenario_large(system, who, bodies, args)
        if "small" in scenarios:
            result["small"] = scenario_small(system, who, raw, args)
    finally:
        system.stop()
    result["load_end"] = loadavg()
    result["profiles_dir"] = str(args.profile_dir) if args.py_spy else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    print_report(result)
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
