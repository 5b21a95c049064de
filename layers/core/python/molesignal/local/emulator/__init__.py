"""The embedded AWS emulator: one endpoint on loopback for every AWS call the local system makes.

With a data directory (the default for ``make dev`` and the tests), S3 objects are files
and SQS queues live in SQLite under it, and moto's other services are journaled there
(see ``moto_services``), so the state survives a restart or a ``kill -9``. Without one,
moto holds everything in memory, as moto's own server does. ADR 0019 weighs the options.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from molesignal.local.emulator.dispatch import LocalAws
from molesignal.local.emulator.files import DirectoryLock
from molesignal.local.emulator.http_server import HttpServer
from molesignal.local.emulator.moto_services import MotoServices
from molesignal.local.emulator.s3_api import S3Api
from molesignal.local.emulator.s3_store import ObjectStore
from molesignal.local.emulator.sqs_api import SqsApi
from molesignal.local.emulator.sqs_store import QueueStore

FORMAT = "1"  # the data directory's layout; a different one is refused, never misread


@dataclass
class EmulatorPlace:
    """Where an emulator listens and keeps its state; what a start replayed of its journals."""

    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path | None = None
    fsync: bool = True
    replayed: dict[str, int] = field(default_factory=dict)

    @property
    def durable(self) -> bool:
        return self.data_dir is not None


@dataclass
class Emulator(EmulatorPlace):
    fast_dynamodb: bool = True  # False: every DynamoDB call takes moto's whole server path (ADR 0027)
    _server: HttpServer | None = None
    _thread: threading.Thread | None = None
    _lock: DirectoryLock | None = None
    _objects: ObjectStore | None = None
    _queues: QueueStore | None = None
    _moto: MotoServices | None = None

    def start(self) -> str:
        if self.port:
            # A busy port would otherwise only be logged; refuse clearly instead.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex((self.host, self.port)) == 0:
                    raise RuntimeError(
                        f"port {self.port} is busy: stop what listens there, set MOLESIGNAL_EMULATOR_PORT, "
                        "or point AWS_ENDPOINT_URL at a running emulator"
                    )
        app = self._open_state()
        self._server = HttpServer(self.host, self.port, app)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        return f"http://{self.host}:{self.port}"

    def _open_state(self) -> LocalAws:
        if self.data_dir is None:
            self._moto = MotoServices(None, fsync=False, fast_dynamodb=self.fast_dynamodb)
            return LocalAws(self._moto, None, None)
        root = self.data_dir
        root.mkdir(parents=True, exist_ok=True)
        self._lock = DirectoryLock(root)
        self._lock.acquire()
        try:
            _check_format(root)
            self._objects = ObjectStore(root / "s3", fsync=self.fsync).open()
            self._queues = QueueStore(root / "sqs" / "queues.sqlite", fsync=self.fsync).open()
            # The pollers that held in-flight messages died with the previous process.
            self._queues.release_in_flight()
            self._moto = MotoServices(root / "moto", fsync=self.fsync, fast_dynamodb=self.fast_dynamodb)
            self.replayed = self._moto.open()
        except BaseException:
            self._close_state()
            raise
        return LocalAws(self._moto, S3Api(self._objects), SqsApi(self._queues))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close_state()

    def _close_state(self) -> None:
        if self._queues is not None:
            self._queues.close()  # wakes long polls first
            self._queues = None
        if self._moto is not None:
            self._moto.close()
            self._moto = None
        if self._objects is not None:
            self._objects.close()
            self._objects = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def _check_format(root: Path) -> None:
    marker = root / "FORMAT"
    if not marker.exists():
        if any(p.name not in ("LOCK",) for p in root.iterdir()):
            raise RuntimeError(
                f"{root} is not empty and is not a MoleSignal data directory: choose another MOLESIGNAL_DATA_DIR"
            )
        marker.write_text(FORMAT + "\n")
        return
    found = marker.read_text().strip()
    if found != FORMAT:
        raise RuntimeError(
            f"{root} holds data in layout {found}; this version reads layout {FORMAT}. "
            "Move it aside (or delete it) to start empty."
        )
