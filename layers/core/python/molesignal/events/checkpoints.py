"""Signed checkpoints of an org's chain head, and proofs from one event to a checkpoint.

A checkpoint is the RFC 8785 canonical JSON of ``{org_id, seq, hash, signed_at}`` signed by
the asymmetric KMS key ``events-signing`` (ECC NIST P-256, ECDSA with SHA-256). The public
key is published with the checkpoints, so anyone can check one offline. A proof for event
*n* against checkpoint *m* ≥ *n* is the event (with ``prev_hash`` and ``hash``) and the
digests of events *n+1..m*: folding them onto the event's hash must give the checkpoint's.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import rfc8785

from molesignal import aws
from molesignal.clock import now_us
from molesignal.errors import Conflict
from molesignal.events import canonical, rows
from molesignal.events.chain import CHAIN_LISTING, Chain
from molesignal.events.lakerows import Unreadable, read_rows
from molesignal.events.model import iso_us
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

ALGORITHM = "ECDSA_SHA_256"
KEY_LOGICAL = "events-signing"
CHECKPOINT_EVERY = 1000  # the worker signs once this many events have been chained since the last
MAX_PROOF_DIGESTS = 50_000


def checkpoint_partition(org_id: str) -> str:
    return f"ORG#{org_id}#CHECKPOINTS"


def signed_payload(org_id: str, seq: int, hash_: str, signed_at: str) -> bytes:
    return bytes(rfc8785.dumps({"org_id": org_id, "seq": seq, "hash": hash_, "signed_at": signed_at}))


def public(item: Item) -> dict[str, Any]:
    return {
        "seq": int(item["seq"]),
        "hash": item["hash"],
        "signed_at": item["signed_at"],
        "signature": item["signature"],
        "algorithm": ALGORITHM,
        "org_id": item["org_id"],
    }


@dataclass
class Checkpoints:
    table: Table

    def latest(self, org_id: str) -> Item | None:
        items, _ = self.table.query(checkpoint_partition(org_id), limit=1, forward=False)
        return items[0] if items else None

    def covering(self, org_id: str, seq: int) -> Item | None:
        """The first checkpoint at or after ``seq``."""
        response = self.table.client.query(
            TableName=self.table.name,
            KeyConditionExpression="pk = :pk AND sk >= :sk",
            ExpressionAttributeValues={":pk": {"S": checkpoint_partition(org_id)}, ":sk": {"S": f"{seq:020d}"}},
            Limit=1,
        )
        found = response.get("Items", [])
        return self.table.unmarshal(found[0]) if found else None

    def sign_head(self, org_id: str) -> Item | None:
        """Sign the org's current head unless it is already checkpointed."""
        head = Chain(self.table).head(org_id)
        latest = self.latest(org_id)
        if head.seq == 0 or (latest is not None and int(latest["seq"]) >= head.seq):
            return None
        signed_at = iso_us(now_us())
        signature = aws.client("kms").sign(
            KeyId=get_settings().kms_alias(KEY_LOGICAL),
            Message=signed_payload(org_id, head.seq, head.hash, signed_at),
            MessageType="RAW",
            SigningAlgorithm=ALGORITHM,
        )["Signature"]
        item = {
            "pk": checkpoint_partition(org_id),
            "sk": f"{head.seq:020d}",
            "kind": "event_checkpoint",
            "org_id": org_id,
            "seq": head.seq,
            "hash": head.hash,
            "signed_at": signed_at,
            "signature": base64.b64encode(signature).decode(),
        }
        self.table.put(item)
        return item

    def sign_all(self) -> int:
        """Checkpoint every org whose chain moved since its last checkpoint (the scheduled job)."""
        signed = 0
        for head in self.table.query_all(CHAIN_LISTING, index="gsi1"):
            if self.sign_head(str(head["org_id"])) is not None:
                signed += 1
        return signed

    def proof(self, org_id: str, event: dict[str, Any]) -> dict[str, Any]:
        seq = int(event["seq"])
        checkpoint = self.covering(org_id, seq)
        if checkpoint is None:
            raise Conflict(
                f"conflict: no signed checkpoint covers event {seq} yet; try again after the next one",
                code="checkpoint_pending",
            )
        last = int(checkpoint["seq"])
        if last - seq > MAX_PROOF_DIGESTS:
            raise Conflict("conflict: the covering checkpoint is too far ahead for one proof", code="proof_too_long")
        digests: dict[int, str] = {}
        if last > seq:
            blocks = [b for b in Chain(self.table).blocks(org_id, after_seq=seq) if int(b["first_seq"]) <= last]
            start = min(int(b["min_ts_us"]) for b in blocks)
            end = max(int(b["max_ts_us"]) for b in blocks) + 1
            for row in read_rows(self.table, org_id, start, end, (seq + 1, last)):
                if isinstance(row, Unreadable):
                    raise Conflict(f"conflict: a lake object is unreadable ({row.key})", code="chain_unreadable")
                digests[int(row["seq"])] = canonical.digest(rows.from_row(row))
        return {
            "event": event,
            "digests": [digests.get(n, "") for n in range(seq + 1, last + 1)],
            "checkpoint": public(checkpoint),
            "hash_rule": "hash = SHA-256(prev_hash || SHA-256(JCS(event without prev_hash and hash))) over raw bytes",
        }
