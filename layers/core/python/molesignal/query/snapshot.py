"""What the query planner reads of an org's lake, memoised per function instance.

Every query needs the org's stream list (schemas and data versions: the result cache keys
on them) and the manifest entries of the streams it reads. Both are DynamoDB reads, and on
a warm instance they would be repeated for every query, cache hits included. So:

* **The stream list** is kept for ``query_stream_list_ttl_s`` (1 s by default). A stream
  changed by another process is therefore seen up to that long after its commit — on top
  of the ingest pipeline's own delay between the 202 and the landing — and a changed
  version makes older cached results unreachable from then on. A change committed by this
  process (``streams.note_local_change``) is seen at once.
* **Manifest entries** are kept per ``(org, stream, data version, hour partitions)``. A
  landing or retention changes the version, so new entries are never missed. Compaction
  keeps the version (the rows are the same) and swaps files; its replaced files are deleted
  only after the garbage grace period (15 minutes), so a memo younger than
  ``query_manifest_memo_ttl_s`` (60 s) only names files that still exist.

Both memos are bounded (orgs, entries) and per process: nothing is shared across tenants
because every key starts with the org id.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from molesignal.lake.streams import Stream, Streams, hour_range, local_change_count, overlapping
from molesignal.settings import get_settings
from molesignal.storage.table import Item

_MAX_ORGS = 512
_MAX_MANIFESTS = 1024
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """A bounded LRU whose entries expire after ``ttl`` or on a local change to their org."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._held: OrderedDict[K, tuple[V, float, int]] = OrderedDict()

    def get(self, key: K, org_id: str, ttl: float) -> V | None:
        with self._lock:
            held = self._held.get(key)
            if held is None:
                return None
            value, at, changes = held
            if time.monotonic() - at >= ttl or changes != local_change_count(org_id):
                del self._held[key]
                return None
            self._held.move_to_end(key)
            return value

    def put(self, key: K, value: V, *, read_at: float, changes: int) -> None:
        with self._lock:
            self._held[key] = (value, read_at, changes)
            self._held.move_to_end(key)
            while len(self._held) > self._limit:
                self._held.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


class LakeSnapshots:
    def __init__(self) -> None:
        self._stream_lists: _Memo[str, dict[str, Stream]] = _Memo(_MAX_ORGS)
        self._manifests: _Memo[tuple[str, str, int, tuple[int, int] | None], list[Item]] = _Memo(_MAX_MANIFESTS)

    def streams(self, reader: Streams, org_id: str) -> dict[str, Stream]:
        """The org's streams by name, read at most ``query_stream_list_ttl_s`` ago."""
        found = self._stream_lists.get(org_id, org_id, get_settings().query_stream_list_ttl_s)
        if found is None:
            # Taken before the read: a change committed during it makes the memo stale at once.
            read_at, changes = time.monotonic(), local_change_count(org_id)
            found = {s.name: s for s in reader.all(org_id)}
            self._stream_lists.put(org_id, found, read_at=read_at, changes=changes)
        return dict(found)

    def manifest(self, reader: Streams, stream: Stream, start_us: int | None, end_us: int | None) -> list[Item]:
        """The stream's files that can hold rows in [start, end), as of ``stream.version``."""
        hours = hour_range(start_us, end_us)
        key = (stream.org_id, stream.name, stream.version, hours)
        entries = self._manifests.get(key, stream.org_id, get_settings().query_manifest_memo_ttl_s)
        if entries is None:
            read_at, changes = time.monotonic(), local_change_count(stream.org_id)
            entries = reader.manifest_hours(stream.org_id, stream.name, hours)
            self._manifests.put(key, entries, read_at=read_at, changes=changes)
        return overlapping(entries, start_us, end_us)

    def clear(self) -> None:
        self._stream_lists.clear()
        self._manifests.clear()


# One per process, like the boto3 clients: a warm Lambda instance keeps it between invocations.
SNAPSHOTS = LakeSnapshots()
