"""CPU of one ingest request on its way through the local system's request path: the gateway,
the authorizer and the ingest function, with their AWS calls (botocore's side), but not the
emulator (a child process) nor the worker (no pollers run).

A local system is started in this process (``LocalSystem``, pollers and scheduler off), a
tenant set up over HTTP, and ``--requests`` 1 MiB NDJSON bodies of the ingest benchmark's
logs are posted one at a time to ``POST /api/v1/ingest/<stream>``, two ways:

* **http**: a real HTTP client in this process's main thread; the system's CPU is this
  process's CPU minus the main thread's (uvicorn, the gateway, the handlers);
* **asgi**: the gateway's ASGI app called directly, the body handed over in 64 KiB
  messages as uvicorn does: the same minus uvicorn's HTTP parsing.

Each request's CPU is split by thread: the gateway's event loop (with uvicorn's HTTP parsing in
the http mode), the authorizer's and the ingest function's handlers (their Lambda threads),
the ingest function's rate-window thread (ADR 0032: the window's ``UpdateItem`` while Arrow
parses; 0 for a tree without it), and other threads (Arrow's pool, where the ingest
function's ``read_json`` runs).

``--baseline-tree PATH`` measures another tree's code (e.g. ``git archive main``) in
alternating child processes, PATH first, ``--rounds`` times each, and reports both and the
ratio of the medians.

    .venv/bin/python bench/reqpath/run.py --out /tmp/reqpath.json
    .venv/bin/python bench/reqpath/run.py --baseline-tree /tmp/main-copy --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

from bench.common import git_info, interpreter_info, loadavg, progress, r3  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
MIB = 1 << 20
CHUNK = 64 * 1024  # what uvicorn hands the app per receive() for a body arriving over loopback
RATE_WINDOW_THREADS = "rate-window"  # molesignal.ingest.service's helper threads (ADR 0032)
PASSWORD = "BenchReqPath123!"  # noqa: S105 - set on the fresh system the script starts


def code_paths(tree: Path) -> list[str]:
    return [str(tree / p) for p in ("layers/core/python", "functions", ".")]


# ---------------------------------------------------------------- one measurement (child)


class HandlerCpu:
    """Thread CPU spent inside each handler the gateway invokes (keyed by its dotted name)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def install(self) -> None:
        from molesignal.local import gateway, loader

        original = loader.load_handler
        wrapped: dict[str, Any] = {}

        def load_timed(dotted: str) -> Any:
            found = wrapped.get(dotted)
            if found is None:
                handler = original(dotted)

                def timed(event: Any, context: Any) -> Any:
                    started = time.thread_time()
                    try:
                        return handler(event, context)
                    finally:
                        with self._lock:
                            self.spent[dotted] = self.spent.get(dotted, 0.0) + time.thread_time() - started

                found = wrapped[dotted] = timed
            return found

        gateway.load_handler = load_timed  # type: ignore[attr-defined]

    def take(self) -> dict[str, float]:
        with self._lock:
            spent, self.spent = self.spent, {}
        return spent


