"""Topic statements: CREATE TOPIC, ALTER TOPIC … ADD/DROP SOURCE, DROP TOPIC (dba), SHOW TOPICS
(the roles that consume: service and up). Every change is audited (docs/topics.md)."""

from __future__ import annotations

from molesignal.lake.namespaces import DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, is_stream_namespace
from molesignal.lake.tables import Tables
from molesignal.query.errors import PermissionDenied
from molesignal.sql import commands as c
from molesignal.sql.ddl import Ddl
from molesignal.sql.results import StatementResult, done, listing
from molesignal.topics.catalog import DEFAULT_RETENTION_S, Source, Topics, describe_sources
from molesignal.topics.consumer import require_topic_role


class TopicDdl(Ddl):
    """The topic statements, with the table statements' role check and audit."""

    def run(self, command: c.TopicCommand, current: str | None) -> StatementResult:
        if isinstance(command, c.ShowTopics):
            return self.show()
        if isinstance(command, c.CreateTopic):
            return self.create(command)
        if isinstance(command, c.AddTopicSource):
            return self.add_source(command, current)
        if isinstance(command, c.DropTopicSource):
            return self.drop_source(command, current)
        return self.drop(command)

    def create(self, command: c.CreateTopic) -> StatementResult:
        self._require_dba("CREATE TOPIC")
        retention = DEFAULT_RETENTION_S if command.retention_s is None else command.retention_s
        created = Topics(self.table).create(
            self._org,
            command.name,
            command.partitions,
            retention,
            created_by=self.principal.actor,
            if_not_exists=command.if_not_exists,
        )
        if not created:
            return done(f"topic {command.name} already exists", self.principal.actor)
        self._audit("sql.topic.create", command.name, {"partitions": command.partitions, "retention_s": retention})
        return done(f"topic {command.name} created", self.principal.actor)

    def _relation(self, ref: c.TableRef, current: str | None) -> str:
        """The source's ``namespace.table``: an ingest stream (it may not have landed anything yet)
        or an existing SQL table of the org."""
        namespace = ref.namespace or current or DEFAULT_NAMESPACE
        if is_stream_namespace(self._org, namespace):
            return f"{DEFAULT_NAMESPACE}.{ref.name}"
        if namespace == SYSTEM_NAMESPACE:
            raise PermissionDenied(f"PERMISSION_DENIED: system.{ref.name} is a SYSTEM table; it publishes nothing")
        return Tables(self.table).get(self._org, namespace, ref.name).qualified

    def add_source(self, command: c.AddTopicSource, current: str | None) -> StatementResult:
        self._require_dba("ALTER TOPIC")
        relation = self._relation(command.source, current)
        Topics(self.table).add_source(self._org, command.topic, Source(relation, command.operations))
        self._audit("sql.topic.source.add", command.topic, {"source": relation, "on": list(command.operations)})
        return done(
            f"topic {command.topic} now receives {', '.join(o.upper() for o in command.operations)} of {relation}",
            self.principal.actor,
        )

    def drop_source(self, command: c.DropTopicSource, current: str | None) -> StatementResult:
        self._require_dba("ALTER TOPIC")
        namespace = command.source.namespace or current or DEFAULT_NAMESPACE
        if is_stream_namespace(self._org, namespace):
            namespace = DEFAULT_NAMESPACE
        relation = f"{namespace}.{command.source.name}"
        removed = Topics(self.table).drop_source(self._org, command.topic, relation)
        if removed:
            self._audit("sql.topic.source.drop", command.topic, {"source": relation})
        state = "no longer receives" if removed else "does not receive"
        return done(f"topic {command.topic} {state} changes of {relation}", self.principal.actor)

    def drop(self, command: c.DropTopic) -> StatementResult:
        self._require_dba("DROP TOPIC")
        dropped = Topics(self.table).drop(self._org, command.name, if_exists=command.if_exists)
        if not dropped:
            return done(f"topic {command.name} does not exist", self.principal.actor)
        self._audit("sql.topic.drop", command.name)
        return done(f"topic {command.name} dropped", self.principal.actor)

    def show(self) -> StatementResult:
        require_topic_role(self.principal)
        rows: list[list[object]] = [
            [t.name, t.partitions, t.retention_s, describe_sources(t.sources)]
            for t in Topics(self.table).all(self._org)
        ]
        columns = (
            ("topic_id", "VARCHAR"),
            ("partitions", "BIGINT"),
            ("retention_seconds", "BIGINT"),
            ("sources", "VARCHAR"),
        )
        return listing(columns, rows, self.principal.actor)
