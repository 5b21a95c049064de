"""Memory of `make dev` while it ingests: the RSS of its whole process tree, sampled while
clients send NDJSON through the API and the worker lands it, until every row is queryable.

The target: after 1 GiB of NDJSON, the process tree stays under 2 GiB RSS. The baseline,
in the same run, is the same system with ``MOLESIGNAL_DATA_DIR=:memory:`` (moto holding
every object and message in memory, as before the data directory existed) on a smaller
volume; the figure compared is RSS growth per GiB ingested.

    .venv/bin/python bench/dev_memory/run.py                       # 1 GiB durable + 256 MiB in memory
    .venv/bin/python bench/dev_memory/run.py --gib 0.1 --baseline-mib 64   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "bench" / "ingest", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import dataset  # noqa: E402
import httpx  # noqa: E402
from bench.common import git_info, interpreter_info, loadavg, progress, r3, tree_rss_bytes  # noqa: E402

MIB = 1024 * 1024
STREAM = "memtest"
WARMUP_BYTES = 16 * MIB
ADMIN = {"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"}


def system_rss(root: int) -> int:
    """Resident bytes of the local system: ``python -m molesignal dev`` and every process it
    started. That is its process group (the AWS emulator is a child in it, ADR 0023) and the
    query engines, which run in sessions of their own so that Ctrl-C is the server's."""
    return tree_rss_bytes(root)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bodies(source: Path, body_bytes: int) -> Iterator[bytes]:
    """~body_bytes NDJSON request bodies cut at line ends, cycling through the dataset."""
    while True:
        with source.open("rb") as handle:
            while chunk := handle.read(body_bytes):
                chunk += handle.readline()
                yield chunk


class Sampler:
    def __init__(self, root: int) -> None:
        self.root = root
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append((time.monotonic() - self.started, system_rss(self.root)))

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)


