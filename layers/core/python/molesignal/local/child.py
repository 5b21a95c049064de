"""What the local system's child processes (the emulator, the ingest worker) share: the one
JSON line a child announces itself with, and ending a child at once."""

from __future__ import annotations

import json
import subprocess
import threading
from typing import IO, Any


def read_line(stream: IO[bytes], timeout_s: float) -> str:
    """One line from ``stream``, or "" if none came within ``timeout_s``."""
    found: list[bytes] = []
    reader = threading.Thread(target=lambda: found.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return found[0].decode().strip() if found else ""


def announcement(process: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    """The JSON object on the child's first line of stdout ({} if none came in time)."""
    line = read_line(process.stdout, timeout_s) if process.stdout is not None else ""
    try:
        found = json.loads(line) if line else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def end_now(process: subprocess.Popen[bytes] | None) -> None:
    """Like ``kill -9``: the children answer nothing before it is durable."""
    if process is None:
        return
    if process.poll() is None:
        process.kill()
    process.wait()
