"""Topics over HTTP (spec 004, docs/topics.md): produced by INSERT, UPDATE and DELETE on SQL
tables and by ingest, consumed by groups from Earliest, Latest or an Offset, acknowledged,
redelivered until acknowledged, long-polled; roles, orgs and every bad input refused in the
004 envelope."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import (
    ROOT_PASSWORD,
    Session,
    assert_sql_error,
    bearer,
    create_api_token,
    create_org,
    create_user,
    ensure_setup,
    login,
    rows_of,
    run_sql,
    sql_ok,
    unique,
)
from tests.support.lake import drain_ingest

CONSUME = "/v1/api/topics/consume"
ACK = "/v1/api/topics/ack"


@pytest.fixture(scope="module")
def org(base_url: str) -> Iterator[dict[str, Any]]:
    """One org for the module (its users cost password hashes); each test makes its own topics."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        org_id = create_org(client, root)
        admin = create_user(client, root, "admin", org_id=org_id)
        people: dict[str, Any] = {role: create_user(client, admin, role) for role in ("dba", "service", "editor")}
        sql_ok(client, people["dba"], "CREATE NAMESPACE app")
        sql_ok(client, people["dba"], "CREATE SHARED TABLE app.orders (id BIGINT PRIMARY KEY, item TEXT, qty INT)")
        ingest = bearer(create_api_token(client, admin, role="ingest"))
        yield {"id": org_id, "admin": admin, "ingest": ingest, **people}


def _topic(client: httpx.Client, org: dict[str, Any], ddl: str = "") -> str:
    name = unique("t").replace("-", "_")
    sql_ok(client, org["dba"], f"CREATE TOPIC {name} {ddl}")
    return name


