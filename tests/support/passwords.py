"""argon2id as the product runs it, remembering each answer for the rest of the test process.

Every login verifies a password with argon2id (64 MiB, 3 passes: about 0.2 s of CPU here),
and the suite logs in and creates users thousands of times with a handful of passwords:
that was over half the CPU of the SQL test modules. The hash and the verdict for a given
input never change, so the first computation of each is real (the same library, the same
parameters) and repeats are answered from memory. Only the in-process local system is
affected; ``python -m molesignal dev`` subprocesses (durability, browser) hash for real.

What a test can observe stays the same except timing: two users with the same password now
share one salted hash, which no test looks at.
"""

from __future__ import annotations

import threading
from typing import Any


class RememberingHasher:
    """Wraps an ``argon2.PasswordHasher``: ``hash`` and ``verify`` computed once per input."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._hashes: dict[str, str] = {}
        self._verdicts: dict[tuple[str, str], BaseException | None] = {}
        self._lock = threading.Lock()

    def hash(self, password: str, **kwargs: Any) -> str:
        if kwargs:
            return str(self._real.hash(password, **kwargs))
        with self._lock:
            if password not in self._hashes:
                self._hashes[password] = str(self._real.hash(password))
            return self._hashes[password]

    def verify(self, stored: str, password: str) -> bool:
        key = (stored, password)
        with self._lock:
            if key not in self._verdicts:
                try:
                    self._real.verify(stored, password)
                    self._verdicts[key] = None
                except Exception as exc:  # VerificationError, InvalidHashError: the same each time
                    self._verdicts[key] = exc
            failure = self._verdicts[key]
        if failure is not None:
            raise type(failure)(*failure.args)
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def remember_password_hashes() -> None:
    """Install the remembering hasher in front of the product's own (same parameters)."""
    from molesignal.auth import passwords

    real = passwords._get()
    if not isinstance(real, RememberingHasher):
        passwords._hasher = RememberingHasher(real)
