"""The embedded emulator in a process of its own, a child of the local system.

Everything else local (gateway, functions, pollers) is one Python interpreter: with the
emulator in it too, moto's request handling and serialisation took a quarter of the one GIL
the handlers need (docs/adr/0023-local-process-shape.md). As a child it has its own GIL and
runs on the other core, as AWS's services run apart from the Lambdas.

The child stays in the parent's process group, so a ``kill -9`` of ``make dev``'s group takes
both, and the data directory keeps what it kept before (every change is journaled before it
is answered). Ctrl-C reaches the whole group: the child ignores it, and stops when the parent
closes its stdin, which the parent does after its pollers and gateway have stopped, or the
kernel does when the parent dies. Its one line on stdout says where it listens (JSON).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molesignal.local.child import announcement, end_now
from molesignal.local.emulator import EmulatorPlace

# Importing moto and replaying a journal take a few seconds on a busy machine.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 5.0


@dataclass
class EmulatorProcess(EmulatorPlace):
    """The same interface as :class:`molesignal.local.emulator.Emulator`, in a child process."""

    _process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        argv = [sys.executable, "-m", "molesignal", "emulator", "--host", self.host, "--port", str(self.port)]
        argv += ["--data-dir", str(self.data_dir) if self.data_dir is not None else ":memory:"]
        if not self.fsync:
            argv.append("--no-fsync")
        # Our own interpreter and module, with arguments from our settings.
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env())  # noqa: S603
        self._process = process
        ready = announcement(process, START_TIMEOUT_S)
        if "url" not in ready:
            self.kill()
            raise RuntimeError(str(ready.get("error") or "the emulator process did not start"))
        self.port = int(ready["port"])
        self.replayed = {str(k): int(v) for k, v in dict(ready.get("replayed") or {}).items()}
        return str(ready["url"])

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Ask the child to close its stores (they snapshot); kill it if it takes too long,
        which loses nothing: every answered change is in its journal."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self._process = None

    def kill(self) -> None:
        """Stop the child now (a second Ctrl-C, a watchdog): like ``kill -9``, nothing answered is lost."""
        end_now(self._process)


def _child_env() -> dict[str, str]:
    # The child imports the same molesignal as this process, wherever that came from (the
    # tests put the layer on sys.path themselves, not on PYTHONPATH).
    package_root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def serve(argv: list[str]) -> int:
    """``python -m molesignal emulator``: the child's side (also usable alone, until stdin closes)."""
    import argparse

    from molesignal.local.emulator import Emulator

    parser = argparse.ArgumentParser(prog="python -m molesignal emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--data-dir", default=":memory:")
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument(
        "--plain-dynamodb", action="store_true", help="moto's whole server path for every DynamoDB call"
    )
    args = parser.parse_args(argv)
    stopping = threading.Event()
    # Ctrl-C goes to the whole process group; the parent decides when the emulator stops
    # (after the pollers and gateway that still call it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    data_dir = None if args.data_dir.strip() == ":memory:" else Path(args.data_dir)
    emulator = Emulator(
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        fsync=not args.no_fsync,
        fast_dynamodb=not args.plain_dynamodb,
    )
    try:
        url = emulator.start()
    except Exception as exc:  # the parent shows the reason (busy port, locked data directory)
        _announce({"error": str(exc)})
        return 1
    _announce({"url": url, "port": emulator.port, "replayed": emulator.replayed})

    def wait_for_parent() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        stopping.set()

    threading.Thread(target=wait_for_parent, name="parent-watch", daemon=True).start()
    while not stopping.wait(0.25):
        pass
    emulator.stop()
    return 0


def _announce(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()
