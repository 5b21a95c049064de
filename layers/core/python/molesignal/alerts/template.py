"""Message templates: ``{{ name }}`` placeholders filled from the alert.

Deliberately tiny (no expressions, loops or filters): the text is a tenant's and is rendered
by MoleSignal, so it may only insert values. Names are the alert's labels, ``rule``,
``severity``, ``status``, ``value``, ``threshold``, ``count``, ``stream``, and the fields of
the row that triggered a realtime alert (or the result row of a scheduled one), also as
``row.<field>``. An unknown name renders as nothing.
"""

from __future__ import annotations

import re
from typing import Any

MAX_TEMPLATE_CHARS = 2000
MAX_RENDERED_CHARS = 4000
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]{0,127})\s*\}\}")


def render(template: str, values: dict[str, Any]) -> str:
    def fill(found: re.Match[str]) -> str:
        value = values.get(found.group(1))
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)

    return _PLACEHOLDER.sub(fill, template)[:MAX_RENDERED_CHARS]


def context(*, labels: dict[str, str], sample: dict[str, Any] | None, base: dict[str, Any]) -> dict[str, Any]:
    """The names a template can use: row fields, then labels, then the alert's own (winning)."""
    values: dict[str, Any] = {}
    for name, value in (sample or {}).items():
        values[name] = value
        values[f"row.{name}"] = value
    values.update(labels)
    values.update({f"labels.{k}": v for k, v in labels.items()})
    values.update(base)
    return values
