"""The alert history of an org, newest first: every evaluation that changed an alert's state,
every notification muted by a silence, and every delivery attempt with its outcome.

Entries expire after ``alert_history_days``. Each is also listed under its rule (gsi1), so
one rule's history pages as quickly as the org's.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from molesignal.clock import iso, now_s, now_us
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Item, Table


class EntryType(StrEnum):
    TRANSITION = "transition"  # an alert changed state
    SILENCED = "silenced"  # a notification a silence muted
    DELIVERY = "delivery"  # one attempt to deliver a notification to one destination
    DEAD_LETTER = "dead_letter"  # the last attempt failed: the delivery went to the DLQ
    REDRIVE = "redrive"  # an admin sent dead deliveries back for another round


# Fields an entry may carry besides its type, source and time (plain values only).
_FIELDS = (
    "fingerprint",
    "labels",
    "from_state",
    "to_state",
    "value",
    "reason",
    "notification_id",
    "notification_status",
    "destination_id",
    "destination_type",
    "attempt",
    "outcome",
    "status_code",
    "detail",
    "silence_id",
)


def record(
    table: Table, org_id: str, entry_type: EntryType, *, source_id: str, source_name: str = "", **fields: Any
) -> str:
    ts = now_us()
    entry_id = f"{ts:016d}-{secrets.token_hex(4)}"
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown history fields {sorted(unknown)}")
    table.put(
        {
            "pk": keys.alert_history(org_id),
            "sk": entry_id,
            "gsi1pk": keys.alert_history_of(org_id, source_id),
            "gsi1sk": entry_id,
            "kind": "alert_history",
            "id": entry_id,
            "ts_us": ts,
            "type": entry_type.value,
            "source_id": source_id,
            "source_name": source_name,
            **{k: v for k, v in fields.items() if v is not None},
            "expires_at": now_s() + get_settings().alert_history_days * 86400,
        }
    )
    return entry_id


def public(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item["id"],
        "time": iso(int(item["ts_us"])),
        "ts_us": int(item["ts_us"]),
        "type": item["type"],
        "rule_id": item.get("source_id", ""),
        "rule_name": item.get("source_name", ""),
    }
    for name in _FIELDS:
        out[name] = item.get(name)
    return out


def list_entries(
    table: Table, org_id: str, *, rule_id: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    if rule_id:
        items, next_cursor = table.query(
            keys.alert_history_of(org_id, rule_id), index="gsi1", limit=limit, cursor=cursor, forward=False
        )
    else:
        items, next_cursor = table.query(keys.alert_history(org_id), limit=limit, cursor=cursor, forward=False)
    return [public(i) for i in items], next_cursor
