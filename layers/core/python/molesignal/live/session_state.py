"""Whether a live connection's login session still holds, as a writer delivering to it sees it.

A connection authenticates once, with an access JWT of a login session (a refresh family).
Logging out, an admin's revocation, a password or role change, and disabling or deleting the
user revoke that family; its expiry ends it too. The writer checks the family before posting
a change to a connection (``fanout``): a GetItem per session at most every
``live_session_check_s`` (30 s) per writer process, and an ended session is remembered for
good. So a connection whose session ended receives no change posted more than that bound
after the end; it gets ``auth_error`` and is closed (docs/live.md).
"""

from __future__ import annotations

import threading
import time

from molesignal.clock import now_s
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table

_alive_at: dict[str, float] = {}  # session -> monotonic time it was last seen alive
_ended: set[str] = set()
_lock = threading.Lock()


class SessionStates:
    def __init__(self, table: Table) -> None:
        self.table = table

    def alive(self, session_id: str) -> bool:
        with _lock:
            if session_id in _ended:
                return False
            seen = _alive_at.get(session_id)
        if seen is not None and time.monotonic() - seen < get_settings().live_session_check_s:
            return True
        family = self.table.get(*keys.refresh_family(session_id), consistent=False)
        alive = family is not None and not family.get("revoked") and int(family.get("expires_at", 0)) > now_s()
        with _lock:
            if alive:
                _alive_at[session_id] = time.monotonic()
            else:
                _alive_at.pop(session_id, None)
                _ended.add(session_id)
        return alive
