"""One ``POST /v1/api/sql`` request: its statements, run in order, one result each.

The request's namespace (``namespace_id``) is where unqualified names are looked up first; a
``USE`` changes it for the statements after it (the client keeps it for later requests, as
spec 004 says). There is no transaction across statements: each commits on its own, and the
first that fails stops the request, its error saying which statement it was and how many
came before it. ``$n`` parameters and ``FILE(...)`` uploads go with exactly one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError

from molesignal.auth.principal import Principal
from molesignal.errors import DomainError
from molesignal.lake.namespaces import DEFAULT_NAMESPACE, Namespaces, check_name, is_stream_namespace
from molesignal.query.catalog import ScopeUser
from molesignal.query.errors import InvalidSql, PermissionDenied
from molesignal.query.guard import FORBIDDEN_NODES, require_text
from molesignal.query.service import QueryRequest, QueryService
from molesignal.sql import commands as c
from molesignal.sql.acting import scope_user_for
from molesignal.sql.ddl import DDL_ROLE, Ddl
from molesignal.sql.files import Upload
from molesignal.sql.results import StatementResult
from molesignal.sql.statements import bind_file_placeholders, split_statements, unwrap_execute_as
from molesignal.wording import a_or_an


class ParamsWithBatch(InvalidSql):
    code = "PARAMS_WITH_BATCH"


@dataclass
class SqlSession:
    principal: Principal
    service: QueryService
    namespace: str | None = None
    uploads: dict[str, Upload] = field(default_factory=dict)
    source_ip: str = ""

    def __post_init__(self) -> None:
        if self.namespace is not None:
            self.namespace = self._checked_namespace(self.namespace)

    def _checked_namespace(self, name: str) -> str:
        name = check_name(name, "namespace")
        if is_stream_namespace(self.principal.org_id, name):
            return DEFAULT_NAMESPACE
        Namespaces(self.service.table).get(self.principal.org_id, name)
        return name

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[StatementResult]:
        statements = split_statements(sql)
        if not statements:
            raise InvalidSql("INVALID_SQL: the SQL holds no statement")
        if params and len(statements) > 1:
            raise ParamsWithBatch("PARAMS_WITH_BATCH: $n parameters go with exactly one statement")
        if self.uploads and len(statements) > 1:
            raise InvalidSql("INVALID_SQL: file uploads go with exactly one statement")
        results: list[StatementResult] = []
        for index, statement in enumerate(statements):
            try:
                results.append(self._statement(statement, params))
            except DomainError as exc:
                if len(statements) > 1 and exc.details is None:
                    exc.details = {"statement": index + 1, "completed_statements": index}
                raise
        return results

    def _statement(self, text: str, params: Sequence[Any]) -> StatementResult:
        wrapped = unwrap_execute_as(text)
        head = wrapped.text.split(None, 1)[0].upper()
        if head in ("CREATE", "DROP", "ALTER") and not self.principal.holds(DDL_ROLE):
            who = a_or_an(self.principal.role.value)
            raise PermissionDenied(f"PERMISSION_DENIED: {head} needs role dba ({who} cannot change the catalog)")
        scope = scope_user_for(self.service.table, self.principal, wrapped.as_user)
        binding = bind_file_placeholders(wrapped.text, len(params) + 1)
        command = c.parse_command(binding.text)
        if command is not None:
            if wrapped.as_user is not None:
                raise InvalidSql("INVALID_SQL: EXECUTE AS USER wraps a SELECT, INSERT, UPDATE or DELETE")
            if binding.placeholders:
                raise InvalidSql('INVALID_SQL: FILE("…") goes in INSERT and UPDATE values only')
            return self._command(command)
        tree = parse_statement(binding.text)
        if isinstance(tree, exp.Query):
            if binding.placeholders:
                raise InvalidSql('INVALID_SQL: FILE("…") goes in INSERT and UPDATE values only')
            return self._select(binding.text, params, scope)
        from molesignal.sql.dml import Dml

        dml = Dml(self.principal, self.service, self.namespace, scope, self.source_ip)
        return dml.run(tree, params, binding.placeholders, self.uploads)

    def _select(self, text: str, params: Sequence[Any], scope: ScopeUser) -> StatementResult:
        request = QueryRequest(sql=text, params=params, namespace=self.namespace, scope_user=scope)
        outcome = self.service.run(self.principal, request)
        return StatementResult(outcome.columns, outcome.rows, len(outcome.rows), scope.username)

    def _command(self, command: c.Command) -> StatementResult:
        if isinstance(command, c.TopicCommand):
            from molesignal.sql.topic_ddl import TopicDdl

            return TopicDdl(self.service.table, self.principal, self.source_ip).run(command, self.namespace)
        ddl = Ddl(self.service.table, self.principal, self.source_ip)
        if isinstance(command, c.UseNamespace):
            result = ddl.use(command)
            self.namespace = str(result.rows[0][0])
            return result
        if isinstance(command, c.ShowNamespaces):
            return ddl.show_namespaces()
        if isinstance(command, c.CreateNamespace):
            return ddl.create_namespace(command)
        if isinstance(command, c.DropNamespace):
            result = ddl.drop_namespace(command)
            if self.namespace == command.name:
                self.namespace = None
            return result
        if isinstance(command, c.ShowTables):
            return ddl.show_tables(command, self.namespace)
        if isinstance(command, c.Describe):
            return ddl.describe(command, self.namespace)
        if isinstance(command, c.CreateTable):
            return ddl.create_table(command, self.namespace)
        if isinstance(command, c.AddColumn):
            return ddl.add_column(command, self.namespace)
        return ddl.drop_table(command, self.namespace)


_STATEMENTS = (exp.Query, exp.Insert, exp.Update, exp.Delete)


def parse_statement(text: str) -> exp.Expr:
    """One SELECT-style query, INSERT, UPDATE or DELETE; anything else is refused."""
    require_text(text, "the statement")
    try:
        parsed = [s for s in sqlglot.parse(text, read="duckdb", error_level=ErrorLevel.RAISE) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise InvalidSql(f"INVALID_SQL: could not parse the statement{where}: {first.get('description', exc)}") from exc
    except (SqlglotError, ValueError, RecursionError) as exc:
        raise InvalidSql(f"INVALID_SQL: could not parse the statement: {str(exc)[:200]}") from exc
    if len(parsed) != 1:
        raise InvalidSql(f"INVALID_SQL: expected one statement, got {len(parsed)}")
    tree = parsed[0]
    if not isinstance(tree, _STATEMENTS):
        kind = type(tree).__name__.upper()
        if not isinstance(tree, FORBIDDEN_NODES):
            raise InvalidSql(f"INVALID_SQL: not a statement: {tree.sql(dialect='duckdb')[:80]!r}")
        raise PermissionDenied(
            f"PERMISSION_DENIED: {kind} is not supported (SELECT, INSERT, UPDATE, DELETE and the namespace and "
            "table statements of docs/sql.md are)"
        )
    return tree
