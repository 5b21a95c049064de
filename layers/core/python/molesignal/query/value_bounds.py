"""Values a query builds from literals, sized before the engine runs.

Some DuckDB functions build a value whose size the caller picks with a number: ``repeat``,
``lpad``/``rpad``, a width or precision in ``printf``/``format``, a list from scalar
``range``/``generate_series``, a ``replace`` whose replacement is longer than what it
replaces. DuckDB builds these outside its buffer manager, so its ``memory_limit`` does not
stop them. Where the sizes are literals, the value's size is bounded here from the tree and a
query that would build one larger than ``query_max_value_bytes`` is refused with
``QUERY_MEMORY_EXCEEDED`` and the function named.

This is a courtesy, not the bound: sizes that come from data, or that grow through a column
of a subquery, are unknown here. The engine process's address-space cap (ADR 0018) is what
holds for every query. Table functions in ``FROM`` (``FROM range(1e9)``) stream rows and are
not values; they are bounded by the row and time limits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from sqlglot import exp

from molesignal.query.errors import QueryMemoryExceeded

_LIST_ELEMENT_BYTES = 8  # a BIGINT or TIMESTAMP element
_NUMBER_TEXT_BYTES = 40  # the longest text of a number DuckDB prints
_PRINTF_SPEC = re.compile(r"%[-+ #0']*(\*|\d+)?(?:\.(\*|\d+))?")
_FMT_SPEC = re.compile(r"\{[^{}:]*:((?:[^{}]|\{[^{}]*\})*)\}")
_JOINING: dict[type, str] = {
    exp.DPipe: "||",
    exp.ConcatWs: "concat_ws()",
    exp.Array: "a list",
    exp.ArrayConcat: "list_concat()",
}
_MICROSECONDS = {
    "microsecond": 1,
    "millisecond": 1_000,
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
    "week": 7 * 86_400_000_000,
    "month": 28 * 86_400_000_000,  # the shortest: the most elements a month step can make
    "quarter": 89 * 86_400_000_000,
    "year": 365 * 86_400_000_000,
}


def check_value_sizes(tree: exp.Expr, *, limit: int) -> None:
    """Refuse the query if a function would provably build a value larger than ``limit`` bytes."""
    sizes = _Sizes(limit)
    for node in tree.walk():
        sizes.of(node)


def _number(node: exp.Expr | None) -> float | None:
    """A numeric literal (possibly negated or cast), else None."""
    if isinstance(node, exp.Neg):
        inner = _number(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Cast | exp.Paren):
        return _number(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(str(node.this).replace("_", ""))
        except ValueError:
            return None
    return None


def _text(node: exp.Expr | None) -> str | None:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    if isinstance(node, exp.RawString):
        return str(node.this)
    return None


def _refuse(function: str, size: float, limit: int) -> QueryMemoryExceeded:
    return QueryMemoryExceeded(
        f"QUERY_MEMORY_EXCEEDED: {function} would build a value of about {size:,.0f} bytes; "
        f"a query may build values of at most {limit:,} bytes"
    )


class _Sizes:
    """Upper bounds, in bytes, of the values expressions evaluate to (None: unknown)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: dict[int, float | None] = {}
        self._rules: dict[type, Callable[[exp.Expr], float | None]] = {
            exp.Repeat: self._repeat,
            exp.Pad: self._pad,
            exp.Format: self._format,
            exp.GenerateSeries: self._series,
            exp.Replace: self._replace,
            exp.RegexpReplace: self._regexp_replace,
            exp.Concat: self._sum_of_arguments,
            exp.ConcatWs: self._sum_of_arguments,
            exp.DPipe: self._sum_of_arguments,
            exp.Array: self._sum_of_arguments,
            exp.ArrayConcat: self._sum_of_arguments,
        }

    def of(self, node: exp.Expr | None) -> float | None:
        if node is None:
            return 0
        key = id(node)
        if key not in self._known:
            self._known[key] = self._measure(node)
        return self._known[key]

    def _measure(self, node: exp.Expr) -> float | None:
        text = _text(node)
        if text is not None:
            return len(text.encode())
        if isinstance(node, exp.Literal):
            return _NUMBER_TEXT_BYTES
        if isinstance(node, exp.Null | exp.Boolean):
            return 5
        if isinstance(node, exp.Paren | exp.Alias | exp.Neg):
            return self.of(node.this)
        if isinstance(node, exp.Anonymous) and str(node.name).lower() == "printf":
            return self._printf(node)
        rule = self._rules.get(type(node))
        return rule(node) if rule else None

    def _bounded(self, function: str, size: float | None) -> float | None:
        if size is not None and size > self.limit:
            raise _refuse(function, size, self.limit)
        return size

    def _repeat(self, node: exp.Expr) -> float | None:
        times = _number(node.args.get("times"))
        if times is None:
            return None
        each = self.of(node.this)
        # An unknown value repeated more times than the limit is over it unless it is empty.
        return self._bounded("repeat()", max(times, 0) * (1 if each is None else each))

    def _pad(self, node: exp.Expr) -> float | None:
        length = _number(node.args.get("expression"))
        if length is None:
            return None
        fill = _text(node.args.get("fill_pattern"))
        widest = max((len(c.encode()) for c in fill), default=1) if fill is not None else 4
        return self._bounded("lpad()" if node.args.get("is_left") else "rpad()", max(length, 0) * widest)

    def _widths(self, function: str, pattern: str, spec: re.Pattern[str]) -> float:
        """The sum of the widths and precisions written in a format string."""
        total = 0.0
        for match in spec.finditer(pattern):
            written = match.group(0) if spec is _PRINTF_SPEC else match.group(1)
            if "*" in written or "{" in written:
                raise QueryMemoryExceeded(
                    f"QUERY_MEMORY_EXCEEDED: {function} takes a width from an argument, which cannot be "
                    "bounded before the query runs; write the width in the format string"
                )
            total += sum(int(d) for d in re.findall(r"\d+", written))
        return total

    def _formatted(self, function: str, pattern: str | None, arguments: list[exp.Expr]) -> float | None:
        if pattern is None:
            return None
        widths = self._widths(function, pattern, _PRINTF_SPEC if function == "printf()" else _FMT_SPEC)
        self._bounded(function, widths)
        sizes = [self.of(a) for a in arguments]
        known = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
        return self._bounded(function, None if known is None else len(pattern.encode()) + widths + known)

    def _printf(self, node: exp.Expr) -> float | None:
        arguments = list(node.expressions)
        if not arguments:
            return None
        return self._formatted("printf()", _text(arguments[0]), arguments[1:])

    def _format(self, node: exp.Expr) -> float | None:
        return self._formatted("format()", _text(node.this), list(node.expressions))

    def _series(self, node: exp.Expr) -> float | None:
        if isinstance(node.parent, exp.Table):
            return None  # a table function: rows, streamed
        count = _series_length(node)
        name = "generate_series()" if not node.args.get("is_end_exclusive") else "range()"
        return self._bounded(name, None if count is None else count * _LIST_ELEMENT_BYTES)

    def _replace(self, node: exp.Expr) -> float | None:
        old, new = _text(node.args.get("expression")), _text(node.args.get("replacement"))
        source = self.of(node.this)
        if source is None or old is None or new is None:
            return None
        if not old or len(new) <= len(old):
            return source
        # At most source/len(old) occurrences, each growing by the difference.
        return self._bounded("replace()", source / len(old.encode()) * len(new.encode()))

    def _regexp_replace(self, node: exp.Expr) -> float | None:
        new = _text(node.args.get("replacement"))
        source = self.of(node.this)
        if source is None or new is None:
            return None
        # Every position may match (an empty match) and each back-reference copies a match.
        references = len(re.findall(r"\\\d", new))
        return self._bounded("regexp_replace()", (source + 1) * (len(new.encode()) + 1) * (references + 1))

    def _sum_of_arguments(self, node: exp.Expr) -> float | None:
        parts = [self.of(child) for child in node.iter_expressions()]
        if any(p is None for p in parts):
            return None
        return self._bounded(_JOINING.get(type(node), "concat()"), sum(p or 0 for p in parts))


def _series_length(node: exp.Expr) -> float | None:
    """How many elements a scalar range/generate_series with literal bounds makes."""
    start, end, step = node.args.get("start"), node.args.get("end"), node.args.get("step")
    low, high = _number(start), _number(end)
    stride = _number(step) if step is not None else 1.0
    if low is None or high is None:
        low, high, stride = _instant(start), _instant(end), _interval(step)
    if low is None or high is None or not stride:
        return None
    return max((high - low) / stride, 0) + 1


def _instant(node: exp.Expr | None) -> float | None:
    """A TIMESTAMP/DATE literal as µs since the epoch."""
    text = _text(node.this) if isinstance(node, exp.Cast) else None
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1)


def _interval(node: exp.Expr | None) -> float | None:
    if not isinstance(node, exp.Interval):
        return None
    amount = _number(node.this)
    if amount is None and _text(node.this) is not None:
        amount = _number(exp.Literal.number((_text(node.this) or "").split()[0]))
    unit_node = node.args.get("unit")
    unit = str(unit_node.name if unit_node is not None else "").lower().rstrip("s")
    if amount is None or unit not in _MICROSECONDS:
        return None
    return amount * _MICROSECONDS[unit]
