"""INSERT, UPDATE and DELETE on SQL tables, and DELETE on ingest streams (erasure).

Every value a statement computes — an INSERT's source rows, an UPDATE's new values, a
WHERE clause — is evaluated by the query engine, confined exactly like a query: its parts
are checked by the guard and every table or stream they name is read from its own files
only. The statement's own target is read with where each row is stored (its file and its
position in it), so the rows to change are found in the same pass that evaluates the WHERE
clause, and each affected file is then rewritten copy-on-write and swapped in one manifest
transaction (``molesignal.lake.table_store``, ``molesignal.lake.stream_rewrite``).

Who may: INSERT, UPDATE and DELETE on tables take ``editor`` or a role that covers it; on a
USER table they touch the scope of the caller (or of the user an ``EXECUTE AS USER`` names).
STREAM tables are append-only. Ingest streams take no INSERT or UPDATE (the ingest API
writes them); DELETE on a stream is an erasure and takes ``dba``. SYSTEM tables are read-only.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from molesignal import audit
from molesignal.auth.principal import Principal, Role
from molesignal.clock import now_us
from molesignal.errors import Conflict
from molesignal.lake.changes import RowChange, publish, wants_durable
from molesignal.lake.outbox import Outbox
from molesignal.lake.streams import SEALED_COLUMNS, Stream, Streams
from molesignal.lake.table_store import (
    MAX_REWRITES_PER_COMMIT,
    Change,
    StagedFile,
    TableGone,
    TableStore,
    VersionConflict,
    arrow_type,
    conform,
    pk_candidates,
)
from molesignal.lake.tables import INSERTED_AT, ColumnDef, ScopeFiles, TableDef, TableNotFound, Tables, TableType
from molesignal.query.catalog import Catalog, ResolvedTable, ScopeUser
from molesignal.query.duck import DuckEngine, EngineSession
from molesignal.query.errors import InvalidSql, PermissionDenied, QueryLimitExceeded
from molesignal.query.guard import bind_params, relation_name
from molesignal.query.service import QueryRequest, QueryService, check_own_files, lake_uri
from molesignal.query.table_scan import FILE_COLUMN, ROW_COLUMN, stream_rows, table_relation
from molesignal.quotas import Limiter
from molesignal.settings import get_settings
from molesignal.sql.files import StoredFiles, Upload, blob_keys_of, store_uploads
from molesignal.sql.results import StatementResult, done
from molesignal.wording import a_or_an

WRITE_ROLE = Role.EDITOR
ERASE_ROLE = Role.DBA
SMALL_FILE_BYTES = 1024 * 1024
MERGE_FANIN = 8  # an INSERT folds this many small files of its scope into its own file
COMMIT_ATTEMPTS = 20
_INTERNAL_SOURCE = "__ms_src"
_INTERNAL_KEYS = "__ms_keys"


class PrimaryKeyViolation(Conflict):
    code = "PRIMARY_KEY_VIOLATION"


class NotNullViolation(InvalidSql):
    code = "NOT_NULL_VIOLATION"


_ALLOWED_ARGS: dict[type[exp.Expr], set[str]] = {
    exp.Insert: {"this", "expression"},
    exp.Update: {"this", "expressions", "where"},
    exp.Delete: {"this", "where"},
}


def _refuse_unsupported(tree: exp.Expr) -> None:
    allowed = _ALLOWED_ARGS[type(tree)]
    extra = sorted(k for k, v in tree.args.items() if v and k not in allowed)
    if extra:
        names = {"with_": "WITH", "conflict": "ON CONFLICT", "returning": "RETURNING", "alternative": "OR REPLACE"}
        shown = ", ".join(names.get(k, k.upper()) for k in extra)
        raise InvalidSql(f"INVALID_SQL: {type(tree).__name__.upper()} with {shown} is not supported")


def _backoff(attempt: int) -> None:
    time.sleep(min(0.2, 0.005 * 2**attempt) * (0.5 + secrets.randbelow(1000) / 1000))


@dataclass
class Dml:
    principal: Principal
    service: QueryService
    namespace: str | None
    scope: ScopeUser
    source_ip: str = ""
    stored: StoredFiles = field(default_factory=StoredFiles)
    uncertain: bool = False  # a commit failed without saying whether it happened

    @property
    def _request(self) -> QueryRequest:
        return QueryRequest(sql="", namespace=self.namespace, scope_user=self.scope)

    def _catalog(self) -> Catalog:
        return self.service.catalog(self.principal, self._request)

    def _timeout(self) -> float:
        return get_settings().query_timeout_s

    def run(
        self,
        tree: exp.Expr,
        params: Sequence[Any],
        placeholders: Mapping[str, int],
        uploads: Mapping[str, Upload],
    ) -> StatementResult:
        _refuse_unsupported(tree)
        catalog = self._catalog()
        target_node = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if not isinstance(target_node, exp.Table):
            raise InvalidSql("INVALID_SQL: unsupported target")
        key = catalog.resolve(relation_name(target_node))
        if key in catalog.system:
            raise PermissionDenied(f"PERMISSION_DENIED: SYSTEM tables are read-only ({target_node.sql()})")
        if key not in catalog.tables:
            return self._on_stream(tree, key, catalog, params, placeholders)
        target = catalog.tables[key]
        self._require(WRITE_ROLE, f"{type(tree).__name__.upper()} on a table")
        definition = target.definition
        if definition.table_type is TableType.STREAM and not isinstance(tree, exp.Insert):
            raise PermissionDenied(f"PERMISSION_DENIED: {definition.qualified} is a STREAM table: append-only")
        all_params = list(params)
        if placeholders or uploads:
            all_params += self._store_files(tree, definition, target.scope, placeholders, uploads)
        try:
            if all_params or any(isinstance(n, exp.Placeholder | exp.Parameter) for n in tree.walk()):
                tree = bind_params(tree, all_params)
            if isinstance(tree, exp.Insert):
                return self._insert(tree, target, catalog)
            if isinstance(tree, exp.Update):
                return self._update(tree, target, catalog)
            if isinstance(tree, exp.Delete):
                return self._delete_rows(tree, target, catalog)
            raise InvalidSql(f"INVALID_SQL: not a change: {type(tree).__name__}")
        except BaseException:
            if not self.uncertain:
                self.stored.abandon(self.service.table)
            raise

    def _require(self, role: Role, what: str) -> None:
        if not self.principal.holds(role):
            raise PermissionDenied(
                f"PERMISSION_DENIED: {what} needs role {role.value} ({a_or_an(self.principal.role.value)} cannot)"
            )

    def _store_files(
        self,
        tree: exp.Expr,
        definition: TableDef,
        scope: str,
        placeholders: Mapping[str, int],
        uploads: Mapping[str, Upload],
    ) -> list[str]:
        if isinstance(tree, exp.Delete):
            raise InvalidSql('INVALID_SQL: FILE("…") goes in INSERT and UPDATE values only')
        if not definition.file_columns:
            raise InvalidSql(f"INVALID_SQL: {definition.qualified} has no FILE column")
        self.stored = store_uploads(definition, scope, placeholders, uploads, table=self.service.table)
        return [ref.to_json() for ref in self.stored.in_parameter_order(placeholders)]

    # --- INSERT ---------------------------------------------------------------------
    def _insert(self, tree: exp.Insert, target: ResolvedTable, catalog: Catalog) -> StatementResult:
        definition = target.definition
        columns = self._insert_columns(tree, definition)
        source = tree.expression
        if isinstance(source, exp.Values):
            widths = {len(row.expressions) if isinstance(row, exp.Tuple) else 1 for row in source.expressions}
            if widths != {len(columns)}:
                raise InvalidSql(f"INVALID_SQL: {len(columns)} column(s) to fill, but rows of {sorted(widths)} values")
            composed: exp.Expr = exp.Select(expressions=[exp.Star()], from_=exp.From(this=source))
        elif isinstance(source, exp.Query):
            composed = source
        else:
            raise InvalidSql("INVALID_SQL: INSERT takes VALUES or a SELECT")
        sql, uris = self.service.compose(self.principal, self._request, composed, [source], catalog)
        limit = get_settings().sql_max_write_rows
        with DuckEngine().session(uris, timeout_s=self._timeout()) as engine:
            raw = engine.arrow(sql, max_rows=limit)
            if raw.num_columns != len(columns):
                raise InvalidSql(
                    f"INVALID_SQL: INSERT names {len(columns)} column(s) but its SELECT gives {raw.num_columns}"
                )
            typed = engine.arrow(_typed_sql(columns), relations={_INTERNAL_SOURCE: _positional(raw)}, max_rows=limit)
        rows = self._rows_at_schema(definition, columns, typed)
        if not rows.num_rows:
            return done(f"0 rows inserted into {definition.qualified}", self.scope.username)
        self._check_not_null(definition, rows, [c.name for c in definition.columns])
        self._check_file_values(definition, rows, [c.name for c in columns])
        self._check_batch_keys(definition, rows)
        Limiter(self.service.table).check_storage(self.principal.org_id, rows.nbytes, actor=self.principal.actor)
        released = self.stored.referenced(v for name in definition.file_columns for v in rows.column(name).to_pylist())
        publish(self._write(target, rows, released))
        return done(f"{rows.num_rows} row(s) inserted into {definition.qualified}", self.scope.username, rows.num_rows)

    @staticmethod
    def _insert_columns(tree: exp.Insert, definition: TableDef) -> list[ColumnDef]:
        if not isinstance(tree.this, exp.Schema):
            return list(definition.columns)
        names = [str(i.name).lower() for i in tree.this.expressions]
        if len(set(names)) != len(names):
            raise InvalidSql("INVALID_SQL: INSERT names a column twice")
        unknown = [n for n in names if definition.column(n) is None]
        if unknown:
            raise InvalidSql(f"INVALID_SQL: {definition.qualified} has no column {unknown[0]!r}")
        return [c for n in names if (c := definition.column(n)) is not None]

    @staticmethod
    def _rows_at_schema(definition: TableDef, columns: Sequence[ColumnDef], typed: pa.Table) -> pa.Table:
        """The statement's rows with every declared column (unnamed ones NULL) and their insertion time."""
        given = {c.name: typed.column(i) for i, c in enumerate(columns)}
        arrays = []
        for column in definition.columns:
            kind = arrow_type(column.type)
            arrays.append(given[column.name].cast(kind) if column.name in given else pa.nulls(typed.num_rows, kind))
        arrays.append(pa.array([now_us()] * typed.num_rows, pa.int64()))
        names = [c.name for c in definition.columns] + [INSERTED_AT]
        return pa.Table.from_arrays(arrays, names=names)

    @staticmethod
    def _check_not_null(definition: TableDef, rows: pa.Table, names: Sequence[str]) -> None:
        for name in names:
            column = definition.column(name)
            if column is not None and column.not_null and rows.column(name).null_count:
                raise NotNullViolation(f"NOT_NULL_VIOLATION: column {name!r} of {definition.qualified} cannot be NULL")

    def _check_file_values(self, definition: TableDef, rows: pa.Table, names: Sequence[str]) -> None:
        """A FILE column takes only files uploaded with this statement (or NULL): a reference
        typed by hand could name someone else's file, and deleting its row would remove it."""
        for name in names:
            if name in definition.file_columns:
                for value in rows.column(name).to_pylist():
                    if value is not None and not self.stored.holds(value):
                        raise InvalidSql(
                            f'INVALID_SQL: column {name!r} is a FILE column: give it FILE("placeholder") and '
                            "upload the part file:placeholder with the statement"
                        )

    @staticmethod
    def _check_batch_keys(definition: TableDef, rows: pa.Table) -> None:
        if not definition.primary_key or rows.num_rows < 2:
            return
        counts = rows.group_by(list(definition.primary_key)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
        if repeated.num_rows:
            sample = repeated.slice(0, 1).drop_columns(["count_all"]).to_pylist()[0]
            raise PrimaryKeyViolation(f"PRIMARY_KEY_VIOLATION: the statement gives key {sample} more than once")

    def _existing_keys(self, files: ScopeFiles, rows: pa.Table) -> None:
        """Refuse keys the scope already holds (checked against the files whose range may hold them)."""
        definition = files.table
        if not definition.primary_key or not files.entries:
            return
        keys = rows.select(list(definition.primary_key))
        candidates = files.entries
        if len(definition.primary_key) == 1:
            bounds = pc.min_max(keys.column(0))
            candidates = pk_candidates(candidates, bounds["min"].as_py(), bounds["max"].as_py())
        if not candidates:
            return
        relation = table_relation(definition, candidates, lake_uri)
        on = exp.and_(
            *(
                exp.EQ(this=exp.column(k, table="t", quoted=True), expression=exp.column(k, table="n", quoted=True))
                for k in definition.primary_key
            )
        )
        query = (
            exp.select(*(exp.column(k, table="t", quoted=True) for k in definition.primary_key))
            .from_(exp.Subquery(this=relation, alias=exp.TableAlias(this=exp.to_identifier("t"))))
            .join(
                exp.Table(this=exp.to_identifier(_INTERNAL_KEYS), alias=exp.TableAlias(this=exp.to_identifier("n"))),
                on=on,
            )
            .limit(1)
        )
        uris = tuple(lake_uri(str(e["key"])) for e in candidates)
        with DuckEngine().session(uris, timeout_s=self._timeout()) as engine:
            found = engine.arrow(query.sql(dialect="duckdb"), relations={_INTERNAL_KEYS: keys}, max_rows=1)
        if found.num_rows:
            raise PrimaryKeyViolation(
                f"PRIMARY_KEY_VIOLATION: {definition.qualified} already holds key {found.to_pylist()[0]}"
            )

    def _write(self, target: ResolvedTable, rows: pa.Table, released: list[str]) -> RowChange:
        """Commit ``rows`` into the scope (with up to MERGE_FANIN of its small files folded in);
        returns the change committed."""
        definition = target.definition
        store = TableStore(self.service.table)
        tables = Tables(self.service.table)
        files = target.files or tables.scope_files(definition, target.scope)
        for attempt in range(COMMIT_ATTEMPTS):
            self._existing_keys(files, rows)
            small = [e for e in files.entries if int(e["bytes"]) < SMALL_FILE_BYTES]
            merged = small[:MERGE_FANIN] if len(small) >= MERGE_FANIN else []
            data = pa.concat_tables([*(store.read(definition, e) for e in merged), rows])
            announced, outbox = self._announce(files, "insert", rows.num_rows, rows)
            staged = store.stage(files, data)
            change = Change(
                added=[staged], removed=merged, rows_delta=rows.num_rows, released_blobs=released, outbox=outbox
            )
            try:
                self._commit(store, files, change)
            except VersionConflict:
                store.abandon(definition, [staged])  # the transaction was refused: its file is no one's
                _backoff(attempt)
                files = tables.scope_files(definition, target.scope)
                continue
            except TableGone as exc:
                store.abandon(definition, [staged])
                raise TableNotFound(f"TABLE_NOT_FOUND: {definition.qualified} was dropped") from exc
            except BaseException:
                if not self.uncertain:
                    store.abandon(definition, [staged])
                raise
            self._committed(released)
            return announced
        raise Conflict(f"CONFLICT: {definition.qualified} kept changing; run the statement again", code="CONFLICT")

    def _commit(self, store: TableStore, files: ScopeFiles, change: Change) -> int:
        """The scope's commit. A failure other than a refused transaction (a timeout, a lost
        connection) leaves it unknown whether the commit happened: then nothing the statement
        wrote may be deleted here (the sweep decides later, from the manifest)."""
        try:
            return store.commit(files, change)
        except (VersionConflict, TableGone):
            raise
        except BaseException:
            self.uncertain = True
            raise

    # --- UPDATE and DELETE on tables ----------------------------------------------------------
    def _update(self, tree: exp.Update, target: ResolvedTable, catalog: Catalog) -> StatementResult:
        definition = target.definition
        assignments: list[tuple[ColumnDef, exp.Expr]] = []
        for item in tree.expressions:
            if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
                raise InvalidSql("INVALID_SQL: UPDATE … SET takes column = value pairs")
            column = definition.column(str(item.this.name).lower())
            if column is None:
                raise InvalidSql(f"INVALID_SQL: {definition.qualified} has no column {item.this.name!r}")
            if column.name in definition.primary_key:
                raise InvalidSql("INVALID_SQL: primary-key columns cannot be updated; DELETE the row and INSERT it")
            if any(column.name == done_.name for done_, _ in assignments):
                raise InvalidSql(f"INVALID_SQL: UPDATE sets column {column.name!r} twice")
            assignments.append((column, item.expression))
        committed = self._rewrite(tree, target, catalog, assignments, "update")
        changed = committed.row_count if committed else 0
        if committed:
            publish(committed)
        return done(f"{changed} row(s) updated in {definition.qualified}", self.scope.username, changed)

    def _delete_rows(self, tree: exp.Delete, target: ResolvedTable, catalog: Catalog) -> StatementResult:
        definition = target.definition
        committed = self._rewrite(tree, target, catalog, [], "delete")
        changed = committed.row_count if committed else 0
        if committed:
            publish(committed)
        return done(f"{changed} row(s) deleted from {definition.qualified}", self.scope.username, changed)

    def _rewrite(
        self,
        tree: exp.Update | exp.Delete,
        target: ResolvedTable,
        catalog: Catalog,
        assignments: Sequence[tuple[ColumnDef, exp.Expr]],
        operation: str,
    ) -> RowChange | None:
        """Find the rows the WHERE clause matches (and their new values), rewrite their files,
        commit; again from the start if another statement committed to the scope meanwhile.
        Returns the change committed (None: no row matched)."""
        definition = target.definition
        alias = tree.this.alias_or_name
        where = tree.args.get("where")
        predicate = where.this if isinstance(where, exp.Where) else None
        tables = Tables(self.service.table)
        store = TableStore(self.service.table)
        files = target.files or tables.scope_files(definition, target.scope)
        for attempt in range(COMMIT_ATTEMPTS):
            hits = self._table_hits(files, catalog, alias, predicate, assignments)
            if hits.num_rows == 0:
                return None
            by_uri = {lake_uri(str(e["key"])): e for e in files.entries}
            affected = sorted({str(u) for u in hits.column(FILE_COLUMN).to_pylist()})
            if len(affected) > MAX_REWRITES_PER_COMMIT:
                raise QueryLimitExceeded(
                    f"QUERY_LIMIT_EXCEEDED: the statement changes rows in {len(affected)} files of "
                    f"{definition.qualified}; one statement rewrites at most {MAX_REWRITES_PER_COMMIT}: "
                    "narrow the WHERE"
                )
            staged: list[StagedFile] = []
            removed: list[dict[str, Any]] = []
            dropped_blobs: list[str] = []
            after: list[pa.Table] = []
            try:
                for uri in affected:
                    entry = by_uri[uri]
                    mine = hits.filter(pc.equal(hits.column(FILE_COLUMN), uri))
                    data = store.read(definition, entry)
                    rewritten, gone, changed_rows = self._apply(definition, target.scope, data, mine, assignments)
                    dropped_blobs += gone
                    removed.append(entry)
                    if changed_rows is not None:
                        after.append(changed_rows)
                    if rewritten.num_rows:
                        staged.append(store.stage(files, rewritten))
                rows_delta = 0 if assignments else -hits.num_rows
                released = self.stored.referenced(
                    v for column, _ in assignments for v in hits.column(column.name).to_pylist()
                )
                announced, outbox = self._announce(
                    files, operation, hits.num_rows, pa.concat_tables(after) if after else None
                )
                change = Change(
                    added=staged,
                    removed=removed,
                    rows_delta=rows_delta,
                    released_blobs=released,
                    dropped_blobs=dropped_blobs,
                    outbox=outbox,
                )
                self._commit(store, files, change)
                self._committed(released)
                return announced
            except VersionConflict:
                store.abandon(definition, staged)
                _backoff(attempt)
                files = tables.scope_files(definition, target.scope)
                target.files = files
            except TableGone as exc:
                store.abandon(definition, staged)
                raise TableNotFound(f"TABLE_NOT_FOUND: {definition.qualified} was dropped") from exc
            except BaseException:
                if not self.uncertain:
                    store.abandon(definition, staged)
                raise
        raise Conflict(f"CONFLICT: {definition.qualified} kept changing; run the statement again", code="CONFLICT")

    def _table_hits(
        self,
        files: ScopeFiles,
        catalog: Catalog,
        alias: str,
        predicate: exp.Expr | None,
        assignments: Sequence[tuple[ColumnDef, exp.Expr]],
    ) -> pa.Table:
        """(file, row, new values…) of every row the statement changes, in one engine pass."""
        definition = files.table
        if not files.entries:
            return pa.table({FILE_COLUMN: pa.array([], pa.string()), ROW_COLUMN: pa.array([], pa.int64())})
        relation = table_relation(definition, files.entries, lake_uri, with_file=True)
        items: list[exp.Expr] = [exp.column(FILE_COLUMN, quoted=True), exp.column(ROW_COLUMN, quoted=True)]
        parts: list[exp.Expr] = []
        for column, value in assignments:
            parts.append(value)
            items.append(
                exp.Alias(
                    this=exp.Cast(this=value, to=exp.DataType.build(column.type.duck, dialect="duckdb")),
                    alias=exp.to_identifier(column.name, quoted=True),
                )
            )
        composed = exp.Select(
            expressions=items,
            from_=exp.From(
                this=exp.Subquery(this=relation, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
            ),
        )
        if predicate is not None:
            parts.append(predicate)
            composed.set("where", exp.Where(this=predicate))
        sql, uris = self.service.compose(self.principal, self._request, composed, parts, catalog)
        own = tuple(lake_uri(str(e["key"])) for e in files.entries)
        with DuckEngine().session((*own, *uris), timeout_s=self._timeout()) as engine:
            return engine.arrow(sql, max_rows=get_settings().sql_max_write_rows)

    def _committed(self, released: list[str]) -> None:
        """The commit stored the rows: files of this statement no row refers to go now."""
        self.stored.committed = True
        self.stored.abandon(self.service.table, keep=released)

    def _apply(
        self,
        definition: TableDef,
        scope: str,
        data: pa.Table,
        hits: pa.Table,
        assignments: Sequence[tuple[ColumnDef, exp.Expr]],
    ) -> tuple[pa.Table, list[str], pa.Table | None]:
        """A file's rows after the statement, the stored files no row refers to any more, and the
        changed rows: as they are now (UPDATE), or as they were (DELETE)."""
        positions = pc.sort_indices(hits.column(ROW_COLUMN))
        hits = hits.take(positions)
        rows = hits.column(ROW_COLUMN)
        mask = pc.is_in(pa.array(range(data.num_rows), pa.int64()), value_set=rows.combine_chunks())
        if not assignments:
            deleted = data.filter(mask)
            gone = [
                k
                for name in definition.file_columns
                for k in blob_keys_of(definition, scope, deleted.column(name).to_pylist())
            ]
            return data.filter(pc.invert(mask)), gone, deleted
        columns = {name: data.column(name) for name in data.column_names}
        gone = []
        for column, _ in assignments:
            new_values = hits.column(column.name).cast(arrow_type(column.type))
            if column.name in definition.file_columns:
                for value in new_values.to_pylist():
                    if value is not None and not self.stored.holds(value):
                        raise InvalidSql(
                            f'INVALID_SQL: column {column.name!r} is a FILE column: give it FILE("placeholder") and '
                            "upload the part file:placeholder with the statement"
                        )
                gone += blob_keys_of(definition, scope, data.filter(mask).column(column.name).to_pylist())
            columns[column.name] = pc.replace_with_mask(
                data.column(column.name).combine_chunks(), mask, new_values.combine_chunks()
            )
        rewritten = pa.Table.from_arrays(list(columns.values()), names=list(columns))
        self._check_not_null(definition, rewritten, [c.name for c, _ in assignments])
        return conform(definition, rewritten), gone, rewritten.filter(mask)

    # --- DELETE on an ingest stream --------------------------------------------------------
    def _on_stream(
        self,
        tree: exp.Expr,
        key: str,
        catalog: Catalog,
        params: Sequence[Any],
        placeholders: Mapping[str, int],
    ) -> StatementResult:
        stream = catalog.streams.get(key)
        if stream is None:
            raise TableNotFound(f"TABLE_NOT_FOUND: stream {key!r} does not exist")
        if not isinstance(tree, exp.Delete):
            raise PermissionDenied(
                f"PERMISSION_DENIED: {key} is an ingest stream, written by the ingest API; SQL only deletes from it"
            )
        if placeholders:
            raise InvalidSql('INVALID_SQL: FILE("…") goes in INSERT and UPDATE values only')
        self._require(ERASE_ROLE, "DELETE on an ingest stream")
        if params or any(isinstance(n, exp.Placeholder | exp.Parameter) for n in tree.walk()):
            tree = bind_params(tree, params)
        where = tree.args.get("where")
        predicate = where.this if isinstance(where, exp.Where) else None
        hidden = SEALED_COLUMNS.get(stream.name, frozenset())
        if predicate is not None and any(c.name.lower() in hidden for c in predicate.find_all(exp.Column)):
            raise PermissionDenied(f"PERMISSION_DENIED: {', '.join(sorted(hidden))} cannot be named in SQL")
        deleted = self._erase(stream, tree.this.alias_or_name, predicate, catalog)
        audit.record_by(
            self.service.table,
            self.principal,
            "sql.stream.delete",
            target=stream.name,
            source_ip=self.source_ip,
            details={
                "rows": deleted,
                "where": predicate.sql(dialect="duckdb")[:500] if predicate is not None else None,
            },
        )
        if deleted:
            publish(
                RowChange(
                    org_id=self.principal.org_id,
                    relation=f"default.{stream.name}",
                    operation="delete",
                    row_count=deleted,
                    actor=self.scope.username,
                )
            )
        return done(f"{deleted} row(s) deleted from stream {stream.name}", self.scope.username, deleted)

    def _erase(self, stream: Stream, alias: str, predicate: exp.Expr | None, catalog: Catalog) -> int:
        """Delete the rows the predicate matches now: found in one pass, then rewritten a batch
        of files per commit. A batch that loses a race (a compaction or retention changed one of
        its files first) sends the statement back to finding what is left to delete. Compaction
        is held off the stream meanwhile (it would win every race against a long find)."""
        from molesignal.lake.stream_rewrite import FILES_PER_COMMIT, RewriteLost, StreamRewriter

        org_id = self.principal.org_id
        rewriter = StreamRewriter(self.service.table)
        streams = Streams(self.service.table)
        nonce = secrets.token_hex(8)
        deleted = lost = 0
        try:
            while True:
                streams.hold_compaction(org_id, stream.name)  # per round: a long erasure keeps it
                entries = streams.manifest(org_id, stream.name)
                check_own_files(org_id, stream.name, entries)
                hits = self._stream_hits(entries, catalog, alias, predicate)
                by_uri = {lake_uri(str(e["key"])): e for e in entries}
                pending = sorted(hits)
                try:
                    while pending:
                        batch, pending = pending[:FILES_PER_COMMIT], pending[FILES_PER_COMMIT:]
                        files = [(by_uri[u], hits[u]) for u in batch]
                        deleted += self._erase_batch(rewriter, stream.name, files, nonce)
                    return deleted
                except RewriteLost:
                    lost += 1
                    if lost >= COMMIT_ATTEMPTS:
                        raise Conflict(
                            f"CONFLICT: stream {stream.name} kept changing; {deleted} row(s) were deleted, run the "
                            "statement again to delete the rest",
                            code="CONFLICT",
                        ) from None
                    _backoff(lost)
        finally:
            streams.release_compaction(org_id, stream.name)

    def _erase_batch(
        self, rewriter: Any, stream: str, files: Sequence[tuple[dict[str, Any], list[int]]], nonce: str
    ) -> int:
        from molesignal.lake.stream_rewrite import RewriteLost

        org_id = self.principal.org_id
        rewritten = []
        try:
            for entry, rows in files:
                rewritten.append(rewriter.without_rows(org_id, stream, entry, rows, nonce))
        except BaseException:
            rewriter.abandon(org_id, rewritten)
            raise
        try:
            rewriter.commit(org_id, stream, rewritten)
        except RewriteLost:
            rewriter.abandon(org_id, rewritten)  # refused: its files are no one's
            raise
        except BaseException:
            self.uncertain = True  # it may have committed: the sweep decides, from the manifest
            raise
        return sum(r.removed_rows for r in rewritten)

    def _stream_hits(
        self, entries: Sequence[dict[str, Any]], catalog: Catalog, alias: str, predicate: exp.Expr | None
    ) -> dict[str, list[int]]:
        """File URI → positions of the rows the predicate matches, for the files that have any."""
        if not entries:
            return {}
        own = tuple(lake_uri(str(e["key"])) for e in entries)
        relation = stream_rows(own)
        composed = exp.Select(
            expressions=[
                exp.column(FILE_COLUMN, quoted=True),
                exp.Alias(
                    this=exp.Anonymous(this="list", expressions=[exp.column(ROW_COLUMN, quoted=True)]),
                    alias=exp.to_identifier("rows"),
                ),
            ],
            from_=exp.From(
                this=exp.Subquery(this=relation, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
            ),
            group=exp.Group(expressions=[exp.column(FILE_COLUMN, quoted=True)]),
        )
        parts: list[exp.Expr] = []
        if predicate is not None:
            parts.append(predicate)
            composed.set("where", exp.Where(this=predicate))
        sql, uris = self.service.compose(self.principal, self._request, composed, parts, catalog)
        with DuckEngine().session((*own, *uris), timeout_s=self._timeout()) as engine:
            found = engine.arrow(sql, max_rows=len(entries))
        return {str(f): list(r) for f, r in zip(found.column(0).to_pylist(), found.column(1).to_pylist(), strict=True)}

    def _announce(
        self, files: ScopeFiles, operation: str, count: int, rows: pa.Table | None
    ) -> tuple[RowChange, dict[str, Any] | None]:
        """The change this attempt commits, and the outbox item's put when a topic sources it."""
        version = max(files.state.version + 1, 1)  # what the commit moves the scope to
        change = self._change(files.table, files.state.scope, operation, count, version, rows)
        if not wants_durable(change):
            return change, None
        return Outbox(self.service.table).entry(change)

    def _change(
        self, definition: TableDef, scope: str, operation: str, count: int, version: int, rows: pa.Table | None
    ) -> RowChange:
        return RowChange(
            org_id=definition.org_id,
            relation=definition.qualified,
            operation=operation,
            row_count=count,
            actor=self.scope.username,
            table_id=definition.table_id,
            scope=scope,
            version=version,
            rows=rows,
        )


def _positional(raw: pa.Table) -> pa.Table:
    return raw.rename_columns([f"c{i}" for i in range(raw.num_columns)])


def _typed_sql(columns: Sequence[ColumnDef]) -> str:
    """The source rows cast, position by position, to the types of the columns they go to."""
    items = [
        exp.Alias(
            this=exp.Cast(this=exp.column(f"c{i}"), to=exp.DataType.build(c.type.duck, dialect="duckdb")),
            alias=exp.to_identifier(c.name, quoted=True),
        )
        for i, c in enumerate(columns)
    ]
    return str(exp.Select(expressions=items, from_=exp.From(this=exp.to_table(_INTERNAL_SOURCE))).sql(dialect="duckdb"))


__all__ = ["Dml", "EngineSession", "NotNullViolation", "PrimaryKeyViolation"]
