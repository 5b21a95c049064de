"""The engine processes of one function instance, and the calls into them (ADR 0018).

A pool of at most ``query_workers`` processes (``query/engine_process.py``), started on first
use and then reused, each with its address space capped at ``query_worker_memory_bytes``. A
query takes one process for its whole run; when all are busy it waits, within its deadline.
So what queries can allocate is bounded per instance (processes times cap) whatever they do, and
the function's own process never holds a query's data beyond the answer.

At the deadline the process is killed, not interrupted: DuckDB checks for interrupts between
vectors, and one vector of an expensive scalar function can run for many seconds. A killed,
crashed or out-of-memory process is replaced by a fresh one on a later query.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

from molesignal.query.deadline import Deadline
from molesignal.query.engine_process import BOOT, HEADER, PORTABLE_CLASSES
from molesignal.query.errors import BY_CODE, QueryBusy, QueryMemoryExceeded


class EngineStopped(Exception):
    """The engine process ended without answering (a crash; a kill at the deadline)."""


class _PortableUnpickler(pickle.Unpickler):
    """Rows come from a process that ran tenant SQL: rebuild plain values, never code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in PORTABLE_CLASSES:
            raise pickle.UnpicklingError(f"engine answer holds a {module}.{name}")
        return super().find_class(module, name)


def load_rows(payload: bytes) -> dict[str, Any]:
    return dict(_PortableUnpickler(io.BytesIO(payload)).load())


class EngineProcess:
    def __init__(self, address_space_bytes: int) -> None:
        self.address_space_bytes = address_space_bytes
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-c", BOOT, json.dumps(sys.path), str(address_space_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C at the terminal is for the dev server, not here
        )
        if self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("the engine process has no pipes")
        self._in = self.process.stdin
        self._out = self.process.stdout.fileno()
        self._buffer = bytearray()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict[str, Any]) -> None:
        payload = json.dumps(request).encode()
        try:
            self._in.write(HEADER.pack(b"Q", len(payload)) + payload)
            self._in.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EngineStopped(self._ended()) from exc

    def read_frame(self, deadline: Deadline) -> tuple[bytes, bytes]:
        header = self._read_exact(HEADER.size, deadline)
        kind, size = HEADER.unpack(header)
        return kind, self._read_exact(size, deadline)

    def _read_exact(self, size: int, deadline: Deadline) -> bytes:
        while len(self._buffer) < size:
            ready, _, _ = select.select([self._out], [], [], deadline.remaining())
            if not ready:
                raise TimeoutError
            chunk = os.read(self._out, max(size - len(self._buffer), 1 << 20))
            if not chunk:
                raise EngineStopped(self._ended())
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _ended(self) -> str:
        code = self.process.wait()
        return f"signal {-code}" if code < 0 else f"exit status {code}"

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self._in.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


class EnginePool:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._idle: list[EngineProcess] = []
        self._live = 0

    def acquire(self, deadline: Deadline, *, size: int, address_space_bytes: int) -> EngineProcess:
        with self._lock:
            while True:
                for stale in [p for p in self._idle if not p.alive or p.address_space_bytes != address_space_bytes]:
                    self._idle.remove(stale)
                    self._retire(stale)
                if self._idle:
                    return self._idle.pop()
                if self._live < size:
                    self._live += 1
                    break
                if deadline.expired:
                    raise QueryBusy(
                        f"QUERY_BUSY: all {size} query engine processes stayed busy for "
                        f"{deadline.budget_s:g} s; retry later"
                    )
                self._lock.wait(deadline.remaining())
        try:
            return EngineProcess(address_space_bytes)
        except BaseException:
            with self._lock:
                self._live -= 1
                self._lock.notify()
            raise

    def release(self, engine: EngineProcess, *, reusable: bool) -> None:
        with self._lock:
            if reusable and engine.alive:
                self._idle.append(engine)
            else:
                self._retire(engine)
            self._lock.notify()

    def warm(self, *, size: int, address_space_bytes: int) -> None:
        """Start processes ahead of the first query (a cold function's init phase)."""
        with self._lock:
            while self._live < size:
                self._idle.append(EngineProcess(address_space_bytes))
                self._live += 1

    def _retire(self, engine: EngineProcess) -> None:
        self._live -= 1
        engine.kill()

    def shutdown(self) -> None:
        with self._lock:
            for engine in self._idle:
                self._retire(engine)
            self._idle.clear()


POOL = EnginePool()
atexit.register(POOL.shutdown)


class EngineCall:
    """One request to one engine process, held from ``start`` until its answer is read."""

    def __init__(self, deadline: Deadline, *, size: int, address_space_bytes: int) -> None:
        self.deadline = deadline
        self.engine = POOL.acquire(deadline, size=size, address_space_bytes=address_space_bytes)
        self._done = False

    def start(self, request: dict[str, Any]) -> None:
        try:
            self.engine.send(request)
        except EngineStopped as exc:
            self.close(reusable=False)
            raise QueryMemoryExceeded(_stopped_message(str(exc))) from exc

    def next_frame(self, doing: str) -> tuple[bytes, bytes]:
        """The next frame; an ``E`` frame is raised as its query error."""
        try:
            kind, payload = self.engine.read_frame(self.deadline)
        except TimeoutError as exc:
            self.close(reusable=False)
            raise self.deadline.exceeded(doing) from exc
        except EngineStopped as exc:
            self.close(reusable=False)
            if self.deadline.expired:
                raise self.deadline.exceeded(doing) from exc
            raise QueryMemoryExceeded(_stopped_message(str(exc))) from exc
        if kind == b"E":
            failure = json.loads(payload)
            self.close(reusable=not failure.get("retire"))
            error = BY_CODE.get(failure["code"])
            if error is None:
                raise RuntimeError(f"engine process failed: {failure['message']}")
            raise error(failure["message"])
        return kind, payload

    def close(self, *, reusable: bool = True) -> None:
        """Give the process back (``reusable``: it has answered in full and may serve again)."""
        if not self._done:
            self._done = True
            POOL.release(self.engine, reusable=reusable)


def _stopped_message(how: str) -> str:
    return (
        f"QUERY_MEMORY_EXCEEDED: the engine process running the query stopped ({how}); "
        "it most likely needed more memory than one query may use"
    )


def stream_chunks(call: EngineCall, first: tuple[bytes, bytes]) -> Iterator[bytes]:
    """The chunks (NDJSON or Arrow IPC) of a started stream whose first frame has been read."""
    kind, payload = first
    try:
        while kind == b"N":
            yield payload
            kind, payload = call.next_frame("streaming the result")
    finally:
        # Stopped early (the reader went away, or an error was raised): the process may be
        # mid-answer, so it is not reused. After its end frame it is.
        call.close(reusable=kind == b"D")
