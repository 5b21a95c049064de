"""The per-org hash chain: its head, its blocks, and landing a batch onto it.

The head (``seq``, ``hash``) moves in the same DynamoDB transaction that makes a batch's
lake rows visible, on the condition that it still holds what the batch was linked to: two
workers can never land two batches on one head (no fork), and a batch whose rows are not
committed never moved the head (no gap). Each landed batch also leaves a *block* record
(first and last sequence, the hash before and after, its time span) that verification
walks; the blocks and signed checkpoints are what the lake's rows are checked against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal.alerts.realtime import evaluate_landed
from molesignal.clock import now_us
from molesignal.events import canonical, rows
from molesignal.lake.writer import GuardFailed, Lake
from molesignal.storage.table import Item, Table

CHAIN_LISTING = "EVENTCHAINS"  # gsi1 partition naming every org that has a chain
MAX_ATTEMPTS = 8


def head_key(org_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", "EVENTCHAIN#HEAD"


def block_partition(org_id: str) -> str:
    return f"ORG#{org_id}#EVENTBLOCKS"


def processed_key(org_id: str, request_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}#EVENTREQ", request_id


@dataclass(frozen=True)
class Head:
    seq: int  # sequence number of the last chained event; 0 before the first
    hash: str

    @classmethod
    def of(cls, item: Item | None) -> Head:
        if not item:
            return cls(0, canonical.GENESIS)
        return cls(int(item["seq"]), str(item["hash"]))


@dataclass(frozen=True)
class Linked:
    documents: list[dict[str, Any]]  # public events without hashes, in chain order
    digests: list[str]
    hashes: list[str]
    start: Head

    @property
    def end(self) -> Head:
        return Head(self.start.seq + len(self.hashes), self.hashes[-1] if self.hashes else self.start.hash)


def link_batch(start: Head, documents: Sequence[dict[str, Any]]) -> Linked:
    """Number ``documents`` after ``start`` and chain their hashes (documents get ``seq``)."""
    numbered = [{**doc, "seq": start.seq + i + 1} for i, doc in enumerate(documents)]
    digests = [canonical.digest(doc) for doc in numbered]
    hashes: list[str] = []
    current = start.hash
    for value in digests:
        current = canonical.link(current, value)
        hashes.append(current)
    return Linked(numbered, digests, hashes, start)


@dataclass
class Chain:
    table: Table

    def head(self, org_id: str) -> Head:
        return Head.of(self.table.get(*head_key(org_id)))

    def processed(self, org_id: str, request_id: str) -> bool:
        return self.table.get(*processed_key(org_id, request_id)) is not None

    def blocks(self, org_id: str, *, after_seq: int = 0) -> list[Item]:
        """Block records in sequence order, from the one holding ``after_seq + 1``."""
        items = self.table.query_all(block_partition(org_id))
        return [b for b in items if int(b["last_seq"]) > after_seq]

    def guards(self, org_id: str, request_id: str, linked: Linked, span: tuple[int, int]) -> list[dict[str, Any]]:
        """Transaction operations landing ``linked``: move the head, record the block and the request."""
        start, end = linked.start, linked.end
        hk, hs = head_key(org_id)
        name = self.table.name
        values: dict[str, Any] = {":seq": end.seq, ":hash": end.hash, ":now": now_us(), ":list": CHAIN_LISTING}
        values[":org"] = org_id
        if start.seq:
            condition = "seq = :old"
            values[":old"] = start.seq
        else:
            condition = "attribute_not_exists(pk)"
        block = {
            "pk": block_partition(org_id),
            "sk": f"{start.seq + 1:020d}",
            "kind": "event_block",
            "first_seq": start.seq + 1,
            "last_seq": end.seq,
            "prev_hash": start.hash,
            "last_hash": end.hash,
            "request_id": request_id,
            "min_ts_us": span[0],
            "max_ts_us": span[1],
            "count": len(linked.hashes),
            "created_at_us": now_us(),
        }
        pk, sk = processed_key(org_id, request_id)
        return [
            {
                "Update": {
                    "TableName": name,
                    "Key": self.table.marshal({"pk": hk, "sk": hs}),
                    "UpdateExpression": "SET seq = :seq, #h = :hash, updated_at_us = :now, gsi1pk = :list, "
                    "gsi1sk = :org, org_id = :org",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#h": "hash"},
                    "ExpressionAttributeValues": self.table.marshal(values),
                }
            },
            {
                "Put": {
                    "TableName": name,
                    "Item": self.table.marshal(block),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": name,
                    "Item": self.table.marshal({"pk": pk, "sk": sk, "first_seq": start.seq + 1, "last_seq": end.seq}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]


@dataclass(frozen=True)
class Landed:
    duplicate: bool
    start: Head
    end: Head
    documents: list[dict[str, Any]]
    hashes: list[str]

    def public_events(self) -> list[dict[str, Any]]:
        """The landed events as the API shows them (with ``prev_hash`` and ``hash``)."""
        prevs = [self.start.hash, *self.hashes[:-1]]
        return [
            {**doc, "prev_hash": prev, "hash": hash_}
            for doc, prev, hash_ in zip(self.documents, prevs, self.hashes, strict=True)
        ]


def land(
    chain: Chain,
    lake: Lake,
    org_id: str,
    request_id: str,
    accepted: Sequence[Mapping[str, Any]],
    enrich: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None,
) -> Landed:
    """Chain one request's events onto the org's head and land them as ``audit_events`` rows.

    ``enrich(accepted_event) -> geo dict | None`` adds derived fields before hashing.
    """
    geos = [enrich(event) if enrich else None for event in accepted]
    for _attempt in range(MAX_ATTEMPTS):
        if chain.processed(org_id, request_id):
            head = chain.head(org_id)
            return Landed(True, head, head, [], [])
        start = chain.head(org_id)
        docs = [rows.document(event, 0, geo) for event, geo in zip(accepted, geos, strict=True)]
        linked = link_batch(start, docs)
        prevs = [start.hash, *linked.hashes[:-1]]
        lake_rows = [
            rows.to_row(doc, int(event["received_us"]), int(event["occurred_at_us"]), prev, hash_)
            for doc, event, prev, hash_ in zip(linked.documents, accepted, prevs, linked.hashes, strict=True)
        ]
        span = (min(r["_timestamp"] for r in lake_rows), max(r["_timestamp"] for r in lake_rows))
        ndjson = b"\n".join(orjson.dumps(r) for r in lake_rows) + b"\n"
        # The file is named by the first sequence number too: a delivery that lost the race
        # never overwrites a committed file with differently numbered rows.
        file_id = f"{request_id}-s{start.seq + 1}"
        try:
            result = lake.append_batch(
                org_id, rows.STREAM, file_id, ndjson, guards=chain.guards(org_id, request_id, linked, span)
            )
        except GuardFailed:
            continue  # the head moved, or this request was landed meanwhile: look again
        evaluate_landed(lake.table, org_id, rows.STREAM, result.landed)  # realtime alert rules on audit_events
        return Landed(False, start, linked.end, linked.documents, linked.hashes)
    raise RuntimeError(f"the event chain of org {org_id} kept moving; this delivery will be retried")
