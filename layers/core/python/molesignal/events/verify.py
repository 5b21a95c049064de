"""Walking an org's hash chain over the lake and reporting the first break.

The anchors are the chain's block records (written in the transaction that landed each
batch) and the signed checkpoints; the lake rows are what is checked against them. A row
whose content no longer hashes to its recorded hash is *modified*; a sequence number with
no row is *missing*; two rows with one number are a *duplicate*; a row that does not link
to the one before (or to its block's anchors) is *unlinked* — which is what a reordering
that kept each row's own hashes looks like.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from molesignal.errors import Unprocessable
from molesignal.events import canonical, rows
from molesignal.events.chain import Chain
from molesignal.events.lakerows import Unreadable, read_rows
from molesignal.storage.table import Item, Table

MAX_VERIFY_EVENTS = 2_000_000


@dataclass
class Report:
    verified: bool = True
    events_checked: int = 0
    from_seq: int | None = None
    to_seq: int | None = None
    head: dict[str, Any] = field(default_factory=dict)
    first_break: dict[str, Any] | None = None

    def fail(self, seq: int, reason: str, **details: Any) -> None:
        if self.first_break is None:
            self.verified = False
            self.first_break = {"seq": seq, "reason": reason, **details}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verified": self.verified,
            "events_checked": self.events_checked,
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "head": self.head,
        }
        if self.first_break is not None:
            out["first_break"] = self.first_break
        return out


def _selected(blocks: list[Item], from_us: int | None, to_us: int | None) -> list[Item]:
    return [
        b
        for b in blocks
        if (from_us is None or int(b["max_ts_us"]) >= from_us) and (to_us is None or int(b["min_ts_us"]) < to_us)
    ]


def verify(table: Table, org_id: str, from_us: int | None = None, to_us: int | None = None) -> Report:
    chain = Chain(table)
    head = chain.head(org_id)
    report = Report(head={"seq": head.seq, "hash": head.hash})
    blocks = _selected(chain.blocks(org_id), from_us, to_us)
    if not blocks:
        return report
    first, last = int(blocks[0]["first_seq"]), int(blocks[-1]["last_seq"])
    if last - first + 1 > MAX_VERIFY_EVENTS:
        raise Unprocessable(f"invalid argument: the range holds more than {MAX_VERIFY_EVENTS} events; narrow it")
    report.from_seq, report.to_seq = first, last
    # The anchors must agree with each other before the rows are checked against them.
    for before, after in itertools.pairwise(blocks):
        if int(after["first_seq"]) != int(before["last_seq"]) + 1 or after["prev_hash"] != before["last_hash"]:
            report.fail(int(after["first_seq"]), "unlinked", detail="chain blocks do not join")
            return report
    ends = {int(b["last_seq"]): str(b["last_hash"]) for b in blocks}
    start_us = min(int(b["min_ts_us"]) for b in blocks)
    end_us = max(int(b["max_ts_us"]) for b in blocks) + 1
    by_seq: dict[int, dict[str, Any]] = {}
    for found in read_rows(table, org_id, start_us, end_us, (first, last)):
        if isinstance(found, Unreadable):
            report.fail(first, "unreadable", object=found.key, detail=found.reason)
            return report
        seq = int(found["seq"])
        if seq in by_seq:
            report.fail(seq, "duplicate", id=found.get("id"))
            return report
        by_seq[seq] = found
    expected_prev = str(blocks[0]["prev_hash"])
    for seq in range(first, last + 1):
        row = by_seq.get(seq)
        if row is None:
            report.fail(seq, "missing", expected_prev_hash=expected_prev)
            return report
        event = rows.from_row(row)
        recomputed = canonical.link(event["prev_hash"], canonical.digest(event))
        if recomputed != event["hash"]:
            report.fail(seq, "modified", id=event["id"], stored_hash=event["hash"], recomputed_hash=recomputed)
            return report
        if event["prev_hash"] != expected_prev:
            report.fail(seq, "unlinked", id=event["id"], expected_prev_hash=expected_prev, prev_hash=event["prev_hash"])
            return report
        if seq in ends and ends[seq] != event["hash"]:
            report.fail(seq, "modified", id=event["id"], detail="does not match the hash recorded when it was landed")
            return report
        expected_prev = event["hash"]
        report.events_checked += 1
    return report