def consume(client: httpx.Client, who: Session, topic: str, group: str, **body: Any) -> dict[str, Any]:
    response = client.post(CONSUME, json={"topic_id": topic, "group_id": group, **body}, headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ack(client: httpx.Client, who: Session, topic: str, group: str, upto: int, partition: int = 0) -> dict[str, Any]:
    body = {"topic_id": topic, "group_id": group, "partition_id": partition, "upto_offset": upto}
    response = client.post(ACK, json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_insert_update_delete_are_messages_with_dense_offsets(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders")
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (1, 'apple', 3), (2, 'pear', 1)")
    sql_ok(client, org["service"], "UPDATE app.orders SET qty = 5 WHERE id = 1")
    sql_ok(client, org["service"], "DELETE FROM app.orders WHERE id = 2")

    got = consume(client, org["service"], topic, "g1", start="Earliest")

    assert [(m["offset"], m["op"], m["key"]) for m in got["messages"]] == [
        (0, "insert", "1"),
        (1, "insert", "2"),
        (2, "update", "1"),
        (3, "delete", "2"),
    ]
    assert got["messages"][0]["row"] == {"id": 1, "item": "apple", "qty": 3}
    assert got["messages"][2]["row"] == {"id": 1, "item": "apple", "qty": 5}
    assert got["messages"][3]["row"] == {"id": 2, "item": "pear", "qty": 1}  # the row as it was
    assert all(m["partition_id"] == 0 and m["ts"] > 1_700_000_000_000_000 for m in got["messages"])
    assert got["next_offset"] == 4


def test_on_insert_only_publishes_inserts(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders ON INSERT")
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (10, 'fig', 1)")
    sql_ok(client, org["service"], "UPDATE app.orders SET qty = 2 WHERE id = 10")
    got = consume(client, org["service"], topic, "g", start="Earliest")
    assert [m["op"] for m in got["messages"]] == ["insert"]


def test_ingested_rows_are_published(client: httpx.Client, org: dict[str, Any]) -> None:
    stream = unique("s").replace("-", "_")
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE default.{stream}")
    records = [{"level": "error", "message": f"line {i}"} for i in range(3)]
    assert client.post(f"/api/v1/ingest/{stream}", json=records, headers=org["ingest"]).status_code == 202
    drain_ingest()

    got = consume(client, org["service"], topic, "tail", start="Earliest")

    assert sorted(m["row"]["message"] for m in got["messages"]) == ["line 0", "line 1", "line 2"]
    assert {m["op"] for m in got["messages"]} == {"insert"}
    assert all(m["key"] is None and "_timestamp" in m["row"] and "org_id" not in m["row"] for m in got["messages"])
    assert [m["offset"] for m in got["messages"]] == [0, 1, 2]


def test_concurrent_writers_to_one_partition_leave_no_gap_and_no_duplicate(
    client: httpx.Client, org: dict[str, Any], base_url: str
) -> None:
    """Eight sessions INSERT at once into a keyless table a one-partition topic sources: every
    row is one message, at offsets 0..n-1 exactly (the head's conditional transaction)."""
    sql_ok(client, org["dba"], "CREATE SHARED TABLE IF NOT EXISTS app.clicks (n BIGINT, who TEXT)")
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.clicks ON INSERT")

    def writer(who: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as own:
            for n in range(3):
                sql_ok(own, org["service"], f"INSERT INTO app.clicks VALUES ({n}, 'w{who}'), ({n + 100}, 'w{who}')")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    got = consume(client, org["service"], topic, "count", start="Earliest", limit=1000)
    assert [m["offset"] for m in got["messages"]] == list(range(48))
    assert sorted((m["row"]["who"], m["row"]["n"]) for m in got["messages"]) == sorted(
        (f"w{w}", n + extra) for w in range(8) for n in range(3) for extra in (0, 100)
    )


def test_routes_are_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/api/topics/consume"] and "post" in paths["/v1/api/topics/ack"]


def test_latest_earliest_and_offset(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders ON INSERT")
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (20, 'a', 1), (21, 'b', 1), (22, 'c', 1)")

    latest = consume(client, org["service"], topic, "late", start="Latest")
    assert latest == {"messages": [], "next_offset": 3}
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (23, 'd', 1)")
    # The group started at the head when it first read: what arrived since is its next read.
    assert [m["offset"] for m in consume(client, org["service"], topic, "late")["messages"]] == [3]

    earliest = consume(client, org["service"], topic, "early", start="Earliest", limit=2)
    assert [m["offset"] for m in earliest["messages"]] == [0, 1] and earliest["next_offset"] == 2

    seek = consume(client, org["service"], topic, "seek", start={"Offset": 2})
    assert [m["offset"] for m in seek["messages"]] == [2, 3] and seek["next_offset"] == 4


def test_unacked_messages_come_again_and_ack_moves_the_group(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders ON INSERT")
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (30, 'a', 1), (31, 'b', 1), (32, 'c', 1)")
    service = org["service"]

    first = consume(client, service, topic, "workers", start="Earliest")
    again = consume(client, service, topic, "workers", start="Earliest")
    assert [m["offset"] for m in first["messages"]] == [m["offset"] for m in again["messages"]] == [0, 1, 2]

    assert ack(client, service, topic, "workers", 1)["acknowledged_offset"] == 1
    after = consume(client, service, topic, "workers")
    assert [m["offset"] for m in after["messages"]] == [2]
    # An older ack changes nothing: acks only move forward.
    assert ack(client, service, topic, "workers", 0)["acknowledged_offset"] == 1
    assert [m["offset"] for m in consume(client, service, topic, "workers")["messages"]] == [2]


def test_two_groups_read_independently_and_lag_is_visible(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders ON INSERT")
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (40, 'a', 1), (41, 'b', 1), (42, 'c', 1)")
    consume(client, org["service"], topic, "billing", start="Earliest")
    ack(client, org["service"], topic, "billing", 2)
    consume(client, org["dba"], topic, "audit", start="Earliest")
    ack(client, org["dba"], topic, "audit", 0)

    assert consume(client, org["service"], topic, "billing")["messages"] == []
    assert [m["offset"] for m in consume(client, org["dba"], topic, "audit")["messages"]] == [1, 2]

    lag = sql_ok(client, org["dba"], f"SELECT * FROM system.topic_offsets WHERE topic_id = '{topic}' ORDER BY group_id")
    assert [(r["group_id"], r["last_acked_offset"], r["latest_offset"], r["lag"]) for r in rows_of(lag[0])] == [
        ("audit", 0, 2, 2),
        ("billing", 2, 2, 0),
    ]


def test_long_poll_answers_when_a_message_arrives(client: httpx.Client, org: dict[str, Any], base_url: str) -> None:
    topic = _topic(client, org)
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders ON INSERT")
    consume(client, org["service"], topic, "poller", start="Latest")  # the group starts at the head
    answer: dict[str, Any] = {}

    def poll() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as other:
            started = time.monotonic()
            answer.update(consume(other, org["service"], topic, "poller", timeout_seconds=20))
            answer["waited"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # the poll is waiting
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (50, 'late', 1)")
    poller.join(timeout=25)

    assert [m["row"]["item"] for m in answer["messages"]] == ["late"]
    assert answer["waited"] < 15  # answered by the insert, not by the 20 s timeout


def test_empty_long_poll_answers_at_its_timeout(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    started = time.monotonic()
    got = consume(client, org["service"], topic, "idle", timeout_seconds=1)
    assert got == {"messages": [], "next_offset": 0}
    assert time.monotonic() - started >= 1


def test_keys_choose_the_partition_and_partitions_are_read_one_at_a_time(
    client: httpx.Client, org: dict[str, Any]
) -> None:
    topic = _topic(client, org, "PARTITIONS 4 RETENTION 1 DAYS")
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders")
    values = ", ".join(f"({i}, 'x', 1)" for i in range(100, 120))
    sql_ok(client, org["service"], f"INSERT INTO app.orders VALUES {values}")
    sql_ok(client, org["service"], "UPDATE app.orders SET qty = 9 WHERE id = 105")

    seen: dict[str, list[tuple[int, str]]] = {}
    for partition in range(4):
        got = consume(client, org["service"], topic, "all", start="Earliest", partition_id=partition)
        offsets = [m["offset"] for m in got["messages"]]
        assert offsets == list(range(len(offsets)))  # dense from 0 in every partition
        for m in got["messages"]:
            assert m["partition_id"] == partition
            seen.setdefault(m["key"], []).append((partition, m["op"]))
    assert len(seen) == 20
    # Both changes of row 105 are in one partition, in order.
    assert [op for _, op in seen["105"]] == ["insert", "update"] and len({p for p, _ in seen["105"]}) == 1


def test_topics_are_listed_and_dropped(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org, "PARTITIONS 2 RETENTION '2h'")
    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} ADD SOURCE app.orders ON INSERT, UPDATE")

    shown = rows_of(sql_ok(client, org["service"], "SHOW TOPICS")[0])
    assert {
        "topic_id": topic,
        "partitions": 2,
        "retention_seconds": 7200,
        "sources": "app.orders ON INSERT, UPDATE",
    } in (shown)
    system = rows_of(sql_ok(client, org["dba"], f"SELECT * FROM system.topics WHERE topic_id = '{topic}'")[0])
    assert system[0]["partitions"] == 2 and system[0]["created_by"] == org["dba"].user

    sql_ok(client, org["dba"], f"ALTER TOPIC {topic} DROP SOURCE app.orders")
    sql_ok(client, org["service"], "INSERT INTO app.orders VALUES (60, 'x', 1)")
    assert consume(client, org["service"], topic, "g", start="Earliest")["messages"] == []

    sql_ok(client, org["dba"], f"DROP TOPIC {topic}")
    response = client.post(CONSUME, json={"topic_id": topic, "group_id": "g"}, headers=org["service"].headers)
    assert_sql_error(response, 404, "TOPIC_NOT_FOUND")
    assert sql_ok(client, org["dba"], f"DROP TOPIC IF EXISTS {topic}")[0]["message"].endswith("does not exist")


def test_another_orgs_topic_is_not_found(client: httpx.Client, root: Session, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    other_org = create_org(client, root)
    other_admin = create_user(client, root, "admin", org_id=other_org)
    stranger = create_user(client, other_admin, "service")
    stranger_dba = create_user(client, other_admin, "dba")

    response = client.post(CONSUME, json={"topic_id": topic, "group_id": "g"}, headers=stranger.headers)
    assert_sql_error(response, 404, "TOPIC_NOT_FOUND")
    response = client.post(ACK, json={"topic_id": topic, "group_id": "g", "upto_offset": 0}, headers=stranger.headers)
    assert_sql_error(response, 404, "TOPIC_NOT_FOUND")
    assert_sql_error(run_sql(client, stranger_dba, f"DROP TOPIC {topic}"), 404, "TOPIC_NOT_FOUND")
    assert_sql_error(
        run_sql(client, stranger_dba, f"ALTER TOPIC {topic} ADD SOURCE default.logs"), 404, "TOPIC_NOT_FOUND"
    )
    assert rows_of(sql_ok(client, stranger_dba, "SELECT * FROM system.topics")[0]) == []


def test_roles_outside_service_dba_system_are_refused(client: httpx.Client, org: dict[str, Any]) -> None:
    topic = _topic(client, org)
    editor = org["editor"]  # spec 004's ordinary "user"
    response = client.post(CONSUME, json={"topic_id": topic, "group_id": "g"}, headers=editor.headers)
    assert_sql_error(response, 403, "PERMISSION_DENIED")
    response = client.post(ACK, json={"topic_id": topic, "group_id": "g", "upto_offset": 0}, headers=editor.headers)
    assert_sql_error(response, 403, "PERMISSION_DENIED")
    assert_sql_error(run_sql(client, editor, "SHOW TOPICS"), 403, "PERMISSION_DENIED")
    assert_sql_error(run_sql(client, org["service"], "CREATE TOPIC nope"), 403, "PERMISSION_DENIED")
    assert_sql_error(run_sql(client, org["service"], f"DROP TOPIC {topic}"), 403, "PERMISSION_DENIED")
    # Basic auth is rejected here, as spec 004 says.
    response = client.post(CONSUME, json={"topic_id": topic, "group_id": "g"}, auth=(org["service"].user, "x"))
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("no group_id", {"topic_id": "TOPIC"}),
        ("start is neither Latest, Earliest nor {Offset}", {"start": "Newest"}),
        ("a negative Offset", {"start": {"Offset": -1}}),
        ("Offset beside another key", {"start": {"Offset": 1, "From": 2}}),
        ("limit 0", {"limit": 0}),
        ("limit over 1000", {"limit": 1001}),
        ("timeout_seconds over the 25 s bound", {"timeout_seconds": 26}),
        ("a negative timeout_seconds", {"timeout_seconds": -1}),
        ("a negative partition_id", {"partition_id": -1}),
        ("partition_id past the topic's partitions", {"partition_id": 1}),
        ("a topic_id that is not a name", {"topic_id": "a b; DROP"}),
        ("a group_id with a slash", {"group_id": "a/b"}),
        ("an unknown field", {"offset": 3}),
        ("limit as text", {"limit": "ten"}),
    ],
)
def test_bad_consume_input_is_400(client: httpx.Client, org: dict[str, Any], what: str, body: dict[str, Any]) -> None:
    topic = _topic(client, org)
    request = {"topic_id": topic, "group_id": "g", **body}
    if request["topic_id"] == "TOPIC":
        request.pop("group_id")
        request["topic_id"] = topic
    response = client.post(CONSUME, json=request, headers=org["service"].headers)
    assert_sql_error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("no upto_offset", {"upto_offset": None}),
        ("a negative upto_offset", {"upto_offset": -1}),
        ("an upto_offset past the last message", {"upto_offset": 5}),
        ("partition_id past the topic's partitions", {"partition_id": 3}),
        ("an unknown field", {"commit": True}),
    ],
)
def test_bad_ack_input_is_400(client: httpx.Client, org: dict[str, Any], what: str, body: dict[str, Any]) -> None:
    topic = _topic(client, org)
    request = {"topic_id": topic, "group_id": "g", "upto_offset": 0, **body}
    request = {k: v for k, v in request.items() if v is not None}
    response = client.post(ACK, json=request, headers=org["service"].headers)
    assert_sql_error(response, 400, "INVALID_REQUEST")


def test_a_body_that_is_not_json_is_400(client: httpx.Client, org: dict[str, Any]) -> None:
    headers = {**org["service"].headers, "content-type": "application/json"}
    assert_sql_error(client.post(CONSUME, content=b"{not json", headers=headers), 400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    ("what", "sql", "code", "status"),
    [
        ("PARTITIONS 0", "CREATE TOPIC t0 PARTITIONS 0", "INVALID_SQL", 400),
        ("PARTITIONS over 64", "CREATE TOPIC t0 PARTITIONS 65", "INVALID_SQL", 400),
        ("PARTITIONS as text", "CREATE TOPIC t0 PARTITIONS 'four'", "INVALID_SQL", 400),
        ("a retention of 0", "CREATE TOPIC t0 RETENTION 0", "INVALID_SQL", 400),
        ("a retention in weeks", "CREATE TOPIC t0 RETENTION '2w'", "INVALID_SQL", 400),
        ("a topic name with a dash", "CREATE TOPIC bad-name", "INVALID_SQL", 400),
        ("a source that is no table", "ALTER TOPIC existing ADD SOURCE app.missing", "TABLE_NOT_FOUND", 404),
        ("ON TRUNCATE", "ALTER TOPIC existing ADD SOURCE app.orders ON TRUNCATE", "INVALID_SQL", 400),
        ("ALTER TOPIC without ADD/DROP SOURCE", "ALTER TOPIC existing SET PARTITIONS 2", "INVALID_SQL", 400),
        ("a SYSTEM table as source", "ALTER TOPIC existing ADD SOURCE system.users", "PERMISSION_DENIED", 403),
        ("the same topic twice", "CREATE TOPIC existing", "CONFLICT", 409),
        ("an unknown topic", "DROP TOPIC never_made", "TOPIC_NOT_FOUND", 404),
    ],
)
def test_bad_topic_ddl_is_refused(
    client: httpx.Client, org: dict[str, Any], what: str, sql: str, code: str, status: int
) -> None:
    run_sql(client, org["dba"], "CREATE TOPIC IF NOT EXISTS existing")
    assert_sql_error(run_sql(client, org["dba"], sql), status, code)
