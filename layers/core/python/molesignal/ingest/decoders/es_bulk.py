"""Elasticsearch ``_bulk`` request bodies → one :class:`BulkItem` per action.

The body is NDJSON: an action/metadata line (``{"index": {"_index": "logs", "_id": "1"}}``)
followed, for every action but ``delete``, by a source line. What Elasticsearch does, and so
what this parser does:

* ``index`` and ``create`` are stored. ``update`` (which has a source line) and ``delete``
  (which has none) are read so that the items after them stay aligned, and come back as items
  with an ``illegal_argument_exception`` error: MoleSignal is append-only.
* An action without ``_index`` when the URL named no default index gets the item error
  ``action_request_validation_exception`` / ``index is missing``.
* A source line that is not a JSON object fails only its own item
  (``document_parsing_exception`` / ``failed to parse: ...``); parsing continues.
* A malformed action line fails the whole request, as Elasticsearch does
  (``Malformed action/metadata line [N] ...``, N counting every line from 1): raised as
  :class:`~molesignal.errors.Invalid` whose ``code`` is Elasticsearch's error type.

Lenient where Elasticsearch is strict: blank lines are skipped, ``\\r\\n`` line ends are fine,
the final newline may be missing, and metadata keys other than ``_index``/``_id`` (``routing``,
``pipeline``, ``if_seq_no``, ...) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from molesignal.errors import Invalid
from molesignal.ingest import exact_json

# Action → whether a source line follows it.
_ACTIONS = {"index": True, "create": True, "update": True, "delete": False}
_SUPPORTED = frozenset({"index", "create"})
MAX_ID_BYTES = 512  # Elasticsearch's limit on _id
_NO_INDEX = "Validation Failed: 1: index is missing;"


@dataclass(slots=True)
class BulkError:
    type: str
    reason: str
    status: int = 400


@dataclass(slots=True)
class BulkItem:
    action: str
    index: str | None
    doc_id: str | None
    document: dict[str, Any] | None
    error: BulkError | None = None


def _malformed(lineno: int, detail: str, code: str = "illegal_argument_exception") -> Invalid:
    return Invalid(f"invalid argument: Malformed action/metadata line [{lineno}], {detail}", code=code)


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"


def _metadata_text(meta: dict[str, Any], key: str, lineno: int) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # Elasticsearch reads scalars as text: {"_id": 5} is id "5"
    raise _malformed(lineno, f"[{key}] must be a string but found [{_json_kind(value)}]")


def _malformed_action(line: bytes, lineno: int) -> Invalid:
    """The error for an action line that failed the fast checks in _action."""
    try:
        parsed = orjson.loads(line)
    except ValueError as exc:  # orjson.JSONDecodeError
        return _malformed(lineno, f"not valid JSON: {exc}", code="x_content_parse_exception")
    if not isinstance(parsed, dict):
        return _malformed(lineno, f"expected START_OBJECT but found [{_json_kind(parsed)}]")
    if len(parsed) != 1:
        found = "END_OBJECT" if not parsed else "FIELD_NAME"
        return _malformed(lineno, f"expected exactly one action field but found [{found}]")
    ((action, meta),) = parsed.items()
    if action not in _ACTIONS:
        return _malformed(lineno, f"expected field [create], [delete], [index] or [update] but found [{action}]")
    return _malformed(lineno, f"expected START_OBJECT but found [{_json_kind(meta)}]")


def _action(line: bytes, lineno: int) -> tuple[str, str | None, str | None, bool]:
    """(action, _index, _id, whether a source line follows) of an action line; Invalid if malformed."""
    try:
        parsed = orjson.loads(line)
    except ValueError:  # orjson.JSONDecodeError
        parsed = None
    if type(parsed) is not dict or len(parsed) != 1:
        raise _malformed_action(line, lineno)
    ((action, meta),) = parsed.items()
    with_source = _ACTIONS.get(action)
    if with_source is None or type(meta) is not dict:
        raise _malformed_action(line, lineno)
    index = meta.get("_index")
    if type(index) is not str:
        index = _metadata_text(meta, "_index", lineno)
    doc_id = meta.get("_id")
    if doc_id is not None and type(doc_id) is not str:
        doc_id = _metadata_text(meta, "_id", lineno)
    return action, index, doc_id, with_source


def _item_error(action: str, index: str | None, doc_id: str | None) -> BulkError | None:
    """Why this action cannot be stored, before its source is even read; None if it can."""
    if action not in _SUPPORTED:
        return BulkError("illegal_argument_exception", f"action [{action}] is not supported by MoleSignal")
    if index is None:
        return BulkError("action_request_validation_exception", _NO_INDEX)
    if doc_id is not None and (not doc_id or (len(doc_id) > MAX_ID_BYTES // 4 and len(doc_id.encode()) > MAX_ID_BYTES)):
        reason = (
            "if _id is specified it must not be empty"
            if not doc_id
            else f"id [{doc_id[:32]}...] is too long, must be no longer than {MAX_ID_BYTES} bytes"
        )
        return BulkError("action_request_validation_exception", reason)
    return None


def parse_bulk(body: bytes, default_index: str | None) -> list[BulkItem]:
    """Parse a ``_bulk`` body; ``default_index`` is the ``{index}`` of ``/{index}/_bulk``, if any.

    Raises Invalid for an empty body or a malformed action line; every other problem is an
    error on its own item.
    """
    if not body or body.isspace():
        raise Invalid("invalid argument: request body is required", code="parse_exception")
    default_index = default_index or None
    loads = exact_json.loads if exact_json.may_hold_wide_integer(body) else orjson.loads
    lines = body.split(b"\n")
    count = len(lines)
    items: list[BulkItem] = []
    append = items.append
    i = 0
    while i < count:
        line = lines[i]
        i += 1
        if not line or line.isspace():
            continue
        lineno = i
        action, index, doc_id, with_source = _action(line, lineno)
        index = index or default_index
        source = b""
        if with_source:
            while i < count and (not lines[i] or lines[i].isspace()):
                i += 1
            if i == count:
                raise _malformed(lineno, f"the [{action}] action has no source line")
            source = lines[i]
            i += 1
        error = _item_error(action, index, doc_id)
        if error is None:
            try:
                document = loads(source)
            except ValueError as exc:  # orjson.JSONDecodeError
                error = BulkError("document_parsing_exception", f"failed to parse: line [{i}]: {exc}")
            else:
                if type(document) is dict:
                    append(BulkItem(action, index, doc_id, document))
                    continue
                error = BulkError(
                    "document_parsing_exception",
                    f"failed to parse: line [{i}]: the document must be a JSON object, not [{_json_kind(document)}]",
                )
        append(BulkItem(action, index, doc_id, None, error))
    return items
