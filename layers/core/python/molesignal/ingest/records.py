"""A native JSON/NDJSON body as raw records, one by one (the record path; ``columnar`` is
the column-wise one): a JSON array, or NDJSON whose malformed lines become placeholders."""

from __future__ import annotations

from typing import Any

import orjson

from molesignal.errors import Invalid
from molesignal.ingest import exact_json


def parse_json_records(body: bytes) -> list[tuple[int, Any]]:
    """A JSON array or NDJSON; a malformed NDJSON line becomes ``MALFORMED``."""
    text = body.strip()
    if not text:
        raise Invalid("invalid argument: request body is required", code="empty_body")
    if text[:1] == b"[":
        try:
            records = exact_json.loads(text)
        except orjson.JSONDecodeError as exc:
            raise Invalid(f"invalid argument: body is not a valid JSON array ({exc})", code="malformed_json") from exc
        return list(enumerate(records))
    # One look at the whole body: without a wide integer anywhere, no line needs exact_json's check.
    loads = exact_json.loads if exact_json.may_hold_wide_integer(text) else orjson.loads
    out: list[tuple[int, Any]] = []
    for index, line in enumerate(text.split(b"\n")):
        if not line.strip():
            continue
        try:
            out.append((index, loads(line)))
        except orjson.JSONDecodeError:
            out.append((index, MALFORMED))
    return out


class _Malformed:
    """Stands for an NDJSON line that is not JSON; ``normalize`` rejects it like any non-object."""

    def __repr__(self) -> str:
        return "malformed JSON"


MALFORMED = _Malformed()
