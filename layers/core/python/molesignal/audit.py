"""The audit log of admin and security actions, one partition per org, newest first."""

from __future__ import annotations

import secrets
from typing import Any

from molesignal.auth.principal import Principal
from molesignal.clock import iso, now_us
from molesignal.storage import keys
from molesignal.storage.table import Item, Table


def record(
    table: Table,
    *,
    org_id: str,
    action: str,
    actor: str,
    target: str = "",
    outcome: str = "success",
    source_ip: str = "",
    details: dict[str, Any] | None = None,
) -> str:
    ts = now_us()
    entry_id = f"{ts:016d}-{secrets.token_hex(4)}"
    table.put(
        {
            "pk": keys.audit_partition(org_id),
            "sk": entry_id,
            "kind": "audit",
            "id": entry_id,
            "org_id": org_id,
            "ts_us": ts,
            "action": action,
            "actor": actor,
            "target": target,
            "outcome": outcome,
            "source_ip": source_ip,
            "details": details or {},
        }
    )
    return entry_id


def record_by(
    table: Table,
    principal: Principal,
    action: str,
    *,
    target: str = "",
    outcome: str = "success",
    source_ip: str = "",
    details: dict[str, Any] | None = None,
) -> str:
    """An entry for something the caller did in their own org."""
    return record(
        table,
        org_id=principal.org_id,
        action=action,
        actor=principal.actor,
        target=target,
        outcome=outcome,
        source_ip=source_ip,
        details=details,
    )


def public(item: Item) -> dict[str, Any]:
    return {
        "id": item["id"],
        "time": iso(int(item["ts_us"])),
        "ts_us": int(item["ts_us"]),
        "action": item["action"],
        "actor": item.get("actor", ""),
        "target": item.get("target", ""),
        "outcome": item.get("outcome", ""),
        "source_ip": item.get("source_ip", ""),
        "details": item.get("details", {}),
    }


def list_entries(
    table: Table, org_id: str, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    items, next_cursor = table.query(keys.audit_partition(org_id), limit=limit, cursor=cursor, forward=False)
    return [public(i) for i in items], next_cursor
