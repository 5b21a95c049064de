"""An event as a lake row of the ``audit_events`` stream, and back as the API shows it.

The row is flat so SQL can filter it (``actor_id``, ``action``, ``occurred_at_us``); nested
parts are kept as JSON text. ``_timestamp`` is the receive time the event id carries, so
a row is found from its id and one request's events land in one hour partition.
``document`` rebuilds exactly the object that was hashed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from molesignal.events.model import iso_us

STREAM = "audit_events"
TARGET_ID_SEPARATOR = "\x1f"  # ids may not hold control characters (model.py)


def document(accepted: Mapping[str, Any], seq: int, geo: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The public event (without hashes) built from what the intake queued."""
    context = dict(accepted["context"])
    if geo:
        context["geo"] = dict(geo)
    return {
        "id": accepted["id"],
        "seq": seq,
        "action": accepted["action"],
        "occurred_at": iso_us(int(accepted["occurred_at_us"])),
        "received_at": iso_us(int(accepted["received_us"])),
        "actor": accepted["actor"],
        "targets": accepted["targets"],
        "context": context,
        "metadata": accepted.get("metadata") or {},
        "version": int(accepted["version"]),
    }


def to_row(doc: Mapping[str, Any], received_us: int, occurred_at_us: int, prev_hash: str, hash_: str) -> dict[str, Any]:
    actor = doc["actor"]
    context = doc["context"]
    targets = doc["targets"]
    geo = context.get("geo") or {}
    return {
        "_timestamp": received_us,
        "id": doc["id"],
        "seq": doc["seq"],
        "action": doc["action"],
        "occurred_at_us": occurred_at_us,
        "actor_id": actor["id"],
        "actor_type": actor["type"],
        "actor_name": actor.get("name"),
        "actor_metadata": _json(actor.get("metadata")),
        "targets": orjson.dumps(targets).decode(),
        # Delimited on both sides so one SQL ``contains`` matches a whole id only.
        "target_ids": TARGET_ID_SEPARATOR + "".join(t["id"] + TARGET_ID_SEPARATOR for t in targets),
        "target_types": ",".join(sorted({t["type"] for t in targets})),
        "context_location": context["location"],
        "context_user_agent": context.get("user_agent"),
        "geo": _json(geo) if geo else None,
        "geo_country": geo.get("country"),
        "geo_scope": geo.get("scope"),
        "metadata": orjson.dumps(doc["metadata"]).decode(),
        "version": doc["version"],
        "prev_hash": prev_hash,
        "hash": hash_,
    }


def _json(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value else None


def from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public event (with ``prev_hash`` and ``hash``) from a lake row."""
    actor: dict[str, Any] = {"id": row["actor_id"], "type": row["actor_type"]}
    if row.get("actor_name") is not None:
        actor["name"] = row["actor_name"]
    if row.get("actor_metadata"):
        actor["metadata"] = orjson.loads(row["actor_metadata"])
    context: dict[str, Any] = {"location": row["context_location"]}
    if row.get("context_user_agent") is not None:
        context["user_agent"] = row["context_user_agent"]
    if row.get("geo"):
        context["geo"] = orjson.loads(row["geo"])
    return {
        "id": row["id"],
        "seq": int(row["seq"]),
        "action": row["action"],
        "occurred_at": iso_us(int(row["occurred_at_us"])),
        "received_at": iso_us(int(row["_timestamp"])),
        "actor": actor,
        "targets": orjson.loads(row["targets"]),
        "context": context,
        "metadata": orjson.loads(row["metadata"]) if row.get("metadata") else {},
        "version": int(row["version"]),
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }
