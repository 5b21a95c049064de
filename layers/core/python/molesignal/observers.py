"""Callbacks on a process-local note, for whoever must carry it further.

Some memos trust notes made in their own process (a lake change, a topic append, a changed
alert rule). When the local system runs a worker in a child process, the child forwards its
notes to the parent and the parent forwards its own to the child
(``molesignal.local.worker_process``); everywhere else nobody listens and a note costs a
look at an empty list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, ParamSpec

from molesignal.observability import logger

P = ParamSpec("P")


class Observers(Generic[P]):
    def __init__(self) -> None:
        self._callbacks: list[Callable[P, None]] = []
        self._lock = threading.Lock()

    def add(self, callback: Callable[P, None]) -> Callable[[], None]:
        """Call ``callback`` with every note from now on; returns the removal."""
        with self._lock:
            self._callbacks = [*self._callbacks, callback]

        def remove() -> None:
            with self._lock:
                self._callbacks = [c for c in self._callbacks if c is not callback]

        return remove

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for callback in self._callbacks:
            try:
                callback(*args, **kwargs)
            except Exception:
                logger.exception("observer failed")
