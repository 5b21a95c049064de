"""Accepting events: ids are issued before anything else, the batch is queued, 202.

An ``Idempotency-Key`` is recorded (with the request's fingerprint and its ids) before the
batch is queued. A retry with the same key and body gets the same ids; if the first attempt
never confirmed that it queued the batch, the retry queues it again under the same
deduplication id, so the batch is chained once either way. The same key with another body
is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal.auth.principal import Principal
from molesignal.clock import now_s
from molesignal.errors import Conflict, Invalid
from molesignal.events import message as queue
from molesignal.events.ids import new_ids
from molesignal.events.model import EventIn, accepted
from molesignal.ingest.service import admit_writer
from molesignal.quotas import Limiter
from molesignal.storage.table import ConditionFailed, Item, Table

IDEMPOTENCY_TTL_S = 24 * 3600
MAX_IDEMPOTENCY_KEY = 255


def idempotency_key(org_id: str, key: str) -> tuple[str, str]:
    return f"ORG#{org_id}#IDEMPOTENCY", key


@dataclass(frozen=True)
class Accepted:
    ids: list[str]
    request_id: str
    replayed: bool


def fingerprint(events: list[EventIn]) -> str:
    canonical = orjson.dumps([e.model_dump(mode="json") for e in events], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class EventIntake:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    def admit(self, principal: Principal) -> None:
        """The writers of telemetry may record events; the plan limit is the family's middleware."""
        admit_writer(self.table, principal)

    def accept(self, principal: Principal, events: list[EventIn], key: str | None) -> Accepted:
        org_id = principal.org_id
        issued = new_ids(len(events))
        request_id = f"ev-{issued[0][0]}"
        record: Item | None = None
        if key is not None:
            if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
                raise Invalid(
                    f"invalid argument: Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters",
                    code="invalid_idempotency_key",
                )
            record = self._claim(org_id, key, fingerprint(events), issued, request_id)
            if record.get("state") == "queued":
                return Accepted(list(record["ids"]), str(record["request_id"]), replayed=True)
            issued = [(i, int(t)) for i, t in zip(record["ids"], record["received_us"], strict=True)]
            request_id = str(record["request_id"])
        documents = [accepted(event, i, received) for event, (i, received) in zip(events, issued, strict=True)]
        body = queue.build(request_id, org_id, documents)
        Limiter(self.table).check_storage(org_id, len(body.to_json()), actor=principal.actor)
        queue.send(body)
        if key is not None:
            pk, sk = idempotency_key(org_id, key)
            self.table.update(pk, sk, "SET #s = :queued", names={"#s": "state"}, values={":queued": "queued"})
        return Accepted([i for i, _ in issued], request_id, replayed=bool(record and record.get("replayed")))

    def _claim(
        self, org_id: str, key: str, request_hash: str, issued: list[tuple[str, int]], request_id: str
    ) -> dict[str, Any]:
        pk, sk = idempotency_key(org_id, key)
        item = {
            "pk": pk,
            "sk": sk,
            "kind": "idempotency",
            "request_hash": request_hash,
            "request_id": request_id,
            "ids": [i for i, _ in issued],
            "received_us": [t for _, t in issued],
            "state": "pending",
            "expires_at": now_s() + IDEMPOTENCY_TTL_S,
        }
        try:
            # DynamoDB's TTL deletes late: a record past its expiry counts as absent.
            self.table.put(item, condition="attribute_not_exists(pk) OR expires_at < :now", values={":now": now_s()})
            return item
        except ConditionFailed:
            pass
        existing = self.table.get(pk, sk) or {}
        if existing.get("request_hash") != request_hash:
            raise Conflict(
                "conflict: this Idempotency-Key was used with a different request body",
                code="idempotency_key_reused",
            )
        return {**existing, "replayed": True}
