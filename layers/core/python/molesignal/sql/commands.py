"""The statements spec 004 adds to SQL, read from sqlglot's tokens (its parser knows none of them).

    CREATE NAMESPACE [IF NOT EXISTS] ns            DROP NAMESPACE [IF EXISTS] ns [CASCADE]
    SHOW NAMESPACES                                USE [NAMESPACE] ns  |  SET NAMESPACE ns
    SHOW TABLES [IN [NAMESPACE] ns]                DESCRIBE [TABLE] [ns.]t  |  DESC [TABLE] [ns.]t
    CREATE [USER|SHARED|STREAM] TABLE [IF NOT EXISTS] [ns.]t (
        col TYPE [NOT NULL | NULL] [PRIMARY KEY], …, [[CONSTRAINT name] PRIMARY KEY (col, …)]
    ) [WITH (TYPE = 'USER'|'SHARED'|'STREAM', TTL_SECONDS = n)]
    ALTER TABLE [ns.]t ADD [COLUMN] col TYPE [NULL]
    DROP [USER|SHARED|STREAM] TABLE [IF EXISTS] [ns.]t
    CREATE TOPIC [IF NOT EXISTS] name [PARTITIONS n] [RETENTION n [SECONDS|MINUTES|HOURS|DAYS] | RETENTION '7d']
    ALTER TOPIC name ADD SOURCE [ns.]t [ON INSERT[, UPDATE][, DELETE]]  |  ALTER TOPIC name DROP SOURCE [ns.]t
    DROP TOPIC [IF EXISTS] name                    SHOW TOPICS

Anything else is left to sqlglot (SELECT, INSERT, UPDATE, DELETE), which the guard checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import Token, TokenType
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import SqlglotError

from molesignal.lake.namespaces import check_name
from molesignal.lake.tables import MAX_TTL_SECONDS, ColumnDef, ColumnType, TableType, column_type
from molesignal.query.errors import InvalidSql


@dataclass(frozen=True)
class TableRef:
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class CreateNamespace:
    name: str
    if_not_exists: bool = False


@dataclass(frozen=True)
class DropNamespace:
    name: str
    if_exists: bool = False
    cascade: bool = False


@dataclass(frozen=True)
class ShowNamespaces:
    pass


@dataclass(frozen=True)
class UseNamespace:
    name: str


@dataclass(frozen=True)
class ShowTables:
    namespace: str | None = None


@dataclass(frozen=True)
class Describe:
    table: TableRef


@dataclass(frozen=True)
class CreateTable:
    table: TableRef
    table_type: TableType
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...] = ()
    ttl_seconds: int | None = None
    if_not_exists: bool = False


@dataclass(frozen=True)
class AddColumn:
    table: TableRef
    column: ColumnDef


@dataclass(frozen=True)
class DropTable:
    table: TableRef
    if_exists: bool = False


@dataclass(frozen=True)
class CreateTopic:
    name: str
    partitions: int = 1
    retention_s: int | None = None
    if_not_exists: bool = False


@dataclass(frozen=True)
class AddTopicSource:
    topic: str
    source: TableRef
    operations: tuple[str, ...] = ("insert", "update", "delete")


@dataclass(frozen=True)
class DropTopicSource:
    topic: str
    source: TableRef


@dataclass(frozen=True)
class DropTopic:
    name: str
    if_exists: bool = False


@dataclass(frozen=True)
class ShowTopics:
    pass


TopicCommand = CreateTopic | AddTopicSource | DropTopicSource | DropTopic | ShowTopics

Command = (
    CreateNamespace
    | DropNamespace
    | ShowNamespaces
    | UseNamespace
    | ShowTables
    | Describe
    | CreateTable
    | AddColumn
    | DropTable
    | TopicCommand
)
# Names the engine gives to where a row is stored, when asked (DML asks): no column may take them.
RESERVED_COLUMNS = frozenset({"filename", "file_row_number", "file_index"})
_KINDS = {"USER": TableType.USER, "SHARED": TableType.SHARED, "STREAM": TableType.STREAM}
_TYPE_END = {TokenType.COMMA, TokenType.R_PAREN, TokenType.NOT, TokenType.NULL, TokenType.PRIMARY_KEY}


class _Cursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> Token | None:
        position = self.index + ahead
        return self.tokens[position] if position < len(self.tokens) else None

    def word(self, ahead: int = 0) -> str:
        token = self.peek(ahead)
        return token.text.upper() if token is not None and token.token_type != TokenType.STRING else ""

    def accept(self, *words: str) -> bool:
        """Consume ``words`` if the next tokens are exactly they (one token may hold two words)."""
        wanted = " ".join(words)
        texts: list[str] = []
        for ahead in range(len(words)):
            texts.append(self.word(ahead))
            if " ".join(texts) == wanted:
                self.index += ahead + 1
                return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            got = self.peek()
            raise InvalidSql(f"INVALID_SQL: expected {' '.join(words)}, got {got.text if got else 'the end'!r}")

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise InvalidSql("INVALID_SQL: the statement ends too early")
        self.index += 1
        return token

    def punct(self, kind: TokenType) -> bool:
        token = self.peek()
        if token is not None and token.token_type == kind:
            self.index += 1
            return True
        return False

    def expect_punct(self, kind: TokenType, text: str) -> None:
        if not self.punct(kind):
            got = self.peek()
            raise InvalidSql(f"INVALID_SQL: expected {text!r}, got {got.text if got else 'the end'!r}")

    def name(self, what: str) -> str:
        token = self.take()
        if token.token_type in (TokenType.STRING, TokenType.NUMBER) or not token.text:
            raise InvalidSql(f"INVALID_SQL: expected a {what} name, got {token.text!r}")
        return check_name(token.text, what)

    def table_ref(self) -> TableRef:
        first = self.name("table")
        if self.punct(TokenType.DOT):
            return TableRef(check_name(first), self.name("table"))
        return TableRef(None, first)

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise InvalidSql(f"INVALID_SQL: unexpected {token.text!r} at the end of the statement")


def parse_command(statement: str) -> Command | None:
    """The spec-004 command ``statement`` is, or None for SQL the query guard handles."""
    head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    if head not in ("CREATE", "DROP", "ALTER", "SHOW", "USE", "SET", "DESCRIBE", "DESC"):
        return None
    try:
        tokens = DuckDB().tokenize(statement)
    except (SqlglotError, ValueError) as exc:
        raise InvalidSql(f"INVALID_SQL: could not read the statement: {str(exc)[:200]}") from exc
    cursor = _Cursor(tokens)
    command = _command(cursor)
    if command is not None:
        cursor.done()
    return command


def _command(c: _Cursor) -> Command | None:
    head = c.word()
    if head == "SHOW":
        return _show(c)
    if head in ("USE", "SET"):
        return _use(c)
    if head in ("DESCRIBE", "DESC"):
        c.take()
        c.accept("TABLE")
        return Describe(c.table_ref())
    if head == "CREATE":
        return _create(c)
    if head == "DROP":
        return _drop(c)
    if c.accept("ALTER", "TABLE"):
        return _alter(c)
    if c.accept("ALTER", "TOPIC"):
        return _alter_topic(c)
    return None


def _show(c: _Cursor) -> Command | None:
    if c.accept("SHOW", "TOPICS"):
        return ShowTopics()
    if c.accept("SHOW", "NAMESPACES") or c.accept("SHOW", "SCHEMAS"):
        return ShowNamespaces()
    if c.accept("SHOW", "TABLES"):
        if c.accept("IN") or c.accept("FROM"):
            c.accept("NAMESPACE")
            return ShowTables(check_name(c.take().text))
        return ShowTables()
    return None


def _use(c: _Cursor) -> Command | None:
    if c.accept("USE"):
        c.accept("NAMESPACE")
        return UseNamespace(check_name(c.take().text))
    if c.accept("SET", "NAMESPACE"):
        if not c.accept("TO"):
            c.punct(TokenType.EQ)
        return UseNamespace(check_name(c.take().text))
    return None


def _create(c: _Cursor) -> Command | None:
    if c.accept("CREATE", "NAMESPACE") or c.accept("CREATE", "SCHEMA"):
        exists = c.accept("IF", "NOT", "EXISTS")
        return CreateNamespace(check_name(c.take().text), exists)
    if c.accept("CREATE", "TOPIC"):
        return _create_topic(c)
    return _create_table(c)


def _drop(c: _Cursor) -> Command | None:
    if c.accept("DROP", "NAMESPACE") or c.accept("DROP", "SCHEMA"):
        exists = c.accept("IF", "EXISTS")
        name = check_name(c.take().text)
        cascade = c.accept("CASCADE")
        return DropNamespace(name, exists, cascade)
    if c.accept("DROP", "TOPIC"):
        exists = c.accept("IF", "EXISTS")
        return DropTopic(c.name("topic"), exists)
    return _drop_table(c)


def _alter(c: _Cursor) -> Command:
    table = c.table_ref()
    if not c.accept("ADD"):
        raise InvalidSql("INVALID_SQL: ALTER TABLE supports ADD COLUMN only")
    c.accept("COLUMN")
    column = _column(c)
    if column.name.startswith("_") or column.name in RESERVED_COLUMNS:
        raise InvalidSql(f"INVALID_SQL: column name {column.name!r} is reserved")
    if column.not_null:
        raise InvalidSql("INVALID_SQL: an added column cannot be NOT NULL: the rows already stored have no value")
    return AddColumn(table, column)


def _kind(c: _Cursor) -> TableType | None:
    kind = _KINDS.get(c.word())
    if kind is not None and c.word(1) == "TABLE":
        c.take()
        return kind
    return None


def _create_table(c: _Cursor) -> CreateTable | None:
    c.expect("CREATE")
    kind = _kind(c)
    if not c.accept("TABLE"):
        return None  # CREATE VIEW, INDEX …: refused by the guard as not supported
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    table = c.table_ref()
    c.expect_punct(TokenType.L_PAREN, "(")
    columns: list[ColumnDef] = []
    primary: list[str] = []
    while True:
        if c.accept("CONSTRAINT"):
            c.take()
        if c.word() == "PRIMARY KEY" or c.word() == "PRIMARY":
            if primary:
                raise InvalidSql("INVALID_SQL: a table has one PRIMARY KEY")
            c.accept("PRIMARY", "KEY")
            primary = _name_list(c)
        else:
            column, is_key = _column_with_key(c)
            columns.append(column)
            if is_key:
                if primary:
                    raise InvalidSql("INVALID_SQL: a table has one PRIMARY KEY")
                primary = [column.name]
        if c.punct(TokenType.COMMA):
            continue
        c.expect_punct(TokenType.R_PAREN, ")")
        break
    options = _options(c) if c.accept("WITH") else {}
    kind = _option_kind(kind, options.pop("TYPE", None))
    ttl = options.pop("TTL_SECONDS", None)
    if options:
        raise InvalidSql(f"INVALID_SQL: unsupported table option(s): {', '.join(sorted(options))} (TYPE, TTL_SECONDS)")
    return _checked_table(table, kind, columns, primary, ttl, if_not_exists)


def _checked_table(
    table: TableRef,
    kind: TableType,
    columns: list[ColumnDef],
    primary: list[str],
    ttl: str | None,
    if_not_exists: bool,
) -> CreateTable:
    names = [c.name for c in columns]
    if not columns:
        raise InvalidSql("INVALID_SQL: a table needs at least one column")
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InvalidSql(f"INVALID_SQL: column {duplicate!r} is declared twice")
    if any(n.startswith("_") or n in RESERVED_COLUMNS for n in names):
        raise InvalidSql(
            f"INVALID_SQL: column names starting with '_' and {', '.join(sorted(RESERVED_COLUMNS))} are reserved"
        )
    unknown = [n for n in primary if n not in names]
    if unknown or len(set(primary)) != len(primary):
        raise InvalidSql(f"INVALID_SQL: PRIMARY KEY names unknown or repeated columns: {', '.join(unknown or primary)}")
    by_name = {c.name: c for c in columns}
    if any(by_name[n].type.is_file or by_name[n].type.base in ("BYTES", "JSON") for n in primary):
        raise InvalidSql("INVALID_SQL: FILE, BYTES and JSON columns cannot be part of a PRIMARY KEY")
    # Primary-key columns are NOT NULL, as in every SQL database.
    columns = [ColumnDef(c.name, c.type, c.not_null or c.name in primary) for c in columns]
    ttl_seconds = None
    if ttl is not None:
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL_SECONDS:
            raise InvalidSql(f"INVALID_SQL: TTL_SECONDS must be a whole number from 1 to {MAX_TTL_SECONDS}")
        ttl_seconds = int(ttl)
    if kind is TableType.STREAM and ttl_seconds is None:
        raise InvalidSql("INVALID_SQL: a STREAM table needs WITH (TTL_SECONDS = n)")
    if kind is not TableType.STREAM and ttl_seconds is not None:
        raise InvalidSql("INVALID_SQL: TTL_SECONDS applies to STREAM tables only")
    return CreateTable(table, kind, tuple(columns), tuple(primary), ttl_seconds, if_not_exists)


def _option_kind(written: TableType | None, option: str | None) -> TableType:
    if option is None:
        return written or TableType.USER
    kind = _KINDS.get(option.upper())
    if kind is None:
        raise InvalidSql("INVALID_SQL: TYPE must be 'USER', 'SHARED' or 'STREAM'")
    if written is not None and written is not kind:
        raise InvalidSql(f"INVALID_SQL: CREATE {written.value} TABLE … WITH (TYPE = '{kind.value}') disagree")
    return kind


def _options(c: _Cursor) -> dict[str, str]:
    c.expect_punct(TokenType.L_PAREN, "(")
    options: dict[str, str] = {}
    while True:
        key = c.take().text.upper()
        c.expect_punct(TokenType.EQ, "=")
        value = c.take()
        if value.token_type not in (TokenType.STRING, TokenType.NUMBER, TokenType.VAR):
            raise InvalidSql(f"INVALID_SQL: option {key} takes a string or a number")
        options[key] = value.text
        if c.punct(TokenType.COMMA):
            continue
        c.expect_punct(TokenType.R_PAREN, ")")
        return options


def _name_list(c: _Cursor) -> list[str]:
    c.expect_punct(TokenType.L_PAREN, "(")
    names = [c.name("column")]
    while c.punct(TokenType.COMMA):
        names.append(c.name("column"))
    c.expect_punct(TokenType.R_PAREN, ")")
    return names


def _column(c: _Cursor) -> ColumnDef:
    column, is_key = _column_with_key(c)
    if is_key:
        raise InvalidSql("INVALID_SQL: ALTER TABLE cannot add a PRIMARY KEY column")
    return column


def _column_with_key(c: _Cursor) -> tuple[ColumnDef, bool]:
    name = c.name("column")
    kind = _column_type(c, name)
    not_null = is_key = False
    while True:
        if c.accept("NOT", "NULL"):
            not_null = True
        elif c.accept("NULL"):
            not_null = False
        elif c.accept("PRIMARY", "KEY"):
            is_key = True
        elif c.word() in ("DEFAULT", "UNIQUE", "CHECK", "REFERENCES"):
            raise InvalidSql(f"INVALID_SQL: {c.word()} is not supported on columns")
        else:
            return ColumnDef(name, kind, not_null), is_key


def _column_type(c: _Cursor, name: str) -> ColumnType:
    words: list[str] = []
    while (
        (token := c.peek()) is not None and token.token_type not in _TYPE_END and token.token_type != TokenType.L_PAREN
    ):
        if token.text.upper() in ("DEFAULT", "PRIMARY", "CONSTRAINT", "REFERENCES", "UNIQUE", "CHECK"):
            break
        words.append(c.take().text)
    if not words:
        raise InvalidSql(f"INVALID_SQL: column {name!r} needs a type")
    size: list[int] = []
    if c.punct(TokenType.L_PAREN):
        while True:
            number = c.take()
            if number.token_type != TokenType.NUMBER or not number.text.isdigit():
                raise InvalidSql(f"INVALID_SQL: type of column {name!r}: expected a number, got {number.text!r}")
            size.append(int(number.text))
            if not c.punct(TokenType.COMMA):
                break
        c.expect_punct(TokenType.R_PAREN, ")")
    type_name = " ".join(words)
    if type_name.upper() in ("DECIMAL", "NUMERIC"):
        return column_type(type_name, size[0] if size else None, size[1] if len(size) > 1 else None)
    return column_type(type_name)  # a length, as in VARCHAR(255), is accepted and not enforced


def _drop_table(c: _Cursor) -> DropTable | None:
    c.expect("DROP")
    _kind(c)
    if not c.accept("TABLE"):
        return None
    exists = c.accept("IF", "EXISTS")
    return DropTable(c.table_ref(), exists)


_RETENTION_UNITS = {"S": 1, "M": 60, "H": 3600, "D": 86400}
_RETENTION_WORDS = {
    "SECOND": 1,
    "SECONDS": 1,
    "MINUTE": 60,
    "MINUTES": 60,
    "HOUR": 3600,
    "HOURS": 3600,
    "DAY": 86400,
    "DAYS": 86400,
}


def _create_topic(c: _Cursor) -> CreateTopic:
    exists = c.accept("IF", "NOT", "EXISTS")
    name = c.name("topic")
    partitions, retention = 1, None
    while c.peek() is not None:
        if c.accept("PARTITIONS"):
            partitions = _whole_number(c, "PARTITIONS")
        elif c.accept("RETENTION"):
            retention = _retention(c)
        else:
            break
    return CreateTopic(name, partitions, retention, exists)


def _whole_number(c: _Cursor, what: str) -> int:
    token = c.take()
    if token.token_type != TokenType.NUMBER or not token.text.isdigit():
        raise InvalidSql(f"INVALID_SQL: {what} takes a whole number, got {token.text!r}")
    return int(token.text)


def _retention(c: _Cursor) -> int:
    """``RETENTION 7 DAYS`` (a bare number is seconds) or ``RETENTION '7d'`` (s, m, h, d)."""
    token = c.peek()
    if token is not None and token.token_type == TokenType.STRING:
        c.take()
        text = token.text.strip().upper()
        digits, letter = text[:-1], text[-1:]
        if not digits.isdigit() or letter not in _RETENTION_UNITS:
            raise InvalidSql(f"INVALID_SQL: RETENTION {token.text!r}: write a number and one of s, m, h, d ('7d')")
        return int(digits) * _RETENTION_UNITS[letter]
    number = _whole_number(c, "RETENTION")
    seconds = _RETENTION_WORDS.get(c.word())
    if seconds is not None:
        c.take()
        return number * seconds
    return number


def _alter_topic(c: _Cursor) -> TopicCommand:
    topic = c.name("topic")
    if c.accept("ADD", "SOURCE"):
        source = c.table_ref()
        operations: list[str] = []
        if c.accept("ON"):
            while True:
                word = c.take().text.upper()
                if word not in ("INSERT", "UPDATE", "DELETE"):
                    raise InvalidSql(f"INVALID_SQL: ON takes INSERT, UPDATE or DELETE, got {word!r}")
                if word.lower() not in operations:
                    operations.append(word.lower())
                if not (c.punct(TokenType.COMMA) or c.accept("OR")):
                    break
        return AddTopicSource(topic, source, tuple(operations) or ("insert", "update", "delete"))
    if c.accept("DROP", "SOURCE"):
        return DropTopicSource(topic, c.table_ref())
    raise InvalidSql("INVALID_SQL: ALTER TOPIC supports ADD SOURCE and DROP SOURCE")
