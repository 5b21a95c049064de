"""Trace metadata in the single table.

* ``TRACE#<id>`` / ``META``: the trace (cross-org lookups find it and answer 403, as spec
  003 asks), with ``version`` for optimistic updates;
* ``TRACE#<id>`` / ``COUNTERS``: event and chunk counters that live appends move with ``ADD``
  (kept apart so that a metadata update never overwrites them);
* ``TRACE#<id>`` / ``CHUNK#<n>``: the event log's index (``molesignal.traces.events``);
* ``TRACESHORT#<short_id>``: the short id, unique, pointing at the trace;
* listing items ``ORG#<org>#TRACES#<dimension>#<value>`` / ``<created µs>#<id>``: one per
  filterable dimension (all, status, source, scenario, signature, tier), each carrying the
  list projection. A listing queries the partition of its most selective filter, newest
  first, and applies the other filters in the query; every update rewrites the trace's
  listing items in the same transaction as the trace.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from molesignal.errors import Conflict, Invalid
from molesignal.storage.table import ConditionFailed, Filter, Item, Table, decode_cursor, encode_cursor

_SHORT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SHORT_ID_LENGTH = 9
# Most selective first: the listing reads the partition of the first filter given.
DIMENSIONS = ("signature", "scenario", "status", "tier", "source")
_DIMENSION_FIELDS = {
    "signature": "failure_signature",
    "scenario": "scenario_id",
    "status": "status",
    "tier": "tier",
    "source": "source",
}
LIST_FIELDS = (
    "trace_id",
    "org_id",
    "short_id",
    "scenario_id",
    "scenario_slug",
    "scenario_title",
    "status",
    "source",
    "tier",
    "pinned",
    "duration_ms",
    "code_sha",
    "pr_number",
    "failure_signature",
    "created_at_us",
    "tier_clock_us",
    "restore_status",
    "parent_trace_id",
    "search",
)
_UPDATE_ATTEMPTS = 5


def trace_key(trace_id: str) -> tuple[str, str]:
    return f"TRACE#{trace_id}", "META"


def counters_key(trace_id: str) -> tuple[str, str]:
    return f"TRACE#{trace_id}", "COUNTERS"


def short_key(short_id: str) -> tuple[str, str]:
    return f"TRACESHORT#{short_id}", "SHORT"


def listing_pk(org_id: str, dimension: str, value: Any = None) -> str:
    return f"ORG#{org_id}#TRACES#all" if dimension == "all" else f"ORG#{org_id}#TRACES#{dimension}#{value}"


def listing_sk(created_us: int, trace_id: str) -> str:
    return f"{created_us:016d}#{trace_id}"


def new_short_id() -> str:
    return "".join(secrets.choice(_SHORT_ALPHABET) for _ in range(SHORT_ID_LENGTH))


def listing_keys(item: Item) -> list[tuple[str, str]]:
    sk = listing_sk(int(item["created_at_us"]), item["trace_id"])
    keys = [(listing_pk(item["org_id"], "all"), sk)]
    for dimension, name in _DIMENSION_FIELDS.items():
        if item.get(name) not in (None, ""):
            keys.append((listing_pk(item["org_id"], dimension, item[name]), sk))
    return keys


def listing_item(item: Item, pk: str, sk: str) -> Item:
    return {"pk": pk, "sk": sk, "kind": "trace_listing", **{k: item[k] for k in LIST_FIELDS if k in item}}


@dataclass(frozen=True)
class ListQuery:
    org_id: str
    scenario_id: str | None = None
    status: str | None = None
    source: str | None = None
    signature: str | None = None
    tier: str | None = None
    q: str | None = None
    from_us: int | None = None
    to_us: int | None = None
    limit: int = 50
    cursor: str | None = None

    def values(self) -> dict[str, str | None]:
        return {
            "signature": self.signature,
            "scenario": self.scenario_id,
            "status": self.status,
            "tier": self.tier,
            "source": self.source,
        }


def _where(query: ListQuery, used: str | None) -> Filter | None:
    clauses: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for dimension, value in query.values().items():
        if value is None or dimension == used:
            continue
        field = _DIMENSION_FIELDS[dimension]
        clauses.append(f"#f_{dimension} = :v_{dimension}")
        names[f"#f_{dimension}"] = field
        values[f":v_{dimension}"] = value
    for i, token in enumerate((query.q or "").lower().split()[:8]):
        clauses.append(f"contains(#search, :q{i})")
        names["#search"] = "search"
        values[f":q{i}"] = token
    return Filter(" AND ".join(clauses), names, values) if clauses else None


@dataclass
class TraceRepository:
    table: Table

    def get(self, trace_id: str) -> Item | None:
        return self.table.get(*trace_key(trace_id))

    def counters(self, trace_id: str) -> Item:
        return self.table.get(*counters_key(trace_id)) or {}

    def by_short_id(self, short_id: str) -> Item | None:
        pointer = self.table.get(*short_key(short_id), consistent=False)
        return self.get(pointer["trace_id"]) if pointer else None

    def create(self, item: Item, *, event_count: int, chunk_count: int) -> Item:
        """Write a new trace, its short id, counters and listing items in one transaction."""
        for _ in range(3):
            item = {**item, "short_id": new_short_id(), "version": 1}
            pk, sk = trace_key(item["trace_id"])
            spk, ssk = short_key(item["short_id"])
            cpk, csk = counters_key(item["trace_id"])
            operations = [
                self.table.put_op({**item, "pk": pk, "sk": sk, "kind": "trace"}, condition="attribute_not_exists(pk)"),
                self.table.put_op(
                    {
                        "pk": spk,
                        "sk": ssk,
                        "kind": "trace_short",
                        "trace_id": item["trace_id"],
                        "org_id": item["org_id"],
                    },
                    condition="attribute_not_exists(pk)",
                ),
                self.table.put_op(
                    {
                        "pk": cpk,
                        "sk": csk,
                        "kind": "trace_counters",
                        "event_count": event_count,
                        "next_chunk": chunk_count,
                    }
                ),
                *(self.table.put_op(listing_item(item, lpk, lsk)) for lpk, lsk in listing_keys(item)),
            ]
            try:
                self.table.transact(operations)
            except ConditionFailed:
                continue  # the short id was taken (one in 56**9): draw another
            return {**item, "pk": pk, "sk": sk}
        raise Conflict("conflict: could not allocate a short id; try again")

    def update(self, trace_id: str, change: Any) -> Item:
        """Apply ``change(item) -> dict of new values`` (None deletes) and re-list the trace,
        retrying when another writer got there first."""
        for _ in range(_UPDATE_ATTEMPTS):
            current = self.get(trace_id)
            if current is None:
                raise Conflict(f"conflict: trace {trace_id} disappeared")
            values = change(current)
            if not values:
                return current
            updated = {k: v for k, v in {**current, **values}.items() if v is not None}
            updated["version"] = int(current.get("version", 0)) + 1
            old_keys, new_keys = set(listing_keys(current)), listing_keys(updated)
            operations = [
                self.table.put_op(updated, condition="version = :v", values={":v": current.get("version", 0)}),
                *(self.table.put_op(listing_item(updated, pk, sk)) for pk, sk in new_keys),
                *(
                    {"Delete": {"TableName": self.table.name, "Key": self.table.marshal({"pk": pk, "sk": sk})}}
                    for pk, sk in old_keys - set(new_keys)
                ),
            ]
            try:
                self.table.transact(operations)
            except ConditionFailed:
                continue
            return updated
        raise Conflict(f"conflict: trace {trace_id} kept changing; try again")

    def add_events(self, trace_id: str, events: int, chunks: int) -> tuple[int, int]:
        """Reserve chunk numbers and count events; returns (first chunk, event count before)."""
        pk, sk = counters_key(trace_id)
        item = self.table.update(
            pk,
            sk,
            "ADD next_chunk :c, event_count :e",
            values={":c": chunks, ":e": events},
            condition="attribute_exists(pk)",
        )
        return int(item["next_chunk"]) - chunks, int(item["event_count"]) - events

    def search(self, query: ListQuery) -> tuple[list[Item], str | None]:
        used = next((d for d, v in query.values().items() if v is not None), None)
        pk = listing_pk(query.org_id, "all") if used is None else listing_pk(query.org_id, used, query.values()[used])
        low = f"{query.from_us:016d}" if query.from_us is not None else "0"
        high = f"{query.to_us:016d}~" if query.to_us is not None else "9999999999999999~"
        where = _where(query, used)
        cursor = query.cursor
        if cursor is not None:
            start = decode_cursor(cursor)
            if start.get("pk") != {"S": pk}:
                raise Invalid("invalid argument: cursor does not belong to this listing (same filters, please)")
        found: list[Item] = []
        page_size = min(1000, max(query.limit * 4, 100)) if where else query.limit + 1
        while True:
            page, cursor = self.table.query(
                pk, sk_between=(low, high), forward=False, limit=page_size, cursor=cursor, where=where
            )
            found.extend(page)
            if len(found) > query.limit or cursor is None:
                break
        if len(found) > query.limit:
            found = found[: query.limit]
            last = found[-1]
            return found, encode_cursor({"pk": {"S": last["pk"]}, "sk": {"S": last["sk"]}})
        return found, None

    def listing(self, org_id: str, dimension: str, value: str, *, before_us: int) -> Iterator[Item]:
        """Every listing item of one dimension value created before ``before_us`` (oldest first)."""
        pk = listing_pk(org_id, dimension, value)
        cursor = None
        while True:
            page, cursor = self.table.query(pk, sk_between=("0", f"{before_us:016d}"), cursor=cursor)
            yield from page
            if cursor is None:
                return
