"""INSERT, UPDATE and DELETE over HTTP: spec 004's own example, read-your-writes, keys and
NOT NULL, USER-table scopes (two users, two orgs, EXECUTE AS USER), concurrent writers, and
DELETE on an ingest stream (erasure) while ingest and compaction run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from molesignal.lake.changes import RowChange, subscribe
from molesignal.lake.compaction import CompactionPolicy, Compactor, run_compaction
from molesignal.lake.streams import COMPACTION_HELD_UNTIL, Streams, stream_key
from molesignal.storage.table import Table
from tests.support.api import (
    Session,
    assert_sql_error,
    bearer,
    create_api_token,
    create_org,
    create_user,
    run_sql,
    sql_ok,
)
from tests.support.lake import drain_ingest, landed_rows

T0 = 1_800_000_000_000_000
HOUR = 3_600_000_000


@pytest.fixture
def org(client: httpx.Client, root: Session) -> dict[str, Any]:
    org_id = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org_id)
    people = {role: create_user(client, admin, role) for role in ("dba", "service", "editor", "viewer")}
    people["alice"] = create_user(client, admin, "editor")
    people["bob"] = create_user(client, admin, "editor")
    sql_ok(client, people["dba"], "CREATE NAMESPACE app")
    return {"id": org_id, "admin": admin, "ingest": bearer(create_api_token(client, admin, role="ingest")), **people}


def test_the_documents_own_example(client: httpx.Client, org: dict[str, Any]) -> None:
    """Spec 004: ``SELECT * FROM app.messages WHERE id = $1`` with params [123] and namespace_id app."""
    sql_ok(
        client,
        org["dba"],
        "CREATE TABLE app.messages (id BIGINT PRIMARY KEY, conversation_id BIGINT NOT NULL, sender TEXT NOT NULL,"
        " content TEXT)",
    )
    inserted = sql_ok(
        client,
        org["alice"],
        "INSERT INTO app.messages (id, conversation_id, sender, content) VALUES ($1, $2, $3, $4)",
        [123, 42, "alice", "hello"],
    )
    assert inserted[0]["row_count"] == 1 and inserted[0]["as_user"] == org["alice"].user
    response = client.post(
        "/v1/api/sql",
        json={"sql": "SELECT * FROM app.messages WHERE id = $1", "params": [123], "namespace_id": "app"},
        headers=org["alice"].headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and isinstance(body["took"], float)
    assert body["results"] == [
        {
            "schema": [
                {"name": "id", "data_type": "BigInt", "index": 0},
                {"name": "conversation_id", "data_type": "BigInt", "index": 1},
                {"name": "sender", "data_type": "Text", "index": 2},
                {"name": "content", "data_type": "Text", "index": 3},
            ],
            "rows": [[123, 42, "alice", "hello"]],
            "row_count": 1,
            "as_user": org["alice"].user,
        }
    ]


def test_writes_are_read_at_once_and_counted(client: httpx.Client, org: dict[str, Any]) -> None:
    sql_ok(client, org["dba"], "CREATE SHARED TABLE app.kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL, note TEXT)")
    editor, viewer = org["editor"], org["viewer"]
    assert sql_ok(client, viewer, "SELECT count(*) FROM app.kv")[0]["rows"] == [[0]]  # answered (and cached)
    sql_ok(client, editor, "INSERT INTO app.kv VALUES ('a', 1, NULL), ('b', 2, 'two'), ('c', 3, NULL)")
    assert sql_ok(client, viewer, "SELECT count(*) FROM app.kv")[0]["rows"] == [[3]]  # the very next SELECT
    results = sql_ok(
        client,
        editor,
        "UPDATE app.kv SET v = v * 10, note = 'big' WHERE v >= 2; DELETE FROM app.kv WHERE k = 'a';"
        "SELECT k, v, note FROM app.kv ORDER BY k",
    )
    assert [r["row_count"] for r in results] == [2, 1, 2]
    assert results[2]["rows"] == [["b", 20, "big"], ["c", 30, "big"]]
    assert sql_ok(client, editor, "UPDATE app.kv SET note = 'x' WHERE k = 'zzz'")[0]["row_count"] == 0
    assert sql_ok(client, editor, "DELETE FROM app.kv")[0]["row_count"] == 2
    assert sql_ok(client, viewer, "SELECT count(*) FROM app.kv")[0]["rows"] == [[0]]


def test_insert_select_reads_streams_and_tables(client: httpx.Client, org: dict[str, Any]) -> None:
    records = [{"_timestamp": T0 + i, "level": "error" if i % 3 == 0 else "info", "code": i} for i in range(30)]
    assert client.post("/api/v1/ingest/logs", json=records, headers=org["ingest"]).status_code == 202
    drain_ingest()
    sql_ok(client, org["dba"], "CREATE SHARED TABLE app.errors (code BIGINT PRIMARY KEY, level TEXT)")
    inserted = sql_ok(
        client, org["editor"], "INSERT INTO app.errors SELECT code, level FROM logs WHERE level = $1", ["error"]
    )
    assert inserted[0]["row_count"] == 10
    copied = sql_ok(
        client,
        org["editor"],
        "USE app; INSERT INTO app.errors (code) SELECT code + 1000 FROM errors",  # errors: app.errors
    )
    assert copied[-1]["row_count"] == 10
    assert sql_ok(client, org["viewer"], "SELECT count(*), sum(code) FROM app.errors")[0]["rows"] == [
        [20, sum(range(0, 30, 3)) * 2 + 10_000]
    ]


def test_keys_and_not_null_are_enforced(client: httpx.Client, org: dict[str, Any]) -> None:
    sql_ok(client, org["dba"], "CREATE SHARED TABLE app.t (a INT, b TEXT, c TEXT NOT NULL, PRIMARY KEY (a, b))")
    editor = org["editor"]
    sql_ok(client, editor, "INSERT INTO app.t VALUES (1, 'x', 'first')")
    existing = run_sql(client, editor, "INSERT INTO app.t VALUES (2, 'y', 'ok'), (1, 'x', 'again')")
    assert "already holds key" in assert_sql_error(existing, 409, "PRIMARY_KEY_VIOLATION")["error"]["message"]  # type: ignore[index]
    twice = run_sql(client, editor, "INSERT INTO app.t VALUES (3, 'z', 'a'), (3, 'z', 'b')")
    assert_sql_error(twice, 409, "PRIMARY_KEY_VIOLATION")
    assert_sql_error(run_sql(client, editor, "INSERT INTO app.t (a, b) VALUES (4, 'w')"), 400, "NOT_NULL_VIOLATION")
    assert_sql_error(run_sql(client, editor, "INSERT INTO app.t VALUES (NULL, 'w', 'c')"), 400, "NOT_NULL_VIOLATION")
    assert_sql_error(run_sql(client, editor, "UPDATE app.t SET c = NULL"), 400, "NOT_NULL_VIOLATION")
    assert_sql_error(run_sql(client, editor, "UPDATE app.t SET a = 9"), 400, "INVALID_SQL")  # a key column
    assert_sql_error(run_sql(client, editor, "INSERT INTO app.t VALUES ('not a number', 'q', 'c')"), 400, "INVALID_SQL")
    assert_sql_error(run_sql(client, editor, "INSERT INTO app.t (a, nope) VALUES (5, 1)"), 400, "INVALID_SQL")
    assert_sql_error(run_sql(client, editor, "INSERT INTO app.t VALUES (5, 'v')"), 400, "INVALID_SQL")  # too few
    assert_sql_error(
        run_sql(client, editor, "INSERT INTO app.t VALUES (6, 'v', 'c') ON CONFLICT DO NOTHING"), 400, "INVALID_SQL"
    )
    # nothing of the refused statements landed
    assert sql_ok(client, org["viewer"], "SELECT a, b, c FROM app.t")[0]["rows"] == [[1, "x", "first"]]


def test_user_tables_keep_each_users_rows_apart(client: httpx.Client, org: dict[str, Any], root: Session) -> None:
    sql_ok(client, org["dba"], "CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)")
    alice, bob = org["alice"], org["bob"]
    sql_ok(client, alice, "INSERT INTO app.notes VALUES (1, 'alice one'), (2, 'alice two')")
    sql_ok(client, bob, "INSERT INTO app.notes VALUES (1, 'bob one')")  # the same key: another scope
    assert sql_ok(client, alice, "SELECT body FROM app.notes ORDER BY id")[0]["rows"] == [["alice one"], ["alice two"]]
    assert sql_ok(client, bob, "SELECT body FROM app.notes")[0]["rows"] == [["bob one"]]
    # neither UPDATE nor DELETE reaches another user's rows
    assert sql_ok(client, bob, "DELETE FROM app.notes WHERE id = 2")[0]["row_count"] == 0
    assert sql_ok(client, bob, "UPDATE app.notes SET body = 'pwned'")[0]["row_count"] == 1
    assert sql_ok(client, alice, "SELECT count(*) FROM app.notes WHERE body = 'pwned'")[0]["rows"] == [[0]]
    # a dba sees its own scope too, unless it says whose
    assert sql_ok(client, org["dba"], "SELECT count(*) FROM app.notes")[0]["rows"] == [[0]]
    acting = sql_ok(client, org["dba"], f"EXECUTE AS USER '{alice.user}' (SELECT count(*) AS n FROM app.notes)")
    assert acting[0]["rows"] == [[2]] and acting[0]["as_user"] == alice.user
    written = sql_ok(
        client, org["service"], f"EXECUTE AS USER '{alice.user}' (INSERT INTO app.notes VALUES (3, 'by the service'))"
    )
    assert written[0]["as_user"] == alice.user
    assert sql_ok(client, alice, "SELECT count(*) FROM app.notes")[0]["rows"] == [[3]]
    # ordinary users act only for themselves; a service not for a dba
    assert_sql_error(
        run_sql(client, bob, f"EXECUTE AS USER '{alice.user}' (SELECT * FROM app.notes)"), 403, "PERMISSION_DENIED"
    )
    assert_sql_error(
        run_sql(client, org["service"], f"EXECUTE AS USER '{org['dba'].user}' (SELECT 1)"), 403, "PERMISSION_DENIED"
    )
    assert sql_ok(client, bob, f"EXECUTE AS USER '{bob.user}' (SELECT count(*) FROM app.notes)")[0]["rows"] == [[1]]
    # another org: its users are unknown here, its namespace of the same name is its own
    stranger_admin = create_user(client, root, "admin", org_id=create_org(client, root))
    stranger = create_user(client, stranger_admin, "editor")
    assert_sql_error(
        run_sql(client, org["dba"], f"EXECUTE AS USER '{stranger.user}' (SELECT 1)"), 404, "USER_NOT_FOUND"
    )
    assert_sql_error(run_sql(client, stranger, "SELECT * FROM app.notes"), 404, "TABLE_NOT_FOUND")
    sql_ok(client, stranger_admin, "CREATE NAMESPACE app; CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT)")
    assert sql_ok(client, stranger, "SELECT count(*) FROM app.notes")[0]["rows"] == [[0]]
    assert_sql_error(
        run_sql(client, stranger_admin, f"EXECUTE AS USER '{alice.user_id}' (SELECT * FROM app.notes)"),
        404,
        "USER_NOT_FOUND",
    )


def test_who_may_write(client: httpx.Client, org: dict[str, Any]) -> None:
    sql_ok(client, org["dba"], "CREATE SHARED TABLE app.s (id INT PRIMARY KEY)")
    for sql in ("INSERT INTO app.s VALUES (1)", "UPDATE app.s SET id = 2", "DELETE FROM app.s"):
        assert_sql_error(run_sql(client, org["viewer"], sql), 403, "PERMISSION_DENIED")
    assert sql_ok(client, org["service"], "INSERT INTO app.s VALUES (1)")[0]["row_count"] == 1


def test_concurrent_inserts_lose_nothing(client: httpx.Client, org: dict[str, Any]) -> None:
    """Writers of one scope are serialised by its version: every row lands once."""
    sql_ok(client, org["dba"], "CREATE SHARED TABLE app.c (id INT PRIMARY KEY, writer INT)")

    def write(writer: int) -> int:
        total = 0
        for i in range(4):
            ids = ", ".join(f"({writer * 100 + i * 10 + j}, {writer})" for j in range(5))
            total += int(sql_ok(client, org["editor"], f"INSERT INTO app.c VALUES {ids}")[0]["row_count"])  # type: ignore[call-overload]
        return total

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = sum(pool.map(write, range(4)))
    assert written == 80
    assert sql_ok(client, org["viewer"], "SELECT count(*), count(DISTINCT id) FROM app.c")[0]["rows"] == [[80, 80]]
    clash = [run_sql(client, org["editor"], "INSERT INTO app.c VALUES (9999, 0)") for _ in range(1)]
    assert clash[0].status_code == 200
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(
            pool.map(lambda _: run_sql(client, org["editor"], "INSERT INTO app.c VALUES (7777, 0)"), range(3))
        )
    assert sorted(a.status_code for a in answers) == [200, 409, 409]  # one wins the key, the others see it


def test_each_commit_is_published_once(client: httpx.Client, org: dict[str, Any]) -> None:
    """The row-change seam (lake/changes.py) sees every committed change, with its rows."""
    seen: list[RowChange] = []
    unsubscribe = subscribe(lambda change: seen.append(change) if change.org_id == org["id"] else None)
    try:
        sql_ok(client, org["dba"], "CREATE SHARED TABLE app.p (id INT PRIMARY KEY, v TEXT)")
        sql_ok(
            client, org["editor"], "INSERT INTO app.p VALUES (1, 'a'), (2, 'b'); UPDATE app.p SET v = 'z' WHERE id = 2"
        )
        assert run_sql(client, org["editor"], "INSERT INTO app.p VALUES (1, 'dup')").status_code == 409
        sql_ok(client, org["editor"], "DELETE FROM app.p WHERE id = 1")
    finally:
        unsubscribe()
    assert [(c.relation, c.operation, c.row_count) for c in seen] == [
        ("app.p", "insert", 2),
        ("app.p", "update", 1),
        ("app.p", "delete", 1),
    ]
    assert seen[0].rows.column("v").to_pylist() == ["a", "b"]
    assert seen[1].rows.column("v").to_pylist() == ["z"]
    assert seen[0].version is not None and seen[2].version is not None and seen[2].version > seen[0].version


def test_streams_take_only_erasure_from_a_dba(client: httpx.Client, org: dict[str, Any]) -> None:
    records = [{"_timestamp": T0 + i, "user": f"u{i % 4}", "msg": f"m{i}"} for i in range(40)]
    assert client.post("/api/v1/ingest/app_logs", json=records, headers=org["ingest"]).status_code == 202
    drain_ingest()
    for role in ("viewer", "editor", "service"):
        assert_sql_error(run_sql(client, org[role], "DELETE FROM app_logs"), 403, "PERMISSION_DENIED")
    for sql in ("INSERT INTO app_logs (msg) VALUES ('x')", "UPDATE app_logs SET msg = 'x'"):
        assert_sql_error(run_sql(client, org["dba"], sql), 403, "PERMISSION_DENIED")
    erased = sql_ok(client, org["dba"], "DELETE FROM app_logs WHERE user = $1", ["u1"])
    assert erased[0]["row_count"] == 10 and erased[0]["message"] == "10 row(s) deleted from stream app_logs"
    left = sql_ok(client, org["viewer"], "SELECT user, count(*) FROM app_logs GROUP BY user ORDER BY user")[0]["rows"]
    assert left == [["u0", 10], ["u2", 10], ["u3", 10]]
    stream = Streams(Table()).get(org["id"], "app_logs")
    assert stream.row_count == 30
    audit = client.get("/api/v1/audit?limit=20", headers=org["admin"].headers).json()["items"]
    assert any(e["action"] == "sql.stream.delete" and e["details"]["rows"] == 10 for e in audit)


def test_stream_delete_under_concurrent_ingest_and_compaction_leaves_exactly_the_rest(
    client: httpx.Client, org: dict[str, Any]
) -> None:
    """Erase one user's rows while more rows arrive and compaction keeps trying to merge the
    files being rewritten: the erasure holds compaction off the stream (compaction committing
    in a loop used to win every race, and the DELETE answered CONFLICT with nothing erased);
    afterwards every other row is there exactly once and none of the erased, and compaction
    merges again."""
    ingest = org["ingest"]
    sent: list[dict[str, Any]] = []
    for batch in range(12):  # many small files over two hours
        records = [
            {
                "_timestamp": T0 + (batch % 2) * HOUR + batch * 1000 + i,
                "id": batch * 100 + i,
                "user": "erase-me" if i % 4 == 0 else "keep",
            }
            for i in range(25)
        ]
        sent += records
        assert client.post("/api/v1/ingest/erasure", json=records, headers=ingest).status_code == 202
    drain_ingest()
    stop = threading.Event()
    late: list[dict[str, Any]] = []

    def keep_ingesting() -> None:
        batch = 100
        while not stop.is_set():
            records = [{"_timestamp": T0 + batch * 1000 + i, "id": batch * 100 + i, "user": "keep"} for i in range(10)]
            if client.post("/api/v1/ingest/erasure", json=records, headers=ingest).status_code == 202:
                late.extend(records)
            drain_ingest()
            batch += 1

    def keep_compacting() -> int:
        compactor = Compactor(policy=CompactionPolicy(max_inputs=3, grace_s=600))
        rounds = 0
        while not stop.is_set():
            rounds += len(run_compaction(compactor, orgs=[org["id"]], sweep=False).committed())
        return rounds

    with ThreadPoolExecutor(max_workers=2) as pool:
        ingesting, compacting = pool.submit(keep_ingesting), pool.submit(keep_compacting)
        try:
            erased = sql_ok(client, org["dba"], "DELETE FROM erasure WHERE user = 'erase-me'")
        finally:
            stop.set()  # a failed DELETE must fail the test, not leave the loops running forever
        ingesting.result()
        rounds = compacting.result()
    expected_erased = sum(1 for r in sent if r["user"] == "erase-me")
    assert erased[0]["row_count"] == expected_erased
    after = run_compaction(Compactor(policy=CompactionPolicy(max_inputs=3, grace_s=600)), orgs=[org["id"]], sweep=False)
    kept = {r["id"] for r in sent if r["user"] == "keep"} | {r["id"] for r in late}
    landed = landed_rows(org["id"], "erasure")  # what the manifest lists, read straight from the lake
    assert sorted(r["id"] for r in landed) == sorted(kept)  # each kept row once, no erased one
    answer = sql_ok(
        client, org["viewer"], "SELECT count(*), count(DISTINCT id), count(*) FILTER (user = 'erase-me') FROM erasure"
    )
    assert answer[0]["rows"] == [[len(kept), len(kept), 0]]
    assert rounds + len(after.committed()) > 0  # compaction merged again once the hold was released
    assert COMPACTION_HELD_UNTIL not in (Table().get(*stream_key(org["id"], "erasure")) or {})


def test_stream_delete_that_loses_a_race_to_compaction_reads_again(
    client: httpx.Client, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compaction commits between the DELETE finding its rows and committing their files (the
    DELETE's hold on compaction lapsed: an erasure that outlived ``COMPACTION_HOLD_S``): the
    DELETE's commit fails its conditions, it reads the manifest again and erases from the merged files."""
    from molesignal.lake import stream_rewrite

    sent = []
    for batch in range(4):
        records = [{"_timestamp": T0 + batch * 1000 + i, "id": batch * 10 + i, "gone": i % 2 == 0} for i in range(10)]
        sent += records
        assert client.post("/api/v1/ingest/race", json=records, headers=org["ingest"]).status_code == 202
        drain_ingest()  # one file each: the worker lands a batch's requests together (ADR 0011)
    drain_ingest()
    original = stream_rewrite.StreamRewriter.commit
    lost: list[int] = []

    def compact_first(self: Any, org_id: str, stream: str, batch: Any) -> None:
        if not lost:
            Streams(Table()).release_compaction(org_id, stream)  # as if the hold had expired
            merged = Compactor(policy=CompactionPolicy(grace_s=600)).compact_stream(org_id, stream)[0]
            assert any(r.outcome == "committed" for r in merged)
            lost.append(1)
        original(self, org_id, stream, batch)

    monkeypatch.setattr(stream_rewrite.StreamRewriter, "commit", compact_first)
    erased = sql_ok(client, org["dba"], "DELETE FROM race WHERE gone")
    assert erased[0]["row_count"] == 20 and lost == [1]
    assert sorted(r["id"] for r in landed_rows(org["id"], "race")) == sorted(r["id"] for r in sent if not r["gone"])
