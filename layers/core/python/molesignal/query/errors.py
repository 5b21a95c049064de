"""Query errors. ``code`` values are spec 004's; the web layer maps them to statuses."""

from __future__ import annotations

from molesignal.errors import Forbidden, Invalid, Unavailable
from molesignal.lake.tables import TableNotFound

__all__ = [
    "BY_CODE",
    "InvalidSql",
    "PermissionDenied",
    "QueryBusy",
    "QueryLimitExceeded",
    "QueryMemoryExceeded",
    "QueryResultTooLarge",
    "QueryTimeout",
    "TableNotFound",
]


class InvalidSql(Invalid):
    code = "INVALID_SQL"


class PermissionDenied(Forbidden):
    code = "PERMISSION_DENIED"


class QueryLimitExceeded(Invalid):
    """Too many result rows or too many bytes to scan."""

    code = "QUERY_LIMIT_EXCEEDED"


class QueryTimeout(Invalid):
    code = "QUERY_TIMEOUT"


class QueryMemoryExceeded(Invalid):
    """The query needs more memory than one query may use (refused before it runs, or stopped)."""

    code = "QUERY_MEMORY_EXCEEDED"


class QueryResultTooLarge(Invalid):
    """The answer is larger than one response may be."""

    code = "QUERY_RESULT_TOO_LARGE"

    @staticmethod
    def over(limit: int) -> QueryResultTooLarge:
        return QueryResultTooLarge(
            f"QUERY_RESULT_TOO_LARGE: the result is larger than {limit:,} bytes; "
            "select fewer columns or rows, or aggregate"
        )


class QueryBusy(Unavailable):
    """Every engine process of this instance stayed busy until the request's deadline."""

    code = "QUERY_BUSY"


# Engine-process failures travel by code (query/engine_process.py); these are the ones it sends.
_SENT = (InvalidSql, PermissionDenied, QueryLimitExceeded, QueryTimeout, QueryMemoryExceeded, QueryResultTooLarge)
BY_CODE: dict[str, type[Invalid] | type[Forbidden]] = {cls.code: cls for cls in _SENT}
