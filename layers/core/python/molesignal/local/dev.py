"""``python -m molesignal dev``: run the whole system locally until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

# Ctrl-C must end `make dev` promptly. Stopping in order (pollers, gateway, emulator, which
# snapshots its state) gets this long; whatever still runs then is cut off, which loses
# nothing: every acknowledged write is already on disk, and a message a worker held comes
# back at the next start.
STOP_BUDGET_S = 8.0
_output_lock = threading.Lock()


def _load_registry() -> Any:
    # The registry lives with the functions (plain data); the dev runner is handed it by name.
    import registry

    return registry.REGISTRY


def _say(line: str) -> None:
    with _output_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def data_directory(configured: str) -> Path | None:
    """The data directory the settings name; None for ``:memory:``."""
    if configured.strip() == ":memory:":
        return None
    return Path(configured).expanduser().resolve()


_leaving_hooks: list[Any] = []


def _exit_now(code: int) -> None:
    for hook in _leaving_hooks:
        hook()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> int:
    from molesignal import arrow_pool

    # Before anything allocates; the emulator, worker and engine children inherit it.
    os.environ.setdefault(arrow_pool.POOL_VARIABLE, arrow_pool.POOL)
    from molesignal.local.system import LocalSystem
    from molesignal.observability import logger
    from molesignal.settings import get_settings

    settings = get_settings()
    logger.setLevel(settings.log_level)  # the request lines say what happened; JSON logs on demand
    if settings.log_level not in ("DEBUG", "INFO"):
        # The functions' CloudWatch metric lines (EMF JSON) would interleave with the request lines.
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    registry = _load_registry()
    data_dir = data_directory(settings.data_dir)
    system = LocalSystem(
        registry,
        host=settings.host,
        port=settings.port,
        emulator_port=settings.emulator_port,
        data_dir=data_dir,
        fsync=settings.data_fsync,
        request_log=_say if settings.log_requests else None,
    )
    _leaving_hooks.append(system.kill)
    stopping = threading.Event()

    def on_signal(*_: Any) -> None:
        if stopping.is_set():
            _exit_now(130)  # a second Ctrl-C: stop waiting for anything
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    system.start()
    emulator = "embedded" if system.emulator else "external"
    stored = str(data_dir) if data_dir else "in memory (lost when this process ends)"
    replayed = sum(system.emulator.replayed.values()) if system.emulator else 0
    _say(f"MoleSignal {settings.version} is running")
    _say(f"  gateway   {system.url}   (try: curl {system.url}/api/v1/healthz)")
    _say(f"  AWS       {system.endpoint_url}   ({emulator})")
    if system.emulator:
        _say(f"  data      {stored}" + (f"   ({replayed} journaled changes replayed)" if replayed else ""))
    _say(f"  functions {', '.join(f.name for f in registry.http)}")
    _say(f"  workers   {', '.join(w.name for w in registry.workers) or '(none)'}")
    _say(f"  schedules {', '.join(f'{s.name} {s.schedule}' for s in registry.schedules) or '(none)'}")
    _say("Press Ctrl-C to stop.")
    # Wake up now and then: the kernel may hand Ctrl-C to any thread, and Python runs the
    # handler only in the main thread when it next runs bytecode; a wait without a timeout could
    # sleep through it for good (seen with a busy worker thread taking the signal).
    while not stopping.wait(0.25):
        pass
    _say("Stopping...")
    watchdog = threading.Timer(STOP_BUDGET_S + 1.5, _exit_now, args=(0,))
    watchdog.daemon = True
    watchdog.start()
    system.stop(budget_s=STOP_BUDGET_S)
    _say("Stopped.")
    # Handler threads still running (a long query, a worker batch) would hold the interpreter
    # open at exit; the state they could touch is closed and durable, so leave now.
    _exit_now(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
