"""Cutting a request's SQL into statements, and the two wrappers spec 004 adds to SQL.

* Statements are separated by ``;`` outside quotes, comments and parentheses. Each piece is
  parsed and checked on its own, so a piece cut in an odd place (a dollar-quoted string)
  fails to parse rather than meaning anything else.
* ``EXECUTE AS USER 'name' ( <one statement> )`` runs its statement in another user's scope.
* ``FILE("placeholder")`` (or ``FILE('placeholder')``) in an INSERT or UPDATE names the
  multipart part ``file:<placeholder>``; it becomes a numbered parameter bound to the
  stored file's reference, so file names never become SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import Token, TokenType
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import SqlglotError

from molesignal.query.errors import InvalidSql
from molesignal.query.guard import MAX_SQL_LENGTH, require_text

MAX_STATEMENTS = 100
_EXECUTE_AS = re.compile(r"^\s*EXECUTE\s+AS\s+USER\s+'((?:[^']|'')*)'\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_EXECUTE_HEAD = re.compile(r"^\s*EXECUTE\b", re.IGNORECASE)
_EXECUTE_HEAD_AT = re.compile(r"EXECUTE\s+AS\s+USER\s+'(?:[^']|'')*'", re.IGNORECASE)
PLACEHOLDER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql``, each stripped, empty ones dropped.

    They are cut where sqlglot's tokenizer — the guard's own reader — sees a ``;`` outside
    parentheses, so strings of every kind (``E'…'``, ``$tag$…$tag$``) and nested comments
    hide their semicolons exactly as they do from the parser that checks each piece.
    """
    if len(sql) > MAX_SQL_LENGTH:
        raise InvalidSql(f"INVALID_SQL: the SQL is longer than {MAX_SQL_LENGTH} characters")
    require_text(sql, "the SQL")
    tokens = _tokens(sql)
    cuts: list[int] = []
    depth = 0
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth = max(0, depth - 1)
        elif token.token_type == TokenType.SEMICOLON and depth == 0:
            cuts.append(token.start)
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(sql[start:cut])
        start = cut + 1
    pieces.append(sql[start:])
    statements = [p.strip() for p in pieces if _has_code(p)]
    if len(statements) > MAX_STATEMENTS:
        raise InvalidSql(f"INVALID_SQL: at most {MAX_STATEMENTS} statements per request")
    return statements


def _tokens(sql: str) -> list[Token]:
    """sqlglot's tokens of ``sql``. Its tokenizer reads ``EXECUTE`` as a command and swallows
    the rest up to the next ``;``; the wrapper's head is blanked out first, so the statement
    it wraps is read like any other (offsets stay those of ``sql``)."""
    text = sql
    for _ in range(MAX_STATEMENTS + 1):
        try:
            tokens = DuckDB().tokenize(text)
        except (SqlglotError, ValueError) as exc:
            raise InvalidSql(f"INVALID_SQL: could not read the SQL: {str(exc)[:200]}") from exc
        command = next((t for t in tokens if t.token_type == TokenType.EXECUTE), None)
        if command is None:
            return tokens
        head = _EXECUTE_HEAD_AT.match(text, command.start)
        if head is None:
            raise InvalidSql("INVALID_SQL: write EXECUTE AS USER 'name' ( <one statement> )")
        text = text[: head.start()] + " " * (head.end() - head.start()) + text[head.end() :]
    raise InvalidSql("INVALID_SQL: too many EXECUTE AS USER wrappers")


def _has_code(piece: str) -> bool:
    """Whether a piece holds a token (more than blanks and comments)."""
    try:
        return bool(DuckDB().tokenize(piece))
    except (SqlglotError, ValueError):
        return True  # let the parser say what is wrong with it


@dataclass(frozen=True)
class Wrapped:
    """A statement, and the user an ``EXECUTE AS USER`` wrapper names (None: the caller)."""

    text: str
    as_user: str | None = None


def unwrap_execute_as(statement: str) -> Wrapped:
    found = _EXECUTE_AS.match(statement)
    if found is None:
        if _EXECUTE_HEAD.match(statement):
            raise InvalidSql("INVALID_SQL: write EXECUTE AS USER 'name' ( <one statement> )")
        return Wrapped(statement)
    inner = found.group(2).strip().rstrip(";").strip()
    if not inner:
        raise InvalidSql("INVALID_SQL: EXECUTE AS USER wraps exactly one statement")
    if len(split_statements(inner)) != 1:
        raise InvalidSql("INVALID_SQL: EXECUTE AS USER wraps exactly one statement")
    if _EXECUTE_HEAD.match(inner):
        raise InvalidSql("INVALID_SQL: EXECUTE AS USER cannot be nested")
    return Wrapped(inner, found.group(1).replace("''", "'"))


@dataclass
class FileBinding:
    """A statement with its ``FILE(...)`` placeholders replaced by ``$n`` parameters."""

    text: str
    placeholders: dict[str, int] = field(default_factory=dict)  # placeholder → parameter number


def bind_file_placeholders(statement: str, first_parameter: int) -> FileBinding:
    """Replace each ``FILE("name")`` with ``$<n>``; the same name twice is the same parameter."""
    if "file" not in statement.lower():
        return FileBinding(statement)
    try:
        tokens = DuckDB().tokenize(statement)
    except (SqlglotError, ValueError) as exc:
        raise InvalidSql(f"INVALID_SQL: could not read the statement: {str(exc)[:200]}") from exc
    binding = FileBinding(statement)
    pieces: list[str] = []
    cursor = 0
    for index in range(len(tokens) - 3):
        head, opening, name, closing = tokens[index : index + 4]
        if head.text.upper() != "FILE" or opening.token_type != TokenType.L_PAREN:
            continue
        if name.token_type not in (TokenType.STRING, TokenType.IDENTIFIER) or closing.token_type != TokenType.R_PAREN:
            raise InvalidSql('INVALID_SQL: write FILE("placeholder") with the name of a file:<placeholder> part')
        if not PLACEHOLDER_NAME.match(name.text):
            raise InvalidSql(f"INVALID_SQL: FILE placeholder {name.text!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        number = binding.placeholders.setdefault(name.text, first_parameter + len(binding.placeholders))
        pieces.append(statement[cursor : head.start])
        pieces.append(f"${number}")
        cursor = closing.end + 1
    if not binding.placeholders:
        return binding
    pieces.append(statement[cursor:])
    binding.text = "".join(pieces)
    return binding
