"""The whole local system: the emulator and the ingest worker (child processes), resources, and
in this process the gateway, the other pollers and the scheduler
(docs/adr/0023-local-process-shape.md, docs/adr/0030-ingest-worker-process.md)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molesignal import aws
from molesignal.local.emulator.process import EmulatorProcess
from molesignal.local.gateway import Gateway
from molesignal.local.pollers import QueuePoller
from molesignal.local.scheduler import Scheduler
from molesignal.local.worker_process import INGEST_WORKER, WorkerProcess
from molesignal.provision import provision
from molesignal.settings import get_settings, reset_settings

# The emulator accepts any credentials; boto3 still insists that some exist.
_EMULATOR_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@dataclass
class LocalSystem:
    registry: Any
    host: str = "127.0.0.1"
    port: int = 5080
    emulator_port: int = 4566
    run_pollers: bool = True
    run_scheduler: bool = True
    data_dir: Path | None = None  # None: the emulator keeps everything in memory
    fsync: bool = True
    request_log: Callable[[str], None] | None = None
    emulator: EmulatorProcess | None = None
    gateway: Gateway | None = None
    pollers: list[QueuePoller] = field(default_factory=list)
    scheduler: Scheduler | None = None
    worker_process: WorkerProcess | None = None
    endpoint_url: str = ""
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalSystem:
        self._start_aws()
        provision()
        self._start_gateway()
        if self.run_pollers:
            settings = get_settings()
            per_queue = settings.local_queue_pollers
            in_process = list(self.registry.workers)
            if settings.local_worker_process:
                in_process = [w for w in in_process if w.name != INGEST_WORKER]
                self.worker_process = WorkerProcess((INGEST_WORKER,), pollers_per_queue=per_queue)
                self.worker_process.start()
            self.pollers = [QueuePoller(worker) for worker in in_process for _ in range(per_queue)]
            for poller in self.pollers:
                poller.start()
        self.scheduler = Scheduler(tuple(self.registry.schedules))
        if self.run_scheduler:
            self.scheduler.start()
        return self

    def _start_aws(self) -> None:
        configured = get_settings().aws_endpoint_url
        if configured:
            self.endpoint_url = configured  # LocalStack or another emulator the caller runs
            return
        self.emulator = EmulatorProcess(
            host=self.host, port=self.emulator_port, data_dir=self.data_dir, fsync=self.fsync
        )
        self.endpoint_url = self.emulator.start()
        # The local process is its own Lambda runtime: handlers read the endpoint from settings.
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        for name, value in _EMULATOR_ENV.items():
            os.environ.setdefault(name, value)
        os.environ.setdefault("AWS_DEFAULT_REGION", get_settings().aws_region)
        reset_settings()
        aws.reset_clients()

    def _start_gateway(self) -> None:
        import uvicorn

        # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on connections accepted
        # from a socket that says it is TCP. Without it every response after a connection's
        # first waited ~40 ms (Nagle holding the body behind the headers until the client's
        # delayed ACK), so a keep-alive client paid 40 ms per request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        # Functions post live-query frames to this gateway's @connections API (the WebSocket
        # API's management endpoint when deployed).
        os.environ["MOLESIGNAL_LIVE_CONNECTIONS_URL"] = self.url
        reset_settings()
        self.gateway = Gateway(self.registry, region=get_settings().aws_region, request_log=self.request_log)
        # proxy_headers off: like API Gateway, the source address is the TCP peer's, never what a
        # client's X-Forwarded-For claims (uvicorn would trust it from 127.0.0.1).
        config = uvicorn.Config(
            self.gateway,
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="gateway", daemon=True
        )
        self._thread.start()
        for _ in range(300):
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            time.sleep(0.05)
        raise RuntimeError("the local gateway did not start")

    def stop(self, budget_s: float = 15.0) -> None:
        """Stop everything, giving running work at most ``budget_s`` in all to finish; then
        the emulator closes its stores (what a worker still held comes back later)."""
        deadline = time.monotonic() + budget_s

        def remaining() -> float:
            return max(0.0, deadline - time.monotonic())

        for poller in self.pollers:
            poller.request_stop()
        if self.scheduler is not None:
            self.scheduler.request_stop()
        if self._server is not None:
            self._server.should_exit = True
        if self.worker_process is not None:
            self.worker_process.stop(timeout_s=remaining() - 1.0)  # a second left for the emulator
        for poller in self.pollers:
            poller.join(remaining())
        if self.scheduler is not None:
            self.scheduler.join(remaining())
        if self._thread is not None:
            self._thread.join(timeout=remaining())
        if self.gateway is not None:
            self.gateway.close()
        if self.emulator is not None:
            self.emulator.stop(timeout_s=max(1.0, remaining()))

    def kill(self) -> None:
        """Leaving at once (a second Ctrl-C, the stop watchdog): end the emulator's process too,
        so that it never outlives this one holding the data directory's lock."""
        if self.worker_process is not None:
            self.worker_process.kill()
        if self.emulator is not None:
            self.emulator.kill()
