"""Query errors. ``code`` values are spec 004's; the web layer maps them to statuses."""

from __future__ import annotations

from molesignal.errors import Forbidden, Invalid, NotFound


class InvalidSql(Invalid):
    code = "INVALID_SQL"


class PermissionDenied(Forbidden):
    code = "PERMISSION_DENIED"


class TableNotFound(NotFound):
    code = "TABLE_NOT_FOUND"


class QueryLimitExceeded(Invalid):
    """Too many result rows or too many bytes to scan."""

    code = "QUERY_LIMIT_EXCEEDED"


class QueryTimeout(Invalid):
    code = "QUERY_TIMEOUT"
