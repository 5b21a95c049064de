"""The query result cache.

The key is derived from the org, the canonical SQL (bound params included), the time
range and the *data version* of every stream the query reads — a stream's version
changes whenever rows land or are removed — so new data makes old entries unreachable
rather than needing invalidation. Entries live in memory (per warm function instance)
and in DynamoDB (shared by all instances, TTL-bound); results too large for one item are
not cached.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from molesignal.clock import now_s
from molesignal.storage.table import Table

MAX_ITEM_BYTES = 350_000
MAX_MEMORY_ENTRIES = 512
# Answers may be up to query_max_result_bytes each: bound the instance's copies by size too,
# or 512 large answers would hold gigabytes of the function's memory.
MAX_MEMORY_BYTES = 64 * 1024 * 1024


def cache_key(
    org_id: str,
    normalized_sql: str,
    start_us: int | None,
    end_us: int | None,
    versions: Mapping[str, int],
    *,
    hidden: Sequence[str] = (),
) -> str:
    """``hidden``: the ``stream.column`` names the answer leaves out (sealed columns)."""
    # Numbers as text: orjson refuses integers beyond 64 bits, and a key must never fail.
    bounds = {"start": None if start_us is None else str(start_us), "end": None if end_us is None else str(end_us)}
    data = sorted((name, str(version)) for name, version in versions.items())
    material = orjson.dumps({"org": org_id, "sql": normalized_sql, **bounds, "data": data, "hidden": sorted(hidden)})
    return hashlib.sha256(material).hexdigest()


class ResultCache:
    def __init__(self, table: Table, ttl_s: int) -> None:
        self.table = table
        self.ttl_s = ttl_s

    _memory: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
    _memory_bytes = 0
    _lock = threading.Lock()

    def get(self, org_id: str, key: str) -> dict[str, Any] | None:
        if self.ttl_s <= 0:
            return None
        memory_key = f"{org_id}/{key}"
        with self._lock:
            hit = self._memory.get(memory_key)
            if hit is not None and hit[0] > time.monotonic():
                self._memory.move_to_end(memory_key)
                return dict(orjson.loads(hit[1]))
        item = self.table.get(f"QCACHE#{org_id}", key, consistent=False)
        if not item or int(item.get("expires_at", 0)) <= now_s():
            return None
        payload = item["payload"]
        blob = payload.encode() if isinstance(payload, str) else bytes(payload)
        self._remember(memory_key, blob, int(item["expires_at"]) - now_s())
        return dict(orjson.loads(blob))

    def put(self, org_id: str, key: str, result: Mapping[str, Any]) -> None:
        if self.ttl_s <= 0:
            return
        blob = orjson.dumps(result)
        self._remember(f"{org_id}/{key}", blob, self.ttl_s)
        if len(blob) <= MAX_ITEM_BYTES:
            self.table.put(
                {"pk": f"QCACHE#{org_id}", "sk": key, "payload": blob.decode(), "expires_at": now_s() + self.ttl_s}
            )

    @classmethod
    def forget_all(cls) -> None:
        """Empty this instance's in-memory copies (benchmarks: what another instance sees)."""
        with cls._lock:
            cls._memory.clear()
            cls._memory_bytes = 0

    def _remember(self, memory_key: str, blob: bytes, ttl_s: int) -> None:
        cls = type(self)
        with self._lock:
            replaced = self._memory.pop(memory_key, None)
            cls._memory_bytes -= len(replaced[1]) if replaced else 0
            self._memory[memory_key] = (time.monotonic() + ttl_s, blob)
            cls._memory_bytes += len(blob)
            while len(self._memory) > MAX_MEMORY_ENTRIES or cls._memory_bytes > MAX_MEMORY_BYTES:
                _, (_, evicted) = self._memory.popitem(last=False)
                cls._memory_bytes -= len(evicted)
