"""Spec 001's cursors: URL-safe base64 of the µs position of the last item on a page.

A cursor also carries a tag of the org and of the listing's filters, so one handed to
another org or to another query is refused (400 ``invalid_cursor``) rather than silently
positioning a different listing. It never widens what a caller can see: every listing is
confined to the caller's org whatever the cursor says.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal.errors import Invalid


def _tag(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@dataclass(frozen=True)
class Position:
    at_us: int  # the µs timestamp of the last item shown
    tiebreak: str  # its id (items sharing a µs are ordered by id)


def encode(position: Position, org_id: str, listing: Mapping[str, Any]) -> str:
    body = {"v": 1, "t": position.at_us, "k": position.tiebreak, "o": _tag(org_id), "q": _tag(dict(listing))}
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode(cursor: str, org_id: str, listing: Mapping[str, Any]) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = orjson.loads(raw)
        position = Position(int(body["t"]), str(body["k"]))
        ok = body.get("v") == 1 and isinstance(body["t"], int) and isinstance(body["k"], str)
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise Invalid("invalid argument: cursor is malformed", code="invalid_cursor") from exc
    if not ok:
        raise Invalid("invalid argument: cursor is malformed", code="invalid_cursor")
    if body.get("o") != _tag(org_id) or body.get("q") != _tag(dict(listing)):
        raise Invalid("invalid argument: cursor does not belong to this listing", code="invalid_cursor")
    return position
