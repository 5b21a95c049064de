from __future__ import annotations

import pytest

from molesignal.local.scheduler import rate_seconds


def test_rate_expressions() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400


@pytest.mark.parametrize("bad", ["cron(0 * * * ? *)", "rate(0 minutes)", "rate(five minutes)", "every hour"])
def test_unsupported_expressions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        rate_seconds(bad)
