"""One statement's answer, in spec 004's ``results[]`` shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from molesignal.query.duck import Column


@dataclass
class StatementResult:
    columns: list[Column] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0
    as_user: str = ""
    message: str | None = None

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema": [{"name": c.name, "data_type": c.data_type, "index": i} for i, c in enumerate(self.columns)],
            "rows": self.rows,
            "row_count": self.row_count,
            "as_user": self.as_user,
        }
        if self.message is not None:
            body["message"] = self.message
        return body


def listing(columns: Sequence[tuple[str, str]], rows: list[list[Any]], as_user: str) -> StatementResult:
    """A result of rows MoleSignal computed itself (SHOW, DESCRIBE); types are DuckDB's names."""
    return StatementResult([Column(name, kind) for name, kind in columns], rows, len(rows), as_user)


def done(message: str, as_user: str, row_count: int = 0) -> StatementResult:
    """The answer of a statement that returns no rows (DDL, DML): what it did, and how many rows."""
    return StatementResult(row_count=row_count, as_user=as_user, message=message)
