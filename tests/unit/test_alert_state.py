"""The alert state machine (pure): pending and for, firing, repeats, quiet resolution."""

from __future__ import annotations

from molesignal.alerts.notification import Status
from molesignal.alerts.state import AlertState, Observation, Policy, State, advance, fingerprint

S = 1_000_000
T0 = 1_800_000_000 * S
HIT = Observation({"service": "api"}, active=True, value=3)
MISS = Observation({"service": "api"}, active=False)


def _new() -> AlertState:
    return AlertState("org", "rul_1", fingerprint("rul_1", {"service": "api"}), {"service": "api"})


def test_fires_at_once_without_for_and_notifies_once_until_the_repeat_interval() -> None:
    policy = Policy(repeat_interval_s=600)
    step = advance(_new(), HIT, policy, T0)
    assert (step.previous, step.new.state, step.notify) == (State.OK, State.FIRING, Status.FIRING)
    firing = step.new
    again = advance(firing, HIT, policy, T0 + 60 * S)
    assert again.notify is None and again.previous is None
    repeat = advance(firing, HIT, policy, T0 + 600 * S)
    assert repeat.notify is Status.FIRING and repeat.repeat and repeat.new.state is State.FIRING


def test_for_keeps_it_pending_and_a_miss_while_pending_goes_back_to_ok_silently() -> None:
    policy = Policy(for_s=300)
    pending = advance(_new(), HIT, policy, T0)
    assert pending.new.state is State.PENDING and pending.notify is None
    early = advance(pending.new, HIT, policy, T0 + 299 * S)
    assert early.notify is None
    fired = advance(pending.new, HIT, policy, T0 + 300 * S)
    assert fired.new.state is State.FIRING and fired.notify is Status.FIRING
    assert fired.new.active_since_us == T0  # it has held since the first hit
    dropped = advance(pending.new, MISS, policy, T0 + 10 * S)
    assert (dropped.previous, dropped.new.state, dropped.notify) == (State.PENDING, State.OK, None)


def test_a_scheduled_alert_resolves_on_the_first_false_evaluation() -> None:
    policy = Policy()
    firing = advance(_new(), HIT, policy, T0).new
    resolved = advance(firing, MISS, policy, T0 + 60 * S)
    assert (resolved.previous, resolved.new.state, resolved.notify) == (State.FIRING, State.RESOLVED, Status.RESOLVED)
    assert advance(resolved.new, MISS, policy, T0 + 120 * S).new is None  # stays resolved, no write
    refire = advance(resolved.new, HIT, policy, T0 + 180 * S)
    assert refire.new.state is State.FIRING and refire.notify is Status.FIRING


def test_a_realtime_alert_resolves_only_after_its_quiet_period_and_keeps_a_deadline() -> None:
    policy = Policy(resolve_after_s=120)
    firing = advance(_new(), HIT, policy, T0).new
    assert firing.resolve_deadline_us == T0 + 120 * S
    assert firing.to_item()["gsi1sk"].startswith(f"{T0 + 120 * S:017d}#org#")
    assert advance(firing, MISS, policy, T0 + 119 * S).new is None
    resolved = advance(firing, MISS, policy, T0 + 120 * S)
    assert resolved.new.state is State.RESOLVED and resolved.notify is Status.RESOLVED
    assert "gsi1pk" not in resolved.new.to_item()  # out of the quiet index


def test_matches_while_firing_refresh_the_stored_last_match_without_a_write_per_batch() -> None:
    policy = Policy(resolve_after_s=300)
    firing = advance(_new(), HIT, policy, T0).new
    assert advance(firing, HIT, policy, T0 + 10 * S).new is None  # within a tenth of 300 s
    refreshed = advance(firing, HIT, policy, T0 + 31 * S).new
    assert refreshed is not None and refreshed.last_match_us == T0 + 31 * S
    assert refreshed.resolve_deadline_us == T0 + 331 * S


def test_fingerprints_are_stable_and_differ_by_group() -> None:
    assert fingerprint("r", {"a": "1", "b": "2"}) == fingerprint("r", {"b": "2", "a": "1"})
    assert fingerprint("r", {"a": "1"}) != fingerprint("r", {"a": "2"})
    assert fingerprint("r", {}) != fingerprint("s", {})
