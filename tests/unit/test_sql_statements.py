"""Reading spec 004's SQL: statements, wrappers, FILE placeholders and the catalog commands."""

from __future__ import annotations

import pytest

from molesignal.errors import Invalid
from molesignal.lake.tables import TableType
from molesignal.query.errors import InvalidSql
from molesignal.sql import commands as c
from molesignal.sql.statements import bind_file_placeholders, split_statements, unwrap_execute_as


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';' AS s; USE app", ["SELECT ';' AS s", "USE app"]),
        ("SELECT 1 /* a; /* nested; */ b; */ AS one", ["SELECT 1 /* a; /* nested; */ b; */ AS one"]),
        ("SELECT $q$a;b$q$ AS s", ["SELECT $q$a;b$q$ AS s"]),
        ("SELECT E'it\\'s; x' AS s", ["SELECT E'it\\'s; x' AS s"]),
        ("SELECT 1 -- trailing; comment", ["SELECT 1 -- trailing; comment"]),
        ("-- nothing but a comment ;", []),
        ("EXECUTE AS USER 'bob' (SELECT ';'); SELECT 2", ["EXECUTE AS USER 'bob' (SELECT ';')", "SELECT 2"]),
    ],
)
def test_statements_are_cut_where_the_parser_sees_a_semicolon(sql: str, expected: list[str]) -> None:
    assert split_statements(sql) == expected


def test_execute_as_wraps_exactly_one_statement() -> None:
    wrapped = unwrap_execute_as("EXECUTE AS USER 'o''brien' ( SELECT * FROM app.messages ; )")
    assert (wrapped.text, wrapped.as_user) == ("SELECT * FROM app.messages", "o'brien")
    assert unwrap_execute_as("SELECT 1").as_user is None
    for bad in (
        "EXECUTE AS USER 'a' (SELECT 1; SELECT 2)",  # two statements inside
        "EXECUTE AS USER 'a' (EXECUTE AS USER 'b' (SELECT 1))",  # nested
        "EXECUTE AS USER 'a' ()",  # none
        "EXECUTE p(1)",  # a prepared statement, not the wrapper
    ):
        with pytest.raises(InvalidSql):
            unwrap_execute_as(bad)


def test_file_placeholders_become_numbered_parameters_after_the_callers() -> None:
    bound = bind_file_placeholders(
        "INSERT INTO app.docs (id, a, b) VALUES ($1, FILE(\"contract\"), FILE('scan')), ($2, FILE('contract'), NULL)",
        3,
    )
    assert bound.text == "INSERT INTO app.docs (id, a, b) VALUES ($1, $3, $4), ($2, $3, NULL)"
    assert bound.placeholders == {"contract": 3, "scan": 4}
    assert bind_file_placeholders("SELECT file FROM t", 1).placeholders == {}  # a column named file
    with pytest.raises(InvalidSql):
        bind_file_placeholders("INSERT INTO t VALUES (FILE(1))", 1)  # not a name
    with pytest.raises(InvalidSql):
        bind_file_placeholders("INSERT INTO t VALUES (FILE('../../etc/passwd'))", 1)


def test_create_table_reads_types_keys_and_options() -> None:
    command = c.parse_command(
        "CREATE STREAM TABLE IF NOT EXISTS app.events (id BIGINT, kind VARCHAR(20) NOT NULL, amount DECIMAL(10, 2),"
        " at TIMESTAMP, body FILE, PRIMARY KEY (id)) WITH (TTL_SECONDS = 30)"
    )
    assert isinstance(command, c.CreateTable)
    assert command.table == c.TableRef("app", "events")
    assert command.table_type is TableType.STREAM and command.ttl_seconds == 30 and command.if_not_exists
    assert [(col.name, col.type.name, col.not_null) for col in command.columns] == [
        ("id", "BIGINT", True),  # a key column is NOT NULL
        ("kind", "TEXT", True),
        ("amount", "DECIMAL(10,2)", False),
        ("at", "TIMESTAMP", False),
        ("body", "FILE", False),
    ]
    assert command.primary_key == ("id",)
    plain = c.parse_command("CREATE TABLE app.messages (id BIGINT PRIMARY KEY, content TEXT)")
    assert isinstance(plain, c.CreateTable) and plain.table_type is TableType.USER  # KalamDB's default
    shared = c.parse_command("CREATE TABLE app.cfg (k TEXT PRIMARY KEY) WITH (TYPE = 'SHARED')")
    assert isinstance(shared, c.CreateTable) and shared.table_type is TableType.SHARED


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("CREATE TABLE app.t (a INT, a TEXT)", "a column declared twice"),
        ("CREATE TABLE app.t (_a INT)", "a reserved column name"),
        ("CREATE TABLE app.t (file_row_number INT)", "the engine's row-number name"),
        ("CREATE TABLE app.t (a INT PRIMARY KEY, b INT PRIMARY KEY)", "two primary keys"),
        ("CREATE TABLE app.t (a INT, PRIMARY KEY (b))", "a key on a missing column"),
        ("CREATE TABLE app.t (a FILE PRIMARY KEY)", "a FILE key"),
        ("CREATE TABLE app.t (a WIDGET)", "an unknown type"),
        ("CREATE TABLE app.t (a INT DEFAULT 1)", "DEFAULT"),
        ("CREATE STREAM TABLE app.t (a INT)", "a STREAM table without a TTL"),
        ("CREATE TABLE app.t (a INT) WITH (TTL_SECONDS = 5)", "a TTL on a USER table"),
        ("CREATE TABLE app.t (a INT) WITH (STORAGE_ID = 'x')", "an unknown option"),
        ("CREATE TABLE app.t (a DECIMAL(40, 2))", "a precision past 38"),
        ("CREATE TABLE app.t (a INT); DROP TABLE x", "trailing text"),
        ('CREATE TABLE "a-b".t (a INT)', "a namespace name outside [a-z0-9_]"),
        ("ALTER TABLE app.t ADD COLUMN x INT NOT NULL", "NOT NULL for rows that exist"),
        ("ALTER TABLE app.t DROP COLUMN x", "anything but ADD COLUMN"),
    ],
)
def test_table_statements_refuse_what_they_cannot_honour(sql: str, why: str) -> None:
    with pytest.raises(Invalid) as refused:
        c.parse_command(sql)
    assert refused.value.code == "INVALID_SQL", why


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SHOW NAMESPACES", c.ShowNamespaces()),
        ("CREATE NAMESPACE IF NOT EXISTS App", c.CreateNamespace("app", True)),
        ("DROP NAMESPACE IF EXISTS app CASCADE", c.DropNamespace("app", True, True)),
        ("USE app", c.UseNamespace("app")),
        ("USE NAMESPACE app", c.UseNamespace("app")),
        ("SET NAMESPACE = app", c.UseNamespace("app")),
        ("SHOW TABLES IN NAMESPACE app", c.ShowTables("app")),
        ("SHOW TABLES", c.ShowTables()),
        ("DESC TABLE app.t", c.Describe(c.TableRef("app", "t"))),
        ("DROP SHARED TABLE IF EXISTS app.t", c.DropTable(c.TableRef("app", "t"), True)),
        ("SELECT 1", None),
        ("CREATE VIEW v AS SELECT 1", None),  # not a command: the guard refuses it
    ],
)
def test_catalog_commands(sql: str, expected: object) -> None:
    assert c.parse_command(sql) == expected
