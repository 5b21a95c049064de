"""argon2id password hashing. The library is imported on first use, not at cold start."""

from __future__ import annotations

import threading
from typing import Any

_hasher: Any = None
_dummy_hash: str | None = None
_lock = threading.Lock()


def _get() -> Any:
    global _hasher, _dummy_hash
    if _hasher is None:
        with _lock:
            if _hasher is None:
                from argon2 import PasswordHasher

                hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
                _dummy_hash = hasher.hash("molesignal-timing-equaliser")
                _hasher = hasher
    return _hasher


def hash_password(password: str) -> str:
    return str(_get().hash(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; an unknown user still costs one verification (no timing oracle)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _get()
    try:
        return bool(hasher.verify(stored_hash or _dummy_hash, password)) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
