"""Platform-level counters for ``/metrics``: security and lifecycle events, never tenant data."""

from __future__ import annotations

import re

from molesignal.storage import keys
from molesignal.storage.table import Table

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def increment(table: Table, name: str, by: int = 1) -> None:
    if not _NAME.match(name):
        raise ValueError(f"bad counter name {name!r}")
    pk, sk = keys.platform_counters()
    table.update(pk, sk, "ADD #c :n", names={"#c": name}, values={":n": by})


def read_all(table: Table) -> dict[str, int]:
    pk, sk = keys.platform_counters()
    item = table.get(pk, sk, consistent=False) or {}
    return {k: int(v) for k, v in item.items() if k not in ("pk", "sk") and isinstance(v, int | float)}
