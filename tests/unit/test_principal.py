from __future__ import annotations

import pytest

from molesignal.auth.principal import Principal, Role, can_grant, capped, covers
from molesignal.errors import Forbidden


@pytest.mark.parametrize(
    ("granter", "role", "allowed"),
    [
        (Role.ROOT, Role.ROOT, True),
        (Role.ADMIN, Role.ROOT, False),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.EDITOR, Role.ADMIN, False),
        (Role.EDITOR, Role.INGEST, True),
        (Role.VIEWER, Role.VIEWER, False),
        (Role.INGEST, Role.INGEST, False),
    ],
)
def test_can_grant(granter: Role, role: Role, allowed: bool) -> None:
    assert can_grant(granter, role) is allowed


def test_context_round_trip_and_require() -> None:
    principal = Principal("o", "u", Role.EDITOR, "jwt", "fam", "alice")
    assert Principal.from_context(principal.to_context()) == principal
    principal.require(Role.EDITOR, Role.ADMIN)
    with pytest.raises(Forbidden):
        principal.require(Role.ADMIN)
    Principal("o", "u", Role.ROOT, "jwt", "f").require(Role.ADMIN)  # root holds every role


@pytest.mark.parametrize(
    ("role", "limit", "expected"),
    [
        (Role.EDITOR, Role.ADMIN, Role.EDITOR),  # within the limit: unchanged
        (Role.ADMIN, Role.EDITOR, Role.EDITOR),  # above it: capped
        (Role.EDITOR, Role.VIEWER, Role.VIEWER),
        (Role.EDITOR, Role.INGEST, Role.INGEST),
        (Role.INGEST, Role.VIEWER, None),  # one writes, the other reads: nothing in common
        (Role.VIEWER, Role.INGEST, None),
        (Role.ADMIN, Role.ROOT, Role.ADMIN),
    ],
)
def test_capped_never_exceeds_the_limit(role: Role, limit: Role, expected: Role | None) -> None:
    assert capped(role, limit) is expected
    if expected is not None:
        assert covers(limit, expected) and covers(role, expected)
