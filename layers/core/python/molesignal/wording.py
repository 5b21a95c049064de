"""Small helpers for messages people read."""

from __future__ import annotations


def a_or_an(word: str) -> str:
    """``'an ingest'``, ``'an editor'``, ``'a viewer'``: the article for a role or kind name."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
