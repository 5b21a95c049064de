"""Which manifest entries a reader should use, when it may see a compaction half-applied.

A compaction commits in one DynamoDB transaction: it puts the merged file's entry, whose
``replaces`` attribute lists the sort keys of its inputs, and deletes the inputs' entries.
A transaction is atomic for writers and for single-item reads, but a ``Query`` is only
*read-committed*: a page read while the transaction commits may show some of its items
before and others after (and a local emulator may show any prefix of its operations). A
reader can therefore see the merged entry next to some of its inputs. Dropping every entry
that a listed entry ``replaces`` removes exactly those duplicates, whatever mix it saw:

* the merged entry is not visible → none of its inputs is dropped (the old view);
* it is visible → every input still visible is dropped, and the merged file holds them all.

The merged entry is put first in the transaction and its id sorts after every input in
the same hour, so neither an emulator applying operations in order nor a ``Query`` reading
in key order can show some inputs gone while the merged entry is not there yet.
``replaces`` is transitive through nested compactions: an entry dropped because a newer
merge replaced it still drops what it replaced.

Light on purpose (no pyarrow): the streams API and the query planner call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

Entry = TypeVar("Entry", bound=Mapping[str, Any])


def drop_superseded(entries: Iterable[Entry]) -> list[Entry]:
    """The entries no other listed entry replaces; idempotent, order preserved."""
    listed = list(entries)
    replaced = {str(sk) for entry in listed for sk in entry.get("replaces") or ()}
    if not replaced:
        return listed
    return [entry for entry in listed if str(entry.get("sk")) not in replaced]
