"""What the benchmarks share: the machine and commit they ran on, profile paths made short,
a timer around every AWS call, rounding and progress lines.

The scripts run as files (``python bench/<name>/run.py``); each puts the repository on
``sys.path`` first and then imports this as ``bench.common``.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CODE_PATHS = (REPO / "layers" / "core" / "python", REPO / "functions", REPO)


def r3(value: float) -> float:
    return round(value, 3)


def r4(value: float) -> float:
    return round(value, 4)


def progress(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line]
    return {"commit": git("rev-parse", "HEAD").strip() or None, "dirty": bool(changed), "changed": changed}


def host_info() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count()}


def interpreter_info(packages: Iterable[str]) -> dict[str, Any]:
    """This interpreter, the versions of ``packages`` (None when absent) and the host."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "executable": sys.executable, "packages": versions, **host_info()}


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (field 3 on), which may itself hold spaces."""
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (Linux): the local system is a parent and
    its children (the emulator, query engines)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
    found = [root]
    for pid in found:  # grows while walked: breadth first
        found.extend(child for child, parent in parents.items() if parent == pid)
    return found


def tree_cpu_s(root: int) -> float | None:
    """User + system CPU seconds of ``root``'s process tree as it is now (all threads)."""
    total, seen = 0.0, False
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        seen = True
    return total if seen else None


def tree_cpu_split_s(root: int, label: Callable[[str], str]) -> dict[str, dict[str, float]]:
    """User and system (kernel) CPU seconds of ``root``'s process tree, summed per
    ``label(command line)``: which process of the system spends what, and how much of it in
    the kernel (sockets, files)."""
    ticks = os.sysconf("SC_CLK_TCK")
    split: dict[str, dict[str, float]] = {}
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        entry = split.setdefault(label(command), {"user": 0.0, "sys": 0.0})
        entry["user"] += int(fields[11]) / ticks
        entry["sys"] += int(fields[12]) / ticks
    return split


def tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def short_path(filename: str) -> str:
    """A profile entry's file, relative to site-packages or to the repository's code roots."""
    filename = re.sub(r"^.*/lib/python3\.\d+/(site-packages/)?", "", filename)
    for base in CODE_PATHS:
        if filename.startswith(f"{base}/"):
            return filename[len(str(base)) + 1 :]
    return filename


class AwsCallTimer:
    """Times every botocore API call made in this process (the handlers run in it)."""

    def __init__(self) -> None:
        from botocore.client import BaseClient

        self._cls = BaseClient
        self._orig = BaseClient._make_api_call
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str, float]] = []
        timer = self

        def timed_call(client: Any, operation_name: str, api_params: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return timer._orig(client, operation_name, api_params)
            finally:
                elapsed = time.perf_counter() - t0
                with timer._lock:
                    timer.calls.append((client.meta.service_model.service_name, operation_name, elapsed))

        self._timed = timed_call

    def __enter__(self) -> AwsCallTimer:
        self._cls._make_api_call = self._timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls._make_api_call = self._orig  # type: ignore[method-assign]

    def take(self) -> list[tuple[str, str, float]]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls


def http_scope(method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The ASGI scope of one HTTP request from a loopback client, as the local gateway
    receives it (benchmarks turn it into an HTTP API 2.0 event with ``gateway._event``)."""
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "http_version": "1.1",
        "client": ("127.0.0.1", 40000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())],
    }


def access_token(http: Any, user: str, password: str) -> str:
    """A fresh access token for ``user`` from the local system's login route."""
    response = http.post("/api/v1/auth/login", json={"user": user, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


def setup_org_user(http: Any, org_id: str, user: str, role: str, password: str) -> None:
    """On a fresh local system: the setup (root and a first admin, all with ``password``), the org
    ``org_id`` with one user ``user`` of ``role``, and quotas no benchmark reaches."""
    from molesignal.quotas import Limiter, Quota
    from molesignal.storage.table import Table

    http.post(
        "/api/v1/auth/setup", json={"user": "bench", "password": password, "root_password": password}
    ).raise_for_status()
    root_h = {"Authorization": f"Bearer {access_token(http, 'root', password)}"}
    http.post("/api/v1/orgs", json={"id": org_id, "name": org_id}, headers=root_h).raise_for_status()
    body = {"user": user, "password": password, "role": role, "org_id": org_id}
    http.post("/api/v1/users", json=body, headers=root_h).raise_for_status()
    Limiter(Table()).set_quota(org_id, Quota(ingest_qps=10**6, query_qps=10**6, storage_bytes=10**15))
