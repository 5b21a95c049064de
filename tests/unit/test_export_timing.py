"""When scheduled exports run: EventBridge rate and cron expressions (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from molesignal.errors import Unprocessable
from molesignal.exports.timing import check_expression, next_run_us

_US = 1_000_000


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * _US


def runs(expression: str, after: str, count: int = 3) -> list[str]:
    found, moment = [], at(after)
    for _ in range(count):
        following = next_run_us(expression, after_us=moment, anchor_us=at(after))
        assert following is not None
        found.append(datetime.fromtimestamp(following / _US, tz=UTC).strftime("%Y-%m-%d %H:%M %a"))
        moment = following
    return found


def test_rate_counts_periods_from_its_anchor() -> None:
    assert runs("rate(2 hours)", "2026-03-01 10:17") == [
        "2026-03-01 12:17 Sun",
        "2026-03-01 14:17 Sun",
        "2026-03-01 16:17 Sun",
    ]
    # A late ticker does not shift the grid: the next run after 13:00 is still 14:17.
    assert next_run_us("rate(2 hours)", after_us=at("2026-03-01 13:00"), anchor_us=at("2026-03-01 10:17")) == at(
        "2026-03-01 14:17"
    )


def test_cron_fields() -> None:
    assert runs("cron(0 3 * * ? *)", "2026-03-01 03:00") == [
        "2026-03-02 03:00 Mon",
        "2026-03-03 03:00 Tue",
        "2026-03-04 03:00 Wed",
    ]
    assert runs("cron(15,45 9-10 ? * MON-FRI *)", "2026-03-06 10:50") == [
        "2026-03-09 09:15 Mon",
        "2026-03-09 09:45 Mon",
        "2026-03-09 10:15 Mon",
    ]
    assert runs("cron(0 0 1 JAN,JUL ? *)", "2026-03-01 00:00", 2) == ["2026-07-01 00:00 Wed", "2027-01-01 00:00 Fri"]
    assert runs("cron(0 12 ? * 1 *)", "2026-03-01 12:00", 1) == ["2026-03-08 12:00 Sun"]  # 1 is Sunday
    assert runs("cron(*/30 * * * ? *)", "2026-03-01 00:10", 2) == ["2026-03-01 00:30 Sun", "2026-03-01 01:00 Sun"]
    assert runs("cron(0 0 29 2 ? *)", "2026-03-01 00:00", 1) == ["2028-02-29 00:00 Tue"]


@pytest.mark.parametrize(
    "bad",
    [
        "rate(10 minutes)",
        "cron(*/5 * * * ? *)",
        "cron(0 3 * * *)",
        "cron(0 3 ? * ? *)",
        "cron(0 3 1 * 2 *)",
        "cron(0 25 * * ? *)",
        "cron(0 3 L * ? *)",
        "cron(0 3 * * ? 2001)",
        "cron(0 3 31 2 ? *)",
        "rate(1 fortnight)",
        "",
    ],
)
def test_refused(bad: str) -> None:
    with pytest.raises(Unprocessable):
        check_expression(bad, now_us=at("2026-03-01 00:00"))


def test_accepted_are_returned_trimmed() -> None:
    assert check_expression(" rate(15 minutes) ", now_us=0) == "rate(15 minutes)"
    assert check_expression("cron(0 3 * * ? *)", now_us=0) == "cron(0 3 * * ? *)"
