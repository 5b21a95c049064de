"""When a scheduled export runs: EventBridge's ``rate(...)`` and ``cron(...)`` expressions, UTC.

``rate(N minute|minutes|hour|hours|day|days)`` runs every N units after the schedule was
created. ``cron(minutes hours day-of-month month day-of-week year)`` is EventBridge's
six-field form: ``*``, lists (``1,15``), ranges (``1-5``), steps (``*/15``, ``0-30/10``),
month names (``JAN``) and day names (``MON``; 1 is Sunday as in EventBridge), and ``?`` in
one of day-of-month and day-of-week (exactly one of them must be ``?``). ``L``, ``W`` and
``#`` are not supported and are refused. Runs are at least ``MIN_INTERVAL_S`` apart.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from molesignal.errors import Unprocessable

MIN_INTERVAL_S = 15 * 60  # an export reads the lake: no more often than every 15 minutes
MAX_EXPRESSION_CHARS = 256
SEARCH_DAYS = 366 * 5  # a cron that matches nothing within five years is refused
_US = 1_000_000
_RATE = re.compile(r"^rate\((\d{1,6}) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]+)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}  # noqa: SIM905 - a table reads better as one line
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}  # noqa: SIM905


def _refuse(expression: str, why: str) -> Unprocessable:
    return Unprocessable(f"invalid argument: schedule {expression!r}: {why}")


def _field(text: str, low: int, high: int, names: dict[str, int], expression: str, label: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        part, step = item, 1
        if "/" in item:
            part, step_text = item.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise _refuse(expression, f"{label} step {step_text!r} is not a positive number")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names, expression, label), _value(last, names, expression, label)
        else:
            start = _value(part, names, expression, label)
            end = high if step > 1 else start
        if not low <= start <= end <= high:
            raise _refuse(expression, f"{label} {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int], expression: str, label: str) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise _refuse(expression, f"{label} value {text!r} is not supported (no L, W or #)")
    return int(text)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # day of month; None: '?'
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday; None: '?'
    years: frozenset[int] | None  # None: '*'

    def day_matches(self, day: datetime) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.days is not None:
            return day.day in self.days
        return self.weekdays is not None and (day.isoweekday() % 7) + 1 in self.weekdays

    def next_after(self, after: datetime) -> datetime | None:
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(SEARCH_DAYS):
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        moment = day.replace(hour=hour, minute=minute)
                        if moment >= start:
                            return moment
            day += timedelta(days=1)
        return None


def parse_cron(expression: str) -> Cron:
    found = _CRON.match(expression)
    if not found:
        raise _refuse(expression, "use rate(N minutes|hours|days) or cron(min hour day month weekday year)")
    fields = found.group(1).split()
    if len(fields) != 6:
        raise _refuse(expression, "cron takes six fields: minutes hours day-of-month month day-of-week year")
    minutes, hours, days, months, weekdays, years = fields
    if (days == "?") == (weekdays == "?"):
        raise _refuse(expression, "exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        minutes=_field(minutes, 0, 59, {}, expression, "minutes"),
        hours=_field(hours, 0, 23, {}, expression, "hours"),
        days=None if days == "?" else _field(days, 1, 31, {}, expression, "day-of-month"),
        months=_field(months, 1, 12, _MONTHS, expression, "month"),
        weekdays=None if weekdays == "?" else _field(weekdays, 1, 7, _DAYS, expression, "day-of-week"),
        years=None if years == "*" else _field(years, 1970, 2199, {}, expression, "year"),
    )


def rate_s(expression: str) -> int | None:
    """The period of a ``rate(...)`` expression, or None if it is not one."""
    found = _RATE.match(expression)
    if not found:
        return None
    return int(found.group(1)) * _UNIT_S[found.group(2).rstrip("s")]


def next_run_us(expression: str, *, after_us: int, anchor_us: int) -> int | None:
    """The first run strictly after ``after_us`` (a rate counts its periods from ``anchor_us``);
    None when a cron never matches again."""
    period = rate_s(expression)
    if period is not None:
        step = period * _US
        return anchor_us + ((max(after_us, anchor_us) - anchor_us) // step + 1) * step
    moment = parse_cron(expression).next_after(datetime.fromtimestamp(after_us / _US, tz=UTC))
    return None if moment is None else int(moment.timestamp()) * _US


def check_expression(expression: str, *, now_us: int) -> str:
    """Refuse an expression that does not parse, never runs, or runs too often."""
    expression = expression.strip()
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise _refuse(expression[:40] + "...", f"at most {MAX_EXPRESSION_CHARS} characters")
    period = rate_s(expression)
    if period is not None:
        if period < MIN_INTERVAL_S:
            raise _refuse(expression, f"runs must be at least {MIN_INTERVAL_S // 60} minutes apart")
        return expression
    runs: list[int] = []
    after = now_us
    for _ in range(4):
        found = next_run_us(expression, after_us=after, anchor_us=now_us)
        if found is None:
            break
        runs.append(found)
        after = found
    if not runs:
        raise _refuse(expression, "it never runs after now")
    if any(b - a < MIN_INTERVAL_S * _US for a, b in itertools.pairwise(runs)):
        raise _refuse(expression, f"runs must be at least {MIN_INTERVAL_S // 60} minutes apart")
    return expression
