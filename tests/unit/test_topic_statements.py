"""Topic statements as the SQL reader sees them, and how messages are cut into transactions
and spread over partitions (the HTTP behaviour is in tests/integration/test_topics.py)."""

from __future__ import annotations

import pytest

from molesignal.query.errors import InvalidSql
from molesignal.sql.commands import (
    AddTopicSource,
    CreateTopic,
    DropTopic,
    DropTopicSource,
    ShowTopics,
    TableRef,
    parse_command,
)
from molesignal.topics.catalog import Topic
from molesignal.topics.log import MAX_ROW_BYTES, MESSAGES_PER_TRANSACTION, Draft, _chunks, row_json
from molesignal.topics.publisher import partition_of


@pytest.mark.parametrize(
    ("sql", "command"),
    [
        ("CREATE TOPIC orders", CreateTopic("orders")),
        ("create topic if not exists Orders partitions 4", CreateTopic("orders", 4, None, True)),
        ("CREATE TOPIC o RETENTION 7 DAYS PARTITIONS 2", CreateTopic("o", 2, 7 * 86400)),
        ("CREATE TOPIC o RETENTION '36h'", CreateTopic("o", 1, 36 * 3600)),
        ("CREATE TOPIC o RETENTION 90", CreateTopic("o", 1, 90)),
        ("ALTER TOPIC o ADD SOURCE app.t", AddTopicSource("o", TableRef("app", "t"))),
        (
            "ALTER TOPIC o ADD SOURCE t ON UPDATE OR DELETE",
            AddTopicSource("o", TableRef(None, "t"), ("update", "delete")),
        ),
        ("ALTER TOPIC o DROP SOURCE default.logs", DropTopicSource("o", TableRef("default", "logs"))),
        ("DROP TOPIC IF EXISTS o", DropTopic("o", True)),
        ("SHOW TOPICS", ShowTopics()),
    ],
)
def test_topic_statements_parse(sql: str, command: object) -> None:
    assert parse_command(sql) == command


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TOPIC o PARTITIONS",  # no number
        "CREATE TOPIC o PARTITIONS 1.5",
        "CREATE TOPIC o RETENTION 'soon'",
        "CREATE TOPIC o RETENTION 3 WEEKS",  # an unknown unit is left over
        "ALTER TOPIC o ADD SOURCE app.t ON SELECT",
        "ALTER TOPIC o RENAME TO p",
        "DROP TOPIC",
    ],
)
def test_bad_topic_statements_are_invalid_sql(sql: str) -> None:
    with pytest.raises(InvalidSql):
        parse_command(sql)


def test_transactions_hold_at_most_98_messages_and_bounded_bytes() -> None:
    """98 messages, the partition head and the change's once-marker: DynamoDB's 100 actions."""
    small = [Draft(None, "insert", "{}")] * 250
    assert MESSAGES_PER_TRANSACTION + 2 <= 100
    assert [len(c) for c in _chunks(small)] == [MESSAGES_PER_TRANSACTION, MESSAGES_PER_TRANSACTION, 54]
    large = [Draft(None, "insert", "x" * 290_000)] * 30
    assert all(sum(len(d.row_json) for d in c) <= 3_500_000 for c in _chunks(large))
    assert sum(len(c) for c in _chunks(large)) == 30


def test_a_row_too_large_for_an_item_is_published_as_truncated() -> None:
    assert row_json({"blob": "y" * MAX_ROW_BYTES}).startswith('{"truncated": true')
    assert row_json({"id": 1}) == '{"id":1}'


def test_one_key_always_goes_to_one_partition() -> None:
    topic = Topic("org", "t", "uid", partitions=8, retention_s=60)
    partitions = {partition_of(topic, Draft("42", op, f'{{"v":{v}}}')) for op in ("insert", "update") for v in range(5)}
    assert len(partitions) == 1
    spread = {partition_of(topic, Draft(None, "insert", f'{{"n":{n}}}')) for n in range(200)}
    assert spread == set(range(8))
