"""The ingest worker's pollers in a process of their own, a child of the local system.

In AWS the ingest worker is a Lambda of its own; locally it ran as threads of the main
process, where its landing (Arrow, Parquet, the commit) took turns on one GIL with the
gateway and the HTTP functions. As a child it has its own GIL and runs on the other core
(docs/adr/0030-ingest-worker-process.md).

The child is started like the emulator's (``molesignal.local.emulator.process``): same
interpreter, same process group (a ``kill -9`` of ``make dev``'s group takes it too, and a
message it held comes back after the visibility timeout), it ignores Ctrl-C and stops when
the parent closes its stdin (or dies), finishing the batch in hand within the stop budget.

What the local system relied on being in one process travels as JSON lines:

* child → parent (the child's original stdout; its logs go to stderr): ``{"lake_change":
  org}`` for every ``note_local_change`` (the query snapshot memo sees landed rows at once),
  ``{"topics_appended": true}`` for every topic append (long polls wake at once);
* parent → child (stdin): ``{"realtime_rules": org}`` when the alerts API changed an org's
  rules (the worker's realtime-rule memo reads them again).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from molesignal.local.child import announcement, end_now
from molesignal.observability import logger

START_TIMEOUT_S = 120.0  # importing the worker's dependencies on a busy machine
INGEST_WORKER = "ingest_worker"
# A child that ends unasked is started again after RESTART_DELAY_S, at most MAX_RESTARTS times
# in RESTART_WINDOW_S (a child that cannot live is not restarted in a loop).
RESTART_DELAY_S = 1.0
MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0


@dataclass
class WorkerProcess:
    """The parent's side: start the child, apply what it reports, tell it what changed here."""

    workers: tuple[str, ...] = (INGEST_WORKER,)
    pollers_per_queue: int = 2
    _process: subprocess.Popen[bytes] | None = None
    _reader: threading.Thread | None = None
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _unhooks: list[Callable[[], None]] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _restarts: list[float] = field(default_factory=list)  # time.monotonic() of recent restarts

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._spawn()
        from molesignal.alerts import realtime

        self._unhooks.append(realtime.on_forget(lambda org_id: self._tell({"realtime_rules": org_id})))

    def _spawn(self) -> None:
        argv = [sys.executable, "-m", "molesignal", "worker", "--pollers", str(self.pollers_per_queue), *self.workers]
        # Our own interpreter and module, with arguments from our settings.
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env())  # noqa: S603
        self._process = process
        ready = announcement(process, START_TIMEOUT_S)
        if not ready.get("ready"):
            self.kill()
            raise RuntimeError(str(ready.get("error") or "the worker process did not start"))
        self._reader = threading.Thread(target=self._apply_reports, args=(process.stdout,), name="worker-reports")
        self._reader.daemon = True
        self._reader.start()
        if self._stopping.is_set():  # a stop came while this (re)start ran
            end_now(process)

    def _apply_reports(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                apply_report(json.loads(line))
            except Exception:
                logger.exception("worker process report failed", extra={"line": line[:200]})
        if not self._stopping.is_set():
            self._start_again()

    def _start_again(self) -> None:
        """The child ended unasked. As a crashed Lambda runtime, it took no acknowledged row
        with it (the queue holds them); as Lambda would, start another, unless it keeps ending
        (then the rows wait in the queue until `make dev` restarts)."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S]
        if len(self._restarts) >= MAX_RESTARTS:
            logger.error("the ingest worker process keeps ending; ingested rows wait in the queue until a restart")
            return
        self._restarts.append(now)
        logger.error("the ingest worker process ended; starting another")
        time.sleep(RESTART_DELAY_S)
        if self._stopping.is_set():
            return
        try:
            self._spawn()
        except Exception:
            logger.exception("the ingest worker process did not start again")

    def _tell(self, message: dict[str, Any]) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        with self._write_lock:
            try:
                process.stdin.write(json.dumps(message).encode() + b"\n")
                process.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the child is gone or stopping: it reads everything afresh when it starts again

    def stop(self, timeout_s: float) -> None:
        """Let the child finish the batches in hand (within ``timeout_s``), then kill it, which
        loses nothing: an unfinished batch's messages come back after the visibility timeout."""
        self._stopping.set()
        for unhook in self._unhooks:
            unhook()
        self._unhooks.clear()
        process = self._process
        if process is None:
            return
        with self._write_lock:
            if process.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.close()
        try:
            process.wait(timeout=max(0.1, timeout_s))
        except subprocess.TimeoutExpired:
            self.kill()
        if self._reader is not None:
            self._reader.join(timeout=1.0)  # the last reports (the child's stdout is closed now)
        self._process = None

    def kill(self) -> None:
        self._stopping.set()
        end_now(self._process)


def apply_report(report: dict[str, Any]) -> None:
    """What the child did that this process's memos must see."""
    if "lake_change" in report:
        from molesignal.lake.streams import note_local_change

        note_local_change(str(report["lake_change"]))
    if report.get("topics_appended"):
        from molesignal.topics.wakeups import note_appended

        note_appended()


def _child_env() -> dict[str, str]:
    # The same modules as this process, wherever they came from (the tests put the layers and
    # functions on sys.path themselves, not on PYTHONPATH).
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join([*paths, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


# ---------------------------------------------------------------- the child's side


class _Reports:
    """The pipe to the parent, on the file descriptor that was stdout. Stdout itself is pointed
    at stderr, so that the worker's logs (Powertools writes them to stdout) reach the console
    instead of the parent's reader."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        sys.stdout.flush()
        self._pipe = os.fdopen(os.dup(1), "wb", buffering=0)
        os.dup2(2, 1)

    def send(self, message: dict[str, Any]) -> None:
        # A closed pipe: the parent is gone, and stdin's end stops this process.
        with self._lock, contextlib.suppress(ValueError, OSError):
            self._pipe.write(json.dumps(message).encode() + b"\n")


def serve(argv: list[str]) -> int:
    """``python -m molesignal worker [--pollers N] WORKER…``: the child's side."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m molesignal worker")
    parser.add_argument("--pollers", type=int, default=2)
    parser.add_argument("workers", nargs="+")
    args = parser.parse_args(argv)
    # Ctrl-C goes to the whole process group; the parent decides when the worker stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    reports = _Reports()
    try:
        pollers = _start_pollers(args.workers, args.pollers, reports)
    except Exception as exc:  # the parent shows the reason
        reports.send({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    reports.send({"ready": True})

    def read_parent() -> None:
        for line in sys.stdin.buffer:
            try:
                _apply_instruction(json.loads(line))
            except Exception:
                logger.exception("worker process instruction failed")
        stopping.set()

    threading.Thread(target=read_parent, name="parent-watch", daemon=True).start()
    while not stopping.wait(0.25):
        pass
    for poller in pollers:
        poller.request_stop()
    deadline = time.monotonic() + 30  # the parent kills this process when its own budget ends
    for poller in pollers:
        poller.join(deadline - time.monotonic())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # a worker thread still landing holds nothing that is not durable


def _start_pollers(names: list[str], per_queue: int, reports: _Reports) -> list[Any]:
    import registry  # the functions' registry, on the path as in the parent
    from molesignal.lake import streams
    from molesignal.local.pollers import QueuePoller
    from molesignal.topics import wakeups

    streams.on_local_change(lambda org_id: reports.send({"lake_change": org_id}))
    wakeups.on_appended(lambda: reports.send({"topics_appended": True}))
    by_name = {w.name: w for w in registry.REGISTRY.workers}
    pollers = [QueuePoller(by_name[name]) for name in names for _ in range(per_queue)]
    for poller in pollers:
        poller.start()
    return pollers


def _apply_instruction(message: dict[str, Any]) -> None:
    if "realtime_rules" in message:
        from molesignal.alerts import realtime

        realtime.forget(str(message["realtime_rules"]))
