"""The outbox sweeper: publishes committed changes whose committing process did not.

A commit that a topic sources carries an outbox item (``molesignal.lake.outbox``); the process
that committed publishes it and deletes it within a moment. Items older than
``outbox_sweep_after_s`` (60 s) belong to a process that died, or whose publish kept failing:
the sweeper (``outbox_worker``, every minute) publishes them. Appends are idempotent by the
change id, so a sweep racing a slow publisher, or a sweep run twice, writes each message once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from molesignal.clock import now_us
from molesignal.lake.outbox import Outbox
from molesignal.observability import logger
from molesignal.settings import get_settings
from molesignal.storage.table import Table
from molesignal.topics.publisher import publish_change

TIME_BUDGET_S = 45.0  # under the worker's 60 s timeout


@dataclass
class SweepResult:
    changes: int = 0  # changes published (their items deleted)
    messages: int = 0
    failed: int = 0  # changes whose publish failed (left for the next sweep)
    orphaned_payloads: int = 0  # row objects of commits that never happened, deleted


def sweep(table: Table | None = None, *, older_than_s: float | None = None) -> SweepResult:
    table = table or Table()
    outbox = Outbox(table)
    settings = get_settings()
    wait_s = settings.outbox_sweep_after_s if older_than_s is None else older_than_s
    cutoff = now_us() - int(wait_s * 1_000_000)
    deadline = time.monotonic() + TIME_BUDGET_S
    result = SweepResult()
    failed: set[str] = set()
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        for item in outbox.pending(cutoff):
            if item["sk"] in failed or time.monotonic() >= deadline:
                continue
            try:
                result.messages += publish_change(table, outbox.load(item))
            except Exception:
                logger.exception("outbox: publishing a change failed", extra={"outbox_item": item["sk"]})
                failed.add(str(item["sk"]))
                continue
            result.changes += 1
            progress = True
    result.failed = len(failed)
    result.orphaned_payloads = outbox.delete_orphan_payloads()
    return result
