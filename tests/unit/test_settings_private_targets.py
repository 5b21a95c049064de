"""One setting decides whether outbound connections may reach private networks; alerts may
override it for their destinations alone."""

from __future__ import annotations

import pytest

from molesignal.settings import Settings


@pytest.mark.parametrize(
    ("stage", "outbound", "alert", "outbound_allowed", "alert_allowed"),
    [
        ("local", None, None, True, True),  # the local stage's test receivers are on 127.0.0.1
        ("prod", None, None, False, False),
        ("prod", True, None, True, True),  # one knob opens both families
        ("local", False, None, False, False),
        ("prod", True, False, True, False),  # alerts alone stay closed
        ("prod", False, True, False, True),
    ],
)
def test_alerts_follow_the_outbound_setting_unless_overridden(
    stage: str,
    outbound: bool | None,
    alert: bool | None,
    outbound_allowed: bool,
    alert_allowed: bool,
) -> None:
    settings = Settings(
        stage=stage,
        outbound_allow_private_targets=outbound,
        alert_allow_private_targets=alert,
    )
    assert settings.private_targets_allowed is outbound_allowed
    assert settings.alert_private_targets_allowed is alert_allowed