class Dev:
    """``python -m molesignal dev`` in a process group of its own."""

    def __init__(self, label: str, data_dir: str) -> None:
        self.label = label
        self.url = ""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOLESIGNAL_", "AWS_ENDPOINT_URL"))}
        port = free_port()
        env.update(
            MOLESIGNAL_PORT=str(port),
            MOLESIGNAL_EMULATOR_PORT=str(free_port()),
            MOLESIGNAL_DATA_DIR=data_dir,
            MOLESIGNAL_LOG_REQUESTS="false",
            MOLESIGNAL_DEFAULT_INGEST_QPS="1000",
        )
        self.log = Path(tempfile.gettempdir()) / f"dev-memory-{label}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "molesignal", "dev"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + 300
        while True:
            try:
                if client.get("/api/v1/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"molesignal dev did not start; see {self.log}")
            time.sleep(0.5)

    @property
    def rss(self) -> int:
        return system_rss(self.process.pid)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


class Load:
    """Clients sending NDJSON bodies until a byte budget is spent, and the rows they sent."""

    def __init__(self, url: str, token: str, body_bytes: int, quiet: bool) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        self.feed = bodies(dataset.ensure_raw(120_000, quiet=quiet), body_bytes)
        self.lock = threading.Lock()
        self.sent = {"bytes": 0, "rows": 0, "requests": 0, "refused": 0}
        self.budget = 0

    def _send(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while True:
                with self.lock:
                    if self.sent["bytes"] >= self.budget:
                        return
                    body = next(self.feed)
                    self.sent["bytes"] += len(body)
                answer = client.post(f"/api/v1/ingest/{STREAM}", content=body, headers=self.headers)
                with self.lock:
                    if answer.status_code == 202:
                        self.sent["rows"] += body.count(b"\n")
                        self.sent["requests"] += 1
                    else:
                        self.sent["refused"] += 1

    def send(self, total_bytes: int, clients: int, progress_line: Any) -> None:
        self.budget += total_bytes
        threads = [threading.Thread(target=self._send) for _ in range(clients)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            progress_line(f"sent {self.sent['bytes'] / MIB:,.0f} MiB")
        for thread in threads:
            thread.join()


def wait_landed(client: httpx.Client, headers: dict[str, str], rows: int, progress_line: Any) -> None:
    landed = 0
    sql = "SELECT count(*) FROM memtest"
    while landed < rows:
        time.sleep(5)
        answer = client.post("/v1/api/sql", json={"sql": sql}, headers=headers)
        if answer.status_code == 200:
            landed = int(answer.json()["results"][0]["rows"][0][0])
        progress_line(f"landed {landed:,}/{rows:,} rows")


def run_once(label: str, data_dir: str, total_bytes: int, clients: int, body_bytes: int, quiet: bool) -> dict[str, Any]:
    """Warm up (the first requests import pyarrow, DuckDB, ...), then ingest ``total_bytes``
    and wait until every row is queryable, sampling the RSS throughout."""
    dev = Dev(label, data_dir)
    try:
        client = httpx.Client(base_url=dev.url, timeout=120)
        dev.wait_ready(client)

        def line(message: str) -> None:
            progress(f"[{label}] {message}, {dev.rss / MIB:,.0f} MiB RSS", quiet)

        idle_rss = dev.rss
        client.post("/api/v1/auth/setup", json=ADMIN)
        login = client.post("/api/v1/auth/login", json={"user": ADMIN["user"], "password": ADMIN["password"]}).json()
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        token = client.post("/api/v1/tokens", json={"name": "mem", "role": "editor"}, headers=headers).json()["token"]
        load = Load(dev.url, token, body_bytes, quiet)
        load.send(WARMUP_BYTES, clients, line)
        wait_landed(client, headers, load.sent["rows"], line)
        warm_rss, warm_bytes = dev.rss, load.sent["bytes"]
        sampler = Sampler(dev.process.pid).start()
        started = time.monotonic()
        load.send(total_bytes - warm_bytes, clients, line)
        send_s = time.monotonic() - started
        wait_landed(client, headers, load.sent["rows"], line)
        land_s = time.monotonic() - started
        sampler.stop()
        final_rss = dev.rss
        disk = sum(p.stat().st_size for p in Path(data_dir).rglob("*") if p.is_file()) if data_dir != ":memory:" else 0
        measured = load.sent["bytes"] - warm_bytes
        return {
            "label": label,
            "data_dir": data_dir,
            "ingested_bytes": load.sent["bytes"],
            "requests": load.sent["requests"],
            "refused": load.sent["refused"],
            "rows": load.sent["rows"],
            "send_s": r3(send_s),
            "all_landed_s": r3(land_s),
            "idle_rss_mib": r3(idle_rss / MIB),
            "warm_rss_mib": r3(warm_rss / MIB),
            "peak_rss_mib": r3(max(sampler.peak, warm_rss, final_rss) / MIB),
            "final_rss_mib": r3(final_rss / MIB),
            "growth_mib_per_gib": r3((final_rss - warm_rss) / MIB / (measured / 1024**3)),
            "data_dir_mib": r3(disk / MIB),
            "rss_samples": [
                (r3(t), round(b / MIB)) for t, b in sampler.samples[:: max(1, len(sampler.samples) // 200)]
            ],
        }
    finally:
        dev.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="NDJSON to ingest into the durable system")
    parser.add_argument("--baseline-mib", type=int, default=256, help="NDJSON for the in-memory baseline (0: skip)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--body-mib", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    body = int(args.body_mib * MIB)
    runs = []
    with tempfile.TemporaryDirectory(prefix="molesignal-devmem-") as scratch:
        runs.append(run_once("durable", f"{scratch}/data", int(args.gib * 1024**3), args.clients, body, args.quiet))
    if args.baseline_mib:
        runs.append(run_once("in-memory", ":memory:", args.baseline_mib * MIB, args.clients, body, args.quiet))
    result = {
        "benchmark": "dev_memory",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(),
        "interpreter": interpreter_info(("moto", "boto3", "pyarrow", "duckdb")),
        "loadavg": loadavg(),
        "clients": args.clients,
        "body_bytes": body,
        "target": "peak RSS of the process tree (group and query engines) under 2048 MiB after 1 GiB ingested",
        "runs": runs,
    }
    if len(runs) == 2 and runs[1]["growth_mib_per_gib"]:
        result["growth_ratio_durable_to_memory"] = r3(runs[0]["growth_mib_per_gib"] / runs[1]["growth_mib_per_gib"])
    for run in runs:
        print(
            f"{run['label']:>9}: {run['ingested_bytes'] / MIB:7,.0f} MiB in {run['all_landed_s']:6.0f} s  "
            f"RSS idle {run['idle_rss_mib']:5.0f}  warm {run['warm_rss_mib']:5.0f}  peak {run['peak_rss_mib']:5.0f}  "
            f"end {run['final_rss_mib']:5.0f} MiB  growth {run['growth_mib_per_gib']:6.0f} MiB/GiB  "
            f"on disk {run['data_dir_mib']:6.0f} MiB"
        )
    out = args.out or REPO / "bench" / "results" / f"dev-memory-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
