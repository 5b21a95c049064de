"""One time budget for a whole query request: planning, the engine, the cache, the answer.

The budget starts when the request reaches the function (API Gateway's 29 s integration
timeout counts from about then), not when the engine starts, so slow DynamoDB reads or a
wait for a free engine process are paid out of the same budget as the query itself.
"""

from __future__ import annotations

import time

from molesignal.query.errors import QueryTimeout


class Deadline:
    def __init__(self, budget_s: float, *, started: float | None = None) -> None:
        """``started`` is a ``time.perf_counter()`` reading (default: now)."""
        self.budget_s = budget_s
        self.at = (time.perf_counter() if started is None else started) + budget_s

    def remaining(self) -> float:
        return max(0.0, self.at - time.perf_counter())

    @property
    def expired(self) -> bool:
        return time.perf_counter() >= self.at

    def exceeded(self, doing: str) -> QueryTimeout:
        return QueryTimeout(f"QUERY_TIMEOUT: the query ran longer than {self.budget_s:g} s ({doing})")

    def check(self, doing: str) -> None:
        """Raise QUERY_TIMEOUT if the budget is spent; ``doing`` names the step that was next."""
        if self.expired:
            raise self.exceeded(doing)
