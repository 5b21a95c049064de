"""Passwords are argon2id with RFC 9106's low-memory profile, and the tests' remembering
hasher (tests/support/passwords.py) answers exactly as argon2 does."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from molesignal.auth.passwords import hash_password, verify_password
from tests.support.passwords import RememberingHasher


def test_passwords_are_argon2id_with_the_low_memory_profile() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password(None, "correct horse")  # an unknown user costs a verification, and fails


def test_the_remembering_hasher_gives_argon2s_answers_every_time() -> None:
    real = PasswordHasher(memory_cost=1024, time_cost=1, parallelism=1)  # cheap: only the wrapping is tested
    remembering = RememberingHasher(real)
    stored = remembering.hash("s3cret")
    assert remembering.hash("s3cret") == stored and real.verify(stored, "s3cret")
    for _ in range(2):  # the first answer is argon2's, the second remembered
        assert remembering.verify(stored, "s3cret") is True
        with pytest.raises(VerifyMismatchError):
            remembering.verify(stored, "nope")
        with pytest.raises(InvalidHashError):
            remembering.verify("not-a-hash", "s3cret")
