"""The hash chain's arithmetic, shared by the worker, the verifier and the offline checker.

An event's *digest* is SHA-256 over its RFC 8785 (JCS) canonical JSON — the event as the
API shows it, without ``hash`` and ``prev_hash``. Its chain *hash* is
SHA-256(previous hash ‖ digest) over the raw 32-byte values; the first event of an org
links to 32 zero bytes. A proof from an event to a signed checkpoint is therefore the
digests of the events after it, up to the checkpoint's sequence number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import rfc8785

GENESIS = "0" * 64
UNHASHED = ("hash", "prev_hash")


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return bytes(rfc8785.dumps({k: v for k, v in document.items() if k not in UNHASHED}))


def digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def link(prev_hash: str, event_digest: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + bytes.fromhex(event_digest)).hexdigest()


def fold(start_hash: str, digests: Iterable[str]) -> str:
    """The chain hash after linking ``digests`` onto ``start_hash`` in order."""
    current = start_hash
    for value in digests:
        current = link(current, value)
    return current
