"""Pins and share links.

Pinning keeps a trace where it is: its objects get the pinned tag, which no lifecycle rule
matches, and the tiering job skips it. A blob several traces list carries a pin count
(``TRACEBLOB#<org>#<sha>``), so it stays pinned while any pinned trace lists it.

A share opens ``/r/<short_id>`` (the console's viewer, which reads ``/v1/shares/<short_id>``):
``org-only`` to signed-in members of the trace's org, ``public-read`` to anyone until
``expires_days`` have passed. Members of the org may open the viewer of any of its traces,
shared or not, expired or not. Anyone else learns nothing a wrong guess would not tell them:
an unshared trace, an org-only share and a malformed id all answer the same 404; only an
expired public link says it has expired (410), since its holder was once shown the trace
(docs/adr/0026-share-viewer-in-the-console.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from molesignal.auth.principal import Principal, Role
from molesignal.clock import now_us
from molesignal.errors import Gone, NotFound
from molesignal.storage.table import Item
from molesignal.traces.blobs import blob_key
from molesignal.traces.service import READ_ROLES, WRITE_ROLES, TraceService

VISIBILITIES = ("org-only", "public-read")
# Wider than the ids minted today (9 of an unambiguous base-57 alphabet), so older or longer
# ids keep opening; anything else cannot name a share and is not looked up.
_SHORT_ID = re.compile(r"[A-Za-z0-9]{1,32}")


class ShareExpired(Gone):
    code = "share_expired"


def _pin_count_key(org_id: str, sha: str) -> tuple[str, str]:
    return f"TRACEBLOB#{org_id}#{sha}", "PINS"


@dataclass
class Sharing:
    service: TraceService

    def set_pinned(self, principal: Principal, trace_id: str, pinned: bool) -> Item:
        item = self.service.trace(principal, trace_id, WRITE_ROLES)
        flipped = False

        def change(current: Item) -> dict[str, Any]:
            nonlocal flipped
            flipped = bool(current.get("pinned")) != pinned
            return {"pinned": pinned} if flipped else {}

        updated = self.service.repo.update(item["trace_id"], change)
        if flipped:
            self._tag_objects(updated, pinned)
        return updated

    def _tag_objects(self, item: Item, pinned: bool) -> None:
        blobs = self.service.blobs
        table = self.service.table
        for sha in item.get("blobs") or {}:
            pk, sk = _pin_count_key(item["org_id"], sha)
            count = int(table.update(pk, sk, "ADD pins :d", values={":d": 1 if pinned else -1})["pins"])
            if (pinned and count == 1) or (not pinned and count <= 0):
                blobs.set_pinned(blob_key(item["org_id"], sha), pinned)
        for chunk in self.service.log.chunks(f"TRACE#{item['trace_id']}"):
            blobs.set_pinned(chunk["key"], pinned)

    def share(self, principal: Principal, trace_id: str, visibility: str, expires_days: int | None) -> Item:
        self.service.trace(principal, trace_id, WRITE_ROLES)
        expires = now_us() + expires_days * 86_400_000_000 if expires_days is not None else None
        return self.service.repo.update(
            trace_id,
            lambda _: {
                "share_visibility": visibility,
                "share_expires_at_us": expires,
                "shared_by": principal.actor,
                "shared_at_us": now_us(),
            },
        )

    def unshare(self, principal: Principal, trace_id: str) -> Item:
        """Revoke the trace's share: its link answers as if it had never been shared."""
        self.service.trace(principal, trace_id, WRITE_ROLES)
        return self.service.repo.update(
            trace_id,
            lambda _: {"share_visibility": None, "share_expires_at_us": None, "shared_by": None, "shared_at_us": None},
        )

    def open_shared(self, short_id: str, principal: Principal | None) -> Item:
        """The trace behind a share link, if this caller may see it now."""
        item = self.service.repo.by_short_id(short_id) if _SHORT_ID.fullmatch(short_id) else None
        if item is None:
            raise _not_shared()
        if is_member(principal, item):
            return item
        if item.get("share_visibility") != "public-read":
            raise _not_shared()  # unshared, or org-only: the same answer as an unknown id
        expires = item.get("share_expires_at_us")
        if expires is not None and now_us() >= int(expires):
            raise ShareExpired("gone: this share link has expired")
        return item


def is_member(principal: Principal | None, item: Item) -> bool:
    """Whether the caller may read the trace's org's traces (root may read every org's): such
    a member sees its traces unshared. An ingest-only token of the org is not one."""
    if principal is None:
        return False
    in_org = principal.role is Role.ROOT or principal.org_id == item["org_id"]
    return in_org and any(principal.holds(role) for role in READ_ROLES)


def _not_shared() -> NotFound:
    return NotFound("not found: no trace is shared with you under this link", code="share_not_found")
