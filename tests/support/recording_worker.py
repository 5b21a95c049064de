"""A queue worker handler that records the bodies it was given (tests of the local pollers)."""

from __future__ import annotations

from typing import Any

bodies: list[str] = []


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    bodies.extend(str(record["body"]) for record in event.get("Records") or [])
    return {"batchItemFailures": []}
