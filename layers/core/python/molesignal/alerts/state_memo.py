"""A process's recent view of an org's alert states, so the ingest path does not read every
state of the org on every batch.

Every write or delete of an alert state in this process goes through here (``written``,
``dropped``), so the view is exact for this process's own changes. Other processes' changes
are seen when the view is older than ``alert_rules_memo_s`` (the same staleness the rule memo
has). ``realtime`` trusts a remembered state only where another process cannot have moved
it meanwhile (a firing alert well before its resolve deadline) and reads the rest again; any
write is conditional on the stored version, so a stale view never double-notifies.
"""

from __future__ import annotations

import threading
import time

from molesignal.alerts.state import AlertState

MAX_ORGS = 1024

_lock = threading.Lock()
_memo: dict[str, tuple[float, dict[str, AlertState]]] = {}


def recall(org_id: str, max_age_s: float) -> dict[str, AlertState] | None:
    """The org's states as last read or written here, unless older than ``max_age_s``."""
    with _lock:
        held = _memo.get(org_id)
        if held is None or time.monotonic() - held[0] >= max_age_s:
            return None
        return dict(held[1])


def remember(org_id: str, states: dict[str, AlertState]) -> None:
    with _lock:
        if len(_memo) >= MAX_ORGS:
            _memo.clear()
        _memo[org_id] = (time.monotonic(), dict(states))


def written(state: AlertState) -> None:
    with _lock:
        held = _memo.get(state.org_id)
        if held is not None:
            held[1][state.sort_key] = state


def dropped(org_id: str, sort_key: str) -> None:
    with _lock:
        held = _memo.get(org_id)
        if held is not None:
            held[1].pop(sort_key, None)


def forget(org_id: str) -> None:
    with _lock:
        _memo.pop(org_id, None)
