"""``python -m molesignal dev`` as a user runs it, in a process group of its own, on a data
directory of its own: what the tests of a restart (durability, topics) start, kill and start
again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]  # tests/support/dev.py
STARTUP_S = 180  # imports and provisioning on a busy 2-core runner


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Dev:
    """``python -m molesignal dev`` as a user runs it, in a process group of its own."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.data_dir = data_dir
        self.log = log
        self.port = _free_port()
        self.emulator_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **settings: str) -> None:
        """Start it; ``settings`` are extra ``MOLESIGNAL_<NAME>`` values for this run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOLESIGNAL_", "AWS_ENDPOINT_URL"))}
        env.update(
            MOLESIGNAL_PORT=str(self.port),
            MOLESIGNAL_EMULATOR_PORT=str(self.emulator_port),
            MOLESIGNAL_DATA_DIR=str(self.data_dir),
            PYTHONUNBUFFERED="1",
        )
        env.update({f"MOLESIGNAL_{name.upper()}": value for name, value in settings.items()})
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "molesignal", "dev"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as `make dev` has in a terminal
            )
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"molesignal dev exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"molesignal dev did not answer within {STARTUP_S} s:\n{self.log.read_text()}")

    def kill_group(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def interrupt(self) -> float:
        """Ctrl-C in the terminal: SIGINT to the group; returns the seconds until it exited."""
        assert self.process is not None
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-60:])
            raise AssertionError(f"molesignal dev was still running 60 s after Ctrl-C; its log ends:\n{tail}") from None
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        return time.monotonic() - started

    def left_in_group(self) -> list[str]:
        """The command lines of processes still in its process group (the emulator is a child)."""
        assert self.process is not None
        left = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid and fields[0] != "Z":  # pgrp; a zombie is gone
                    left.append(Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, IndexError, ValueError):
                continue
        return left

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
