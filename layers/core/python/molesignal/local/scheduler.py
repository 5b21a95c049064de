"""A scheduler for the EventBridge-driven functions: fires each on its ``rate(...)``."""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from molesignal.local.lambda_context import LocalLambdaContext
from molesignal.local.loader import load_handler
from molesignal.observability import logger
from molesignal.settings import get_settings

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int:
    found = _RATE.match(expression.strip())
    if not found:
        raise ValueError(f"unsupported schedule expression {expression!r}; use rate(N minutes|hours|days)")
    amount, unit = int(found.group(1)), found.group(2).rstrip("s")
    if amount < 1:
        raise ValueError("a rate must be at least 1")
    return amount * _UNIT_S[unit]


def scheduled_event(function: Any, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/molesignal-{function.name}"],
        "detail": {},
    }


@dataclass
class Scheduler:
    schedules: tuple[Any, ...]
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def fire(self, name: str) -> Any:
        function = next(f for f in self.schedules if f.name == name)
        region = get_settings().aws_region
        context = LocalLambdaContext(
            function_name=f"molesignal-{function.name}",
            memory_limit_in_mb=function.memory_mb,
            timeout_s=function.timeout_s,
            region=region,
        )
        return load_handler(function.handler)(scheduled_event(function, region), context)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, timeout))

    def stop(self) -> None:
        self.request_stop()
        self.join(5)

    def _run(self) -> None:
        first = get_settings().scheduler_first_run_s
        started = time.monotonic()
        due = {
            f.name: started + (rate_seconds(f.schedule) if first is None else min(first, rate_seconds(f.schedule)))
            for f in self.schedules
        }
        while not self._stop.wait(1):
            now = time.monotonic()
            for function in self.schedules:
                if now >= due[function.name]:
                    due[function.name] = now + rate_seconds(function.schedule)
                    try:
                        self.fire(function.name)
                    except Exception:
                        logger.exception("scheduled function failed", extra={"function": function.name})