def tenant_headers(url: str) -> dict[str, str]:
    import httpx

    with httpx.Client(base_url=url, timeout=60) as http:
        setup = http.post("/api/v1/auth/setup", json={"user": "bench", "password": PASSWORD, "root_password": PASSWORD})
        setup.raise_for_status()
        org_id = setup.json()["org_id"]
        root = http.post("/api/v1/auth/login", json={"user": "root", "password": PASSWORD}).json()["access_token"]
        http.put(
            f"/api/v1/orgs/{org_id}/quotas",
            json={"ingest_qps": 100_000, "query_qps": 100_000, "storage_bytes": 10**15},
            headers={"Authorization": f"Bearer {root}"},
        ).raise_for_status()
        admin = http.post("/api/v1/auth/login", json={"user": "bench", "password": PASSWORD}).json()["access_token"]
        token = http.post(
            "/api/v1/tokens",
            json={"name": "reqpath", "role": "editor"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['token']}", "Content-Type": "application/x-ndjson"}


async def post_asgi(gateway: Any, path: str, headers: dict[str, str], body: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 5080),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"127.0.0.1:5080"), (b"content-length", str(len(body)).encode())],
    }
    chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [b""]
    position = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal position
        chunk = chunks[position]
        position += 1
        return {"type": "http.request", "body": chunk, "more_body": position < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await gateway(scope, receive, send)
    return status


def helper_cpu(prefix: str) -> dict[int, float]:
    """CPU seconds of each live Python thread whose name starts with ``prefix``."""
    found = {}
    for thread in threading.enumerate():
        if thread.name.startswith(prefix) and thread.ident is not None:
            try:
                found[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            except OSError:  # ended meanwhile
                continue
    return found


def one_request(
    mode: str, send: Callable[[bytes], int], body: bytes, handlers: HandlerCpu, server: int
) -> dict[str, float]:
    """One request's CPU in ms, split by thread, and its wall time."""
    handlers.take()
    counting0 = helper_cpu(RATE_WINDOW_THREADS)
    cpu0, main0, server0 = time.process_time(), time.thread_time(), time.clock_gettime(server)
    wall0 = time.perf_counter()
    status = send(body)
    wall = time.perf_counter() - wall0
    main = time.thread_time() - main0
    cpu = time.process_time() - cpu0
    served = time.clock_gettime(server) - server0
    counting = sum(v - counting0.get(k, 0.0) for k, v in helper_cpu(RATE_WINDOW_THREADS).items())
    if status != 202:
        raise SystemExit(f"{mode}: request answered {status}")
    spent = handlers.take()
    # http: the client is the main thread, uvicorn and the gateway's event loop their own
    # thread; asgi: the gateway's event loop is the main thread.
    system_cpu, on_loop = (cpu - main, served) if mode == "http" else (cpu, main)
    authorizer = sum(v for k, v in spent.items() if k.startswith("authorizer."))
    ingest = sum(v for k, v in spent.items() if k.startswith("ingest_api."))
    return {
        "cpu_ms": system_cpu * 1000,
        "gateway_ms": on_loop * 1000,
        "authorizer_ms": authorizer * 1000,
        "ingest_ms": ingest * 1000,
        "rate_window_ms": counting * 1000,
        # Arrow's thread pool (the ingest function's read_json), thread hand-offs
        "other_threads_ms": (system_cpu - on_loop - authorizer - ingest - counting) * 1000,
        "wall_ms": wall * 1000,
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run in the tree whose code is first on ``sys.path``; returns per-request figures."""
    import httpx
    from bench.ingest import dataset

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msreq{uuid.uuid4().hex[:6]}"
    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.observability import logger
    from molesignal.settings import reset_settings

    reset_settings()
    raw = dataset.ensure_raw(args.records, quiet=True).read_bytes()
    bodies: list[bytes] = []
    start = 0
    while len(bodies) < args.bodies:
        end = raw.rfind(b"\n", start, start + MIB) + 1
        bodies.append(raw[start:end])
        start = end
    data_dir = Path(tempfile.mkdtemp(prefix="ms-reqpath-")) / "data"
    system = LocalSystem(
        registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False, data_dir=data_dir
    )
    system.start()
    # As `make dev` does: the gateway logs one line per request, the handlers their JSON lines.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    system.gateway.request_log = lambda line: print(line, file=devnull)  # type: ignore[union-attr]
    logger.registered_handler.setStream(devnull)  # type: ignore[union-attr,attr-defined]
    handlers = HandlerCpu()
    handlers.install()
    try:
        headers = tenant_headers(system.url)
        path = f"/api/v1/ingest/reqpath_{uuid.uuid4().hex[:6]}"
        loop = asyncio.new_event_loop()
        results: dict[str, Any] = {}
        with httpx.Client(base_url=system.url, timeout=120) as http:

            def via_http(body: bytes) -> int:
                return http.post(path, content=body, headers=headers).status_code

            def via_asgi(body: bytes) -> int:
                return loop.run_until_complete(post_asgi(system.gateway, path, headers, body))

            for _ in range(args.warm):  # first imports, clients, the queue URL, the memos
                for send in (via_http, via_asgi):
                    if send(bodies[0]) != 202:
                        raise SystemExit("warm-up request was not accepted")
            server = time.pthread_getcpuclockid(system._thread.ident)  # type: ignore[union-attr,arg-type]
            for mode, send in (("http", via_http), ("asgi", via_asgi)):
                rows = [
                    one_request(mode, send, bodies[n % len(bodies)], handlers, server) for n in range(args.requests)
                ]
                results[mode] = medians(rows)
            if args.rate_window_ab:
                results["rate_window_ab"] = rate_window_ab(args, via_asgi, bodies, handlers, server)
        return {"requests": args.requests, "body_bytes": [len(b) for b in bodies], **results}
    finally:
        system.stop()


def medians(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        key: {"median": r3(statistics.median(r[key] for r in rows)), "min": r3(min(r[key] for r in rows))}
        for key in rows[0]
    }


def rate_window_ab(
    args: argparse.Namespace, send: Callable[[bytes], int], bodies: list[bytes], handlers: HandlerCpu, server: int
) -> dict[str, Any]:
    """The same tree's asgi requests, alternately with the rate window counted alongside the
    parse (as the tree does) and counted first on the ingest function's own thread (as
    ``Ingestor.admit`` does): request by request, so drift on a shared machine hits both."""
    from concurrent.futures import Future

    from molesignal.ingest import service

    alongside = service.Ingestor.admit_alongside

    def counted_first(self: Any, principal: Any) -> Any:
        done: Future[None] = Future()
        done.set_result(None)
        return service.Admission(self.admit(principal), done)

    rows: dict[str, list[dict[str, float]]] = {"alongside": [], "first": []}
    for n in range(2 * args.requests):
        variant = "alongside" if n % 2 == 0 else "first"
        service.Ingestor.admit_alongside = alongside if variant == "alongside" else counted_first  # type: ignore[method-assign]
        try:
            rows[variant].append(one_request("asgi", send, bodies[n % len(bodies)], handlers, server))
        finally:
            service.Ingestor.admit_alongside = alongside  # type: ignore[method-assign]
    return {variant: medians(found) for variant, found in rows.items()}


# ---------------------------------------------------------------- the driver (parent)


def run_child(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "MOLESIGNAL_AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join(code_paths(tree))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        f"--requests={args.requests}",
        f"--warm={args.warm}",
        f"--bodies={args.bodies}",
        f"--records={args.records}",
        *(["--rate-window-ab"] if args.rate_window_ab and tree == REPO else []),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode != 0:
        raise SystemExit(f"measuring {tree} failed:\n{done.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def main(argv: list[str] | None = None) -> int:
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="measured requests per mode")
    parser.add_argument("--warm", type=int, default=3, help="warm-up requests per mode")
    parser.add_argument("--bodies", type=int, default=8, help="distinct 1 MiB bodies, sent in turn")
    parser.add_argument("--records", type=int, default=120_000, help="dataset records (bench/ingest/dataset.py)")
    parser.add_argument("--baseline-tree", type=Path, help="another tree's code, measured in turn with this one")
    parser.add_argument(
        "--rate-window-ab",
        action="store_true",
        help="this tree only: asgi requests alternately counting the rate window alongside the parse and first",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with --baseline-tree: runs of each")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"reqpath-{now:%Y-%m-%d}.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args)))
        return 0
    trees = [("baseline", args.baseline_tree.resolve())] if args.baseline_tree else []
    trees.append(("this", REPO))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
    loads = [loadavg()]
    for number in range(args.rounds if args.baseline_tree else 1):
        for name, tree in trees:
            progress(f"round {number + 1}: {name} ({tree})", args.quiet)
            runs[name].append(run_child(tree, args))
            loads.append(loadavg())
    summary: dict[str, Any] = {}
    for name, measured in runs.items():
        summary[name] = {
            mode: {
                key: r3(statistics.median(run[mode][key]["median"] for run in measured)) for key in measured[0][mode]
            }
            for mode in ("http", "asgi")
        }
        if "rate_window_ab" in measured[0]:
            summary[name]["rate_window_ab"] = {
                variant: {
                    key: r3(statistics.median(run["rate_window_ab"][variant][key]["median"] for run in measured))
                    for key in figures
                }
                for variant, figures in measured[0]["rate_window_ab"].items()
            }
    if args.baseline_tree:
        summary["ratio_this_to_baseline"] = {
            mode: r3(summary["this"][mode]["cpu_ms"] / summary["baseline"][mode]["cpu_ms"]) for mode in ("http", "asgi")
        }
    result = {
        "benchmark": "reqpath",
        "when": now.isoformat(timespec="seconds"),
        "git": git_info(),
        "baseline_tree": str(args.baseline_tree) if args.baseline_tree else None,
        "interpreter": interpreter_info(["uvicorn", "h11", "httptools", "fastapi", "mangum", "botocore", "orjson"]),
        "loadavg": loads,
        "summary": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name in runs:
        for mode in ("http", "asgi"):
            figures = summary[name][mode]
            print(
                f"{name:9} {mode:5} CPU per request {figures['cpu_ms']:6.2f} ms: "
                f"gateway{' + uvicorn' if mode == 'http' else ''} {figures['gateway_ms']:5.2f}, "
                f"authorizer {figures['authorizer_ms']:5.2f}, ingest {figures['ingest_ms']:5.2f}, "
                f"rate window {figures['rate_window_ms']:4.2f}, "
                f"other threads {figures['other_threads_ms']:5.2f}; wall {figures['wall_ms']:6.2f} ms"
            )
        for variant, figures in summary[name].get("rate_window_ab", {}).items():
            print(
                f"{name:9} asgi, rate window counted {variant:9}: CPU {figures['cpu_ms']:6.2f} ms "
                f"(ingest {figures['ingest_ms']:5.2f} + rate window {figures['rate_window_ms']:4.2f}); "
                f"wall {figures['wall_ms']:6.2f} ms"
            )
    if args.baseline_tree:
        print(f"ratio this/baseline: {summary['ratio_this_to_baseline']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
