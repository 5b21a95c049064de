"""The topics outbox (ADR 0020): a committed change whose publish never happened — its process
died between the commit and the publish (the ``outbox_fault`` hook stands for that) — is
published by the sweeper (``outbox_worker``), and a change published twice is one set of
messages. Produced over HTTP (``POST /v1/api/sql``, ingest), consumed over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import (
    ROOT_PASSWORD,
    bearer,
    create_api_token,
    create_org,
    create_user,
    ensure_setup,
    login,
    sql_ok,
    unique,
)
from tests.support.lake import drain_ingest

CONSUME = "/v1/api/topics/consume"


@pytest.fixture(scope="module")
def org(base_url: str) -> Iterator[dict[str, Any]]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        org_id = create_org(client, root)
        admin = create_user(client, root, "admin", org_id=org_id)
        dba = create_user(client, admin, "dba")
        sql_ok(client, dba, "CREATE NAMESPACE shop")
        ingest = bearer(create_api_token(client, admin, role="ingest"))
        yield {"id": org_id, "dba": dba, "ingest": ingest}


def _sweep() -> dict[str, Any]:
    """One run of the scheduled outbox_worker, as the local scheduler fires it."""
    import registry
    from molesignal.local.scheduler import Scheduler

    return dict(Scheduler(tuple(registry.REGISTRY.schedules)).fire("outbox_worker"))


def _consume(client: httpx.Client, org: dict[str, Any], topic: str, group: str) -> list[dict[str, Any]]:
    body = {"topic_id": topic, "group_id": group, "start": "Earliest", "limit": 1000}
    response = client.post(CONSUME, json=body, headers=org["dba"].headers)
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


def _pending(org_id: str) -> list[dict[str, Any]]:
    from molesignal.lake.outbox import SHARDS, shard_key
    from molesignal.storage.table import Table

    table = Table()
    return [i for s in range(SHARDS) for i in table.query_all(shard_key(s), consistent=True) if i["org_id"] == org_id]


def _table_with_topic(client: httpx.Client, org: dict[str, Any]) -> tuple[str, str]:
    table = f"shop.{unique('o').replace('-', '_')}"
    topic = unique("t").replace("-", "_")
    sql_ok(client, org["dba"], f"CREATE SHARED TABLE {table} (id BIGINT PRIMARY KEY, item TEXT)")
    sql_ok(client, org["dba"], f"CREATE TOPIC {topic}")
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE {table}")
    return table, topic


def test_an_insert_whose_publish_never_happened_is_published_once_by_the_sweeper(
    client: httpx.Client, org: dict[str, Any], use_env: Callable[..., None]
) -> None:
    table, topic = _table_with_topic(client, org)
    use_env(outbox_fault="skip")  # the process "dies" after each commit, before publishing
    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
    sql_ok(client, org["dba"], f"UPDATE {table} SET item = 'bb' WHERE id = 2")
    assert _consume(client, org, topic, "g1") == []  # committed, not published
    assert len(_pending(org["id"])) == 2  # but in the outbox, committed with the rows

    use_env(outbox_fault="", outbox_sweep_after_s=0)
    swept = _sweep()
    again = _sweep()  # a second run finds nothing left

    messages = _consume(client, org, topic, "g1")
    assert [(m["offset"], m["op"], m["row"]) for m in messages] == [
        (0, "insert", {"id": 1, "item": "a"}),
        (1, "insert", {"id": 2, "item": "b"}),
        (2, "update", {"id": 2, "item": "bb"}),
    ]
    assert swept["changes"] == 2 and swept["messages"] == 3 and swept["failed"] == 0
    assert again["changes"] == 0
    assert _pending(org["id"]) == []
    # A change committed normally afterwards follows at the next offset, once.
    sql_ok(client, org["dba"], f"DELETE FROM {table} WHERE id = 1")
    assert [(m["offset"], m["op"]) for m in _consume(client, org, topic, "g2")][-1] == (3, "delete")
    assert len(_consume(client, org, topic, "g3")) == 4


def test_a_change_published_twice_is_written_once(
    client: httpx.Client, org: dict[str, Any], use_env: Callable[..., None]
) -> None:
    from molesignal.lake.outbox import Outbox
    from molesignal.storage.table import Table
    from molesignal.topics.publisher import publish_change

    table, topic = _table_with_topic(client, org)
    use_env(outbox_fault="skip")
    values = ", ".join(f"({i}, 'item {i}')" for i in range(250))  # three transactions of messages
    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES {values}")
    (item,) = _pending(org["id"])
    change = Outbox().load(item)

    # The committing process and the sweeper both publish it (the item is deleted by the first).
    first = publish_change(Table(), change)
    second = publish_change(Table(), change)
    use_env(outbox_fault="", outbox_sweep_after_s=0)
    _sweep()

    messages = _consume(client, org, topic, "once")
    assert first == second == 250
    assert [m["offset"] for m in messages] == list(range(250))
    assert sorted(m["row"]["id"] for m in messages) == list(range(250))


def test_large_rows_travel_through_an_object_that_is_deleted_once_published(
    client: httpx.Client, org: dict[str, Any], use_env: Callable[..., None]
) -> None:
    import secrets

    from molesignal import aws
    from molesignal.settings import get_settings

    table, topic = _table_with_topic(client, org)
    use_env(outbox_fault="skip")
    big = secrets.token_hex(40_000)  # 80 KB that zstd cannot shrink: over the item's inline bound
    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES (1, '{big}')")
    (item,) = _pending(org["id"])
    assert "rows" not in item and str(item["rows_key"]).startswith("outbox/")

    use_env(outbox_fault="", outbox_sweep_after_s=0)
    _sweep()

    assert [m["row"]["item"] for m in _consume(client, org, topic, "g")] == [big]
    listing = aws.client("s3").list_objects_v2(Bucket=get_settings().resource_name("lake"), Prefix=item["rows_key"])
    assert listing.get("KeyCount", 0) == 0


def test_ingested_rows_whose_publish_never_happened_are_published_by_the_sweeper(
    client: httpx.Client, org: dict[str, Any], use_env: Callable[..., None]
) -> None:
    stream = unique("s").replace("-", "_")
    topic = unique("t").replace("-", "_")
    sql_ok(client, org["dba"], f"CREATE TOPIC {topic}")
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE default.{stream}")
    use_env(outbox_fault="skip")
    records = [{"level": "info", "message": f"line {i}"} for i in range(3)]
    assert client.post(f"/api/v1/ingest/{stream}", json=records, headers=org["ingest"]).status_code == 202
    drain_ingest()
    assert _consume(client, org, topic, "tail") == []

    use_env(outbox_fault="", outbox_sweep_after_s=0)
    _sweep()
    _sweep()

    messages = _consume(client, org, topic, "tail")
    assert sorted(m["row"]["message"] for m in messages) == ["line 0", "line 1", "line 2"]
    assert [m["offset"] for m in messages] == [0, 1, 2]


def test_an_unsourced_change_writes_no_outbox_item(client: httpx.Client, org: dict[str, Any]) -> None:
    table = f"shop.{unique('plain').replace('-', '_')}"
    sql_ok(client, org["dba"], f"CREATE SHARED TABLE {table} (id BIGINT PRIMARY KEY)")
    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES (1)")
    assert _pending(org["id"]) == []


def stale_writer_cache(org_id: str) -> Callable[[], None]:
    """What another writer process holds: the org's marker, and the topic list it names, as read
    now, before what the test does next (this process's own cache is refreshed by the DDL;
    another's is not). Returns what puts that stale read back into this process's cache."""
    from molesignal.lake import watch
    from molesignal.storage.table import Table
    from molesignal.topics import publisher

    publisher.sourcing_topics(Table(), org_id, "-", "insert")  # records the org's marker if it never was
    watch.forget(org_id)
    state = watch.Watch().read(org_id)
    publisher.sourcing_topics(Table(), org_id, "-", "insert")  # caches the topic list of that version
    topics = publisher._topic_lists.get(org_id)

    def restore() -> None:
        with watch._lock:
            watch._cache[org_id] = state
        if topics is not None:
            publisher._topic_lists[org_id] = topics

    return restore


def test_a_change_committed_after_add_source_answered_is_published_by_a_writer_with_a_stale_cache(
    client: httpx.Client, org: dict[str, Any], use_env: Callable[..., None]
) -> None:
    """ADD SOURCE answers only after every writer's cached marker (``watch_cache_s``) has
    expired, so a writer whose cache was read just before the ALTER reads it again for the
    next change."""
    use_env(watch_cache_s=4)  # longer than the ALTER itself takes here
    table = f"shop.{unique('late').replace('-', '_')}"
    topic = unique("t").replace("-", "_")
    sql_ok(client, org["dba"], f"CREATE SHARED TABLE {table} (id BIGINT PRIMARY KEY)")
    sql_ok(client, org["dba"], f"CREATE TOPIC {topic}")
    restore_stale = stale_writer_cache(org["id"])
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE {table}")
    restore_stale()  # the writer still holds the marker read before the ALTER

    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES (7)")

    assert [m["row"] for m in _consume(client, org, topic, "g")] == [{"id": 7}]


def test_a_change_that_cannot_be_published_is_left_and_the_sweep_goes_on(
    client: httpx.Client, org: dict[str, Any], use_env: Callable[..., None]
) -> None:
    import secrets

    from molesignal import aws
    from molesignal.settings import get_settings
    from molesignal.storage.table import Table

    table, topic = _table_with_topic(client, org)
    use_env(outbox_fault="skip")
    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES (1, '{secrets.token_hex(40_000)}')")
    (lost,) = _pending(org["id"])
    sql_ok(client, org["dba"], f"INSERT INTO {table} VALUES (2, 'kept')")
    # The large change's rows object is gone (deleted by hand): it cannot be published.
    aws.client("s3").delete_object(Bucket=get_settings().resource_name("lake"), Key=lost["rows_key"])
    try:
        use_env(outbox_fault="", outbox_sweep_after_s=0)
        swept = _sweep()

        assert swept["failed"] == 1 and swept["changes"] == 1
        assert [m["row"] for m in _consume(client, org, topic, "g")] == [{"id": 2, "item": "kept"}]
        assert [i["sk"] for i in _pending(org["id"])] == [lost["sk"]]  # left for an operator, not dropped
    finally:
        Table().delete(lost["pk"], lost["sk"])
