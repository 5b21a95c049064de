"""What a warm function remembers between requests: items it read at most a few seconds ago.

A Lambda execution environment serves one request after another; the per-request path of
ingest reads the same few items (the org's settings, a stream's config) every time, and
each read is a DynamoDB round trip. These memos keep a read for ``memo_s``
(``MOLESIGNAL_WARM_MEMO_S``, 5 s by default). The bound, for every memo here: a change made
through this process is seen at once (the writer calls ``forget``); one made by another
function instance is seen within ``memo_s`` (docs/adr/0023-local-process-shape.md). Token
checks are never memoised: a revocation holds from the next request on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Item, Table

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MAX_ENTRIES = 4096  # a warm function serves few orgs; past this the memo starts afresh


class RecentReads(Generic[K, V]):
    """Values by key, each trusted for ``memo_s`` after it was loaded."""

    def __init__(self) -> None:
        self._held: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            held = self._held.get(key)
        if held is not None and now - held[1] < get_settings().warm_memo_s:
            return held[0]
        value = load()
        with self._lock:
            if len(self._held) >= MAX_ENTRIES:
                self._held.clear()
            self._held[key] = (value, now)
        return value

    def forget(self, key: K) -> None:
        with self._lock:
            self._held.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


_orgs: RecentReads[str, Item | None] = RecentReads()


def recent_org(table: Table, org_id: str) -> Item | None:
    """The org item (None if there is none), read at most ``memo_s`` ago by this process: the
    authorizer's IP allowlist and the ingest path's pause flag and content settings share it."""
    return _orgs.get(org_id, lambda: table.get(*keys.org(org_id)))


def forget_org(org_id: str) -> None:
    """After this process changed the org item: its next read is fresh."""
    _orgs.forget(org_id)
