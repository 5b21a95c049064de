"""The embedded AWS emulator: moto in server mode, on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Emulator:
    host: str = "127.0.0.1"
    port: int = 4566
    _server: Any = None

    def start(self) -> str:
        import logging
        import socket

        if self.port:
            # moto only logs a busy port and carries on; refuse clearly instead.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex((self.host, self.port)) == 0:
                    raise RuntimeError(
                        f"port {self.port} is busy: stop what listens there, set MOLESIGNAL_EMULATOR_PORT, "
                        "or point AWS_ENDPOINT_URL at a running emulator"
                    )

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per AWS call drowns the console

        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = int(port)
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
