"""The family's list shape for short lists read whole (an org's log streams, export schedules):
``{data, has_more, next_cursor?, total}`` with a cursor bound to the org and the listing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from molesignal.events import cursor as cursors

T = TypeVar("T")


def page_of(
    items: Sequence[T],
    *,
    org_id: str,
    listing: dict[str, Any],
    cursor: str | None,
    limit: int,
    id_of: Callable[[T], str],
    created_us_of: Callable[[T], int],
    public: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``items`` (oldest first) after the item the cursor names."""
    start = 0
    if cursor:
        after = cursors.decode(cursor, org_id, listing).tiebreak
        start = next((i + 1 for i, item in enumerate(items) if id_of(item) == after), len(items))
    shown = items[start : start + limit]
    body: dict[str, Any] = {
        "data": [public(item) for item in shown],
        "has_more": start + limit < len(items),
        "total": len(items),
    }
    if body["has_more"]:
        last = shown[-1]
        body["next_cursor"] = cursors.encode(cursors.Position(created_us_of(last), id_of(last)), org_id, listing)
    return body
