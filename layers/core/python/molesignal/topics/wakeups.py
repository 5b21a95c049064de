"""Wakes long polls in this process the moment a message is appended, instead of at their next
poll: locally (``make dev``, tests) every function shares one process; deployed, a consumer's
function polls DynamoDB at ``POLL_INTERVAL_S`` (docs/topics.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from molesignal.observers import Observers

_appended = threading.Condition()
_generation = 0


_appended_observers: Observers[[]] = Observers()


def note_appended() -> None:
    global _generation
    with _appended:
        _generation += 1
        _appended.notify_all()
    _appended_observers.notify()


def on_appended(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` after every append noted in this process (the local system's worker
    process forwards them to its parent); returns the removal."""
    return _appended_observers.add(callback)


def generation() -> int:
    with _appended:
        return _generation


def wait_for_append(seen: int, timeout_s: float) -> None:
    """Return when a message was appended after ``seen`` was read, or after ``timeout_s``."""
    with _appended:
        _appended.wait_for(lambda: _generation != seen, timeout=max(0.0, timeout_s))
