"""What the events worker does with one queued batch: chain it, land it, and say so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from molesignal.events import fanout, geo
from molesignal.events.chain import Chain, land
from molesignal.events.checkpoints import CHECKPOINT_EVERY, Checkpoints
from molesignal.events.message import EventsMessage
from molesignal.lake.writer import Lake
from molesignal.observability import logger
from molesignal.storage.table import Table


@dataclass(frozen=True)
class Outcome:
    org_id: str
    request_id: str
    chained: int
    first_seq: int
    last_seq: int
    duplicate: bool

    def log_fields(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "request_id": self.request_id,
            "chained": self.chained,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "duplicate": self.duplicate,
        }


def _checkpoint_if_due(table: Table, org_id: str, head_seq: int) -> None:
    """Sign the head every ``CHECKPOINT_EVERY`` events, so a proof stays short in a busy org;
    the scheduled job signs quieter orgs. A failure here only delays the next checkpoint."""
    checkpoints = Checkpoints(table)
    latest = checkpoints.latest(org_id)
    if head_seq - (int(latest["seq"]) if latest else 0) < CHECKPOINT_EVERY:
        return
    try:
        checkpoints.sign_head(org_id)
    except Exception:
        logger.exception("checkpoint signing failed; the scheduled job will sign later", extra={"org_id": org_id})


def process_message(body: str, table: Table | None = None) -> Outcome:
    message = EventsMessage.from_json(body)
    table = table or Table()
    chain = Chain(table)
    if chain.processed(message.org_id, message.request_id):
        fanout.fan_out_again_if_unconfirmed(table, message.org_id, message.request_id)
        message.forget_claim()
        return Outcome(message.org_id, message.request_id, 0, 0, 0, True)
    landed = land(chain, Lake(table), message.org_id, message.request_id, message.events(), enrich=geo.enrich)
    if landed.duplicate:
        fanout.fan_out_again_if_unconfirmed(table, message.org_id, message.request_id)
    else:
        # Landed: fan out before the claim check goes, so a failure here retries the message.
        fanout.fan_out_landed(table, message.org_id, message.request_id, landed.public_events())
    message.forget_claim()
    if not landed.duplicate:
        _checkpoint_if_due(table, message.org_id, landed.end.seq)
    return Outcome(
        message.org_id,
        message.request_id,
        len(landed.hashes),
        landed.start.seq + 1,
        landed.end.seq,
        landed.duplicate,
    )
