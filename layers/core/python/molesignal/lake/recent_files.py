"""The rows of lake files this process just committed, kept for the merge that follows (ADR 0031).

The ingest worker merges an hour's small files as soon as a tier of them is full (ADR 0011),
usually files it landed itself a few batches before. Reading them back cost about as much
CPU as encoding the merged file: one S3 GET and one Parquet decode per input (~5 ms per
200 KB file, most of it per column, whatever the rows). So the writer and the compactor
leave the table each file was encoded from here once its commit went through, and
``Compactor`` takes an input from here before asking S3.

Why a remembered table is the listed file's rows: a lake file's key is never written with
other rows once its manifest entry is committed. A landed file's key is its request's (or
its group's, reserved before writing) and a redelivery finds the landed marker first; a
compaction output's or a rewrite's key is a digest of its inputs (or a nonce), and the
erasure writes new keys, never over old ones. A duplicate delivery racing the committed
one may put the same request's rows again under the same key, typed against the stream as
it was then: the same rows, which ``compaction.unify`` widens like any other input. An
entry is only used when the manifest entry's ``rows`` and ``bytes`` are what was committed,
so a file listed again under the same key by anything else is read from S3. A process that
did not write a file (another Lambda instance, the scheduled compaction) just misses.

Only the ingest worker keeps them (``functions/ingest_worker/handler.py`` enables it).
Bounded by the tables' Arrow bytes (``recent_files_cache_mib``); the least recently
remembered go first. Merged inputs are forgotten: their entries are gone after the commit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from molesignal.settings import get_settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class _Remembered:
    table: pa.Table
    rows: int
    bytes: int  # of the Parquet object, as its manifest entry lists it
    size: int  # Arrow bytes held


class RecentFiles:
    def __init__(self, limit_bytes: int | None = None, *, enabled: bool = False) -> None:
        self._limit = limit_bytes
        self.enabled = enabled  # by the process that merges recent tiers: the ingest worker
        self._files: OrderedDict[str, _Remembered] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def limit_bytes(self) -> int:
        return self._limit if self._limit is not None else get_settings().recent_files_cache_mib * MIB

    @property
    def held_bytes(self) -> int:
        return self._held

    def __len__(self) -> int:
        return len(self._files)

    def remember(self, key: str, table: pa.Table, *, object_bytes: int) -> None:
        """``table`` is what the committed object ``key`` (``object_bytes`` long) was encoded from.
        Kept only while the worker merges recent tiers (a file too big to be merged is far
        beyond the limit anyway)."""
        if not self.enabled or not get_settings().recent_compaction_fanin:
            return
        size = table.get_total_buffer_size()
        limit = self.limit_bytes
        if size > limit:
            return
        with self._lock:
            self._drop(key)
            while self._files and self._held + size > limit:
                self._drop(next(iter(self._files)))
            self._files[key] = _Remembered(table, table.num_rows, object_bytes, size)
            self._held += size

    def recall(self, entry: Mapping[str, Any]) -> pa.Table | None:
        """The rows of the manifest ``entry``'s file if this process committed it as listed."""
        with self._lock:
            found = self._files.get(str(entry["key"]))
        if found is None or found.rows != int(entry["rows"]) or found.bytes != int(entry["bytes"]):
            return None
        return found.table

    def forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._held = 0

    def _drop(self, key: str) -> None:
        gone = self._files.pop(key, None)
        if gone is not None:
            self._held -= gone.size


# One per process, as a Lambda instance's memory is; the ingest worker enables it (other
# writers, such as the audit chain's, have nothing that merges their files soon after).
RECENT_FILES = RecentFiles()
