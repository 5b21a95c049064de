from __future__ import annotations

import pytest

from molesignal.auth.principal import Principal, Role, can_grant, capped, covers, may_act_for
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


def test_the_roles_form_one_chain_above_viewer_and_ingest() -> None:
    """root ⊇ admin ⊇ system ⊇ dba ⊇ service ⊇ editor ⊇ {viewer, ingest} (docs/adr/0010)."""
    chain = [Role.ROOT, Role.ADMIN, Role.SYSTEM, Role.DBA, Role.SERVICE, Role.EDITOR]
    for index, holder in enumerate(chain):
        for lower in chain[index:]:
            assert covers(holder, lower)
        for higher in chain[:index]:
            assert not covers(holder, higher)
        assert covers(holder, Role.VIEWER) and covers(holder, Role.INGEST)
    assert not covers(Role.VIEWER, Role.INGEST) and not covers(Role.INGEST, Role.VIEWER)


@pytest.mark.parametrize(
    ("granter", "role", "allowed"),
    [
        (Role.ADMIN, Role.SYSTEM, True),  # setup's admin is also spec 004's dba, and more
        (Role.SYSTEM, Role.DBA, True),
        (Role.DBA, Role.SERVICE, True),
        (Role.DBA, Role.SYSTEM, False),
        (Role.SERVICE, Role.EDITOR, True),
        (Role.SERVICE, Role.DBA, False),
    ],
)
def test_spec_004_roles_grant_what_they_cover(granter: Role, role: Role, allowed: bool) -> None:
    assert can_grant(granter, role) is allowed


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (Role.EDITOR, Role.VIEWER, False),  # ordinary users act only for themselves
        (Role.SERVICE, Role.EDITOR, True),
        (Role.SERVICE, Role.SERVICE, True),
        (Role.SERVICE, Role.DBA, False),
        (Role.DBA, Role.DBA, True),
        (Role.DBA, Role.SYSTEM, False),
        (Role.SYSTEM, Role.SYSTEM, True),
        (Role.SYSTEM, Role.ADMIN, False),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ROOT, Role.ROOT, True),
    ],
)
def test_who_may_act_for_whom(actor: Role, target: Role, allowed: bool) -> None:
    assert may_act_for(actor, target) is allowed


def test_require_takes_any_role_that_covers_the_one_named() -> None:
    Principal("o", "u", Role.DBA, "jwt", "f").require(Role.VIEWER, Role.EDITOR, Role.ADMIN)  # dba reads
    with pytest.raises(Forbidden):
        Principal("o", "u", Role.DBA, "jwt", "f").require(Role.ADMIN)  # but manages no users
    assert Principal("o", "u", Role.ADMIN, "jwt", "f").holds(Role.DBA)
