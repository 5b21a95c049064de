"""``python -m molesignal.local.dev``: run the whole system locally until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


def _load_registry() -> Any:
    # The registry lives with the functions (plain data); the dev runner is handed it by name.
    import registry

    return registry.REGISTRY


def main() -> int:
    from molesignal.local.system import LocalSystem
    from molesignal.settings import get_settings

    settings = get_settings()
    registry = _load_registry()
    system = LocalSystem(registry, host=settings.host, port=settings.port, emulator_port=settings.emulator_port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    system.start()
    out = sys.stdout
    out.write(f"MoleSignal {settings.version} is running\n")
    out.write(f"  gateway   {system.url}   (try: curl {system.url}/api/v1/healthz)\n")
    emulator = "embedded moto" if system.emulator else "external"
    out.write(f"  AWS       {system.endpoint_url}   ({emulator})\n")
    out.write(f"  functions {', '.join(f.name for f in registry.http)}\n")
    out.write(f"  workers   {', '.join(w.name for w in registry.workers) or '(none)'}\n")
    out.write(f"  schedules {', '.join(f'{s.name} {s.schedule}' for s in registry.schedules) or '(none)'}\n")
    out.write("Press Ctrl-C to stop.\n")
    out.flush()
    stopping.wait()
    out.write("Stopping...\n")
    out.flush()
    system.stop()
    out.write("Stopped.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
