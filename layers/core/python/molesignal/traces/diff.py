"""Comparing two traces of a scenario (``GET /v1/traces/diff``), along one dimension.

Each dimension turns a trace into an ordered list of items, each with a ``key`` (what the
item is) and a ``value`` (what it showed); the two lists are aligned on their keys
(``difflib.SequenceMatcher``). Keys only in ``b`` are ``added``, only in ``a`` ``removed``;
aligned items whose values differ are ``changed``. ``first_divergence`` is the first place,
in order, where the two runs stop agreeing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from difflib import SequenceMatcher
from typing import Any

import orjson

from molesignal.storage.table import Item
from molesignal.traces.digest import Digest, step_title

DIMENSIONS = ("overview", "steps", "network", "dom", "clone", "console")
_OVERVIEW_FIELDS = ("status", "duration_ms", "failure_signature", "code_sha", "step_count", "event_count")
_MAX_ITEMS = 500  # per list in an answer


_ORIGIN = re.compile(r"\bhttps?://[^/\s\"']+")


def _without_origins(text: str) -> str:
    """Two runs against different hosts or ports (a preview deploy, a local server) are
    the same scenario: steps compare without the origin of the URLs they name."""
    return _ORIGIN.sub("", text)


def _url_path(url: Any) -> str:
    text = str(url or "")
    return text.split("://", 1)[-1].split("/", 1)[-1].split("#", 1)[0] if "://" in text else text


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _occurrence(keys: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Number repeated keys (the 2nd GET /x is not the 1st)."""
    seen: Counter[tuple[Any, ...]] = Counter()
    out = []
    for key in keys:
        seen[key] += 1
        out.append((*key, seen[key]))
    return out


def _items(dimension: str, events: Digest) -> list[dict[str, Any]]:
    if dimension == "steps":
        return [
            {
                "key": (s["kind"], _without_origins(step_title(s))),
                "value": {"ok": s.get("ok"), "message": s.get("message") if s.get("ok") is False else None},
                "step": s["index"],
                "title": step_title(s),
            }
            for s in events.steps
        ]
    if dimension == "network":
        responses = [e for e in events.network if e["kind"] == "network.response"]
        keys = _occurrence([(e.get("method"), _url_path(e.get("url"))) for e in responses])
        return [
            {
                "key": key,
                "value": {"status": e.get("status"), "ok": e.get("ok")},
                "step": events.index_of(e),
                "url": e.get("url"),
            }
            for key, e in zip(keys, responses, strict=True)
        ]
    if dimension == "console":
        console = events.console + events.errors
        keys = _occurrence([(str(e.get("level") or e["kind"]), str(e.get("message"))) for e in console])
        return [
            {"key": key, "value": None, "step": events.index_of(e), "message": e.get("message")}
            for key, e in zip(keys, console, strict=True)
        ]
    source = events.dom if dimension == "dom" else events.clone
    keys = _occurrence([(events.index_of(e),) for e in source])
    return [
        {
            "key": key,
            "value": _fingerprint({k: v for k, v in e.items() if k not in ("seq", "ts")}),
            "step": events.index_of(e),
        }
        for key, e in zip(keys, source, strict=True)
    ]


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in item.items()}


def compare(
    dimension: str, a: Item, b: Item, events_a: Digest, events_b: Digest, counts: tuple[int, int]
) -> dict[str, Any]:
    if dimension == "overview":
        return _overview(a, b, events_a, events_b, counts)
    left, right = _items(dimension, events_a), _items(dimension, events_b)
    matcher = SequenceMatcher(a=[i["key"] for i in left], b=[i["key"] for i in right], autojunk=False)
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k, (x, y) in enumerate(zip(left[i1:i2], right[j1:j2], strict=True)):
                if x["value"] != y["value"]:
                    entry = {"key": list(x["key"]), "a": _public(x), "b": _public(y)}
                    changed.append(entry)
                    first = first or {"kind": "changed", "a_index": i1 + k, "b_index": j1 + k, **entry}
            continue
        gone, new = left[i1:i2], right[j1:j2]
        removed.extend(_public(x) for x in gone)
        added.extend(_public(y) for y in new)
        if first is None:
            first = {
                "kind": tag,
                "a_index": i1,
                "b_index": j1,
                "a": _public(gone[0]) if gone else None,
                "b": _public(new[0]) if new else None,
            }
    return {
        "first_divergence": first,
        "added": added[:_MAX_ITEMS],
        "removed": removed[:_MAX_ITEMS],
        "changed": changed[:_MAX_ITEMS],
        "summary": {
            "a_items": len(left),
            "b_items": len(right),
            "added": len(added),
            "removed": len(removed),
            "changed": len(changed),
            "identical": first is None,
        },
    }


def _overview(a: Item, b: Item, events_a: Digest, events_b: Digest, counts: tuple[int, int]) -> dict[str, Any]:
    def facts(item: Item, events: Digest, count: int) -> dict[str, Any]:
        return {**{f: item.get(f) for f in _OVERVIEW_FIELDS}, "step_count": len(events.steps), "event_count": count}

    left, right = facts(a, events_a, counts[0]), facts(b, events_b, counts[1])
    changed = [{"field": f, "a": left[f], "b": right[f]} for f in _OVERVIEW_FIELDS if left[f] != right[f]]
    steps = compare("steps", a, b, events_a, events_b, counts)
    return {
        "first_divergence": steps["first_divergence"],
        "added": [],
        "removed": [],
        "changed": changed,
        "summary": {"a": left, "b": right, "steps": steps["summary"]},
    }
