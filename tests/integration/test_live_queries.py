"""Live queries over ``GET /v1/ws`` (docs/live.md), through a real WebSocket client against the
local gateway: authenticate, subscribe, the initial batch, live changes from SQL INSERTs and
from ingested log lines, the WHERE filter, tenant isolation, unsubscribe, ping/pong, error
frames, and cleanup of dropped connections."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.api import Session, create_api_token, create_org, create_user, sql_ok, unique
from tests.support.events import drain_events, event
from tests.support.lake import drain_ingest

WAIT_S = 10.0


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/v1/ws"


def recv(ws: ClientConnection, timeout: float = WAIT_S) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=timeout)))


def send(ws: ClientConnection, body: dict[str, Any]) -> None:
    ws.send(json.dumps(body))


def authenticated(base_url: str, who: Session, stack: ExitStack) -> ClientConnection:
    ws = stack.enter_context(connect(ws_url(base_url), open_timeout=WAIT_S))
    send(ws, {"type": "authenticate", "method": "jwt", "token": who.access_token})
    answer = recv(ws)
    assert answer["type"] == "auth_success", answer
    assert answer["user_id"] == who.user_id
    return ws


def subscribe(ws: ClientConnection, sub_id: str, sql: str) -> list[dict[str, Any]]:
    """Subscribe; returns the initial batch's rows (after checking the ack)."""
    send(ws, {"type": "subscribe", "subscription": {"id": sub_id, "sql": sql}})
    ack = recv(ws)
    assert ack["type"] == "subscription_ack", ack
    assert ack["subscription_id"] == sub_id
    batch = recv(ws)
    assert batch["type"] == "initial_data_batch", batch
    assert batch["batch_control"]["status"] == "ready"
    assert ack["total_rows"] == len(batch["rows"])
    return list(batch["rows"])


def assert_nothing_then_pong(ws: ClientConnection) -> None:
    """Nothing is queued for the client: a ping sent now is answered by the very next frame."""
    send(ws, {"type": "ping"})
    assert recv(ws) == {"type": "pong"}


@pytest.fixture
def org(client: httpx.Client, root: Session) -> dict[str, Any]:
    org_id = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org_id)
    dba = create_user(client, admin, "dba")
    sql_ok(client, dba, "CREATE NAMESPACE app; CREATE SHARED TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT)")
    return {"id": org_id, "admin": admin, "dba": dba}


@pytest.fixture
def ws_of(base_url: str) -> Iterator[Any]:
    with ExitStack() as stack:

        def open_for(who: Session) -> ClientConnection:
            return authenticated(base_url, who, stack)

        yield open_for


def test_subscriber_gets_initial_batch_then_inserted_rows_its_where_keeps(
    client: httpx.Client, org: dict[str, Any], ws_of: Any
) -> None:
    dba = org["dba"]
    sql_ok(client, dba, "INSERT INTO app.orders (id, status) VALUES (1, 'open'), (2, 'closed')")
    ws = ws_of(dba)
    initial = subscribe(ws, "open_orders", "SELECT id, status FROM app.orders WHERE status = 'open'")
    assert initial == [{"id": 1, "status": "open"}]

    sql_ok(client, dba, "INSERT INTO app.orders (id, status) VALUES (3, 'closed')")  # the WHERE drops it
    sql_ok(client, dba, "INSERT INTO app.orders (id, status) VALUES (4, 'open'), (5, 'closed')")
    change = recv(ws)
    assert change == {
        "type": "change",
        "subscription_id": "open_orders",
        "change_type": "insert",
        "rows": [{"id": 4, "status": "open"}],
        "row_count": 1,
    }
    sql_ok(client, dba, "UPDATE app.orders SET status = 'open' WHERE id = 5")
    update = recv(ws)
    assert update["change_type"] == "update"
    assert update["rows"] == [{"id": 5, "status": "open"}]
    assert_nothing_then_pong(ws)


def test_a_deleted_row_reaches_subscribers_whose_where_kept_it(
    client: httpx.Client, org: dict[str, Any], ws_of: Any
) -> None:
    dba = org["dba"]
    sql_ok(client, dba, "INSERT INTO app.orders (id, status) VALUES (11, 'open'), (12, 'closed'), (13, 'open')")
    ws = ws_of(dba)
    initial = subscribe(ws, "open_orders", "SELECT id, status FROM app.orders WHERE status = 'open'")
    assert sorted(r["id"] for r in initial) == [11, 13]
    sql_ok(client, dba, "DELETE FROM app.orders WHERE id = 12")  # the WHERE never showed it
    sql_ok(client, dba, "DELETE FROM app.orders WHERE id IN (11, 13)")
    change = recv(ws)
    assert change["change_type"] == "delete" and change["row_count"] == 2, change
    # KalamDB's shape: a delete carries the rows as they were in old_values
    deleted = sorted(change["old_values"], key=lambda r: r["id"])
    assert deleted == [{"id": 11, "status": "open"}, {"id": 13, "status": "open"}]
    assert_nothing_then_pong(ws)


def test_live_tail_receives_an_ingested_log_line(client: httpx.Client, org: dict[str, Any], ws_of: Any) -> None:
    dba = org["dba"]
    stream = unique("tail").replace("-", "_")
    first = client.post(f"/api/v1/ingest/{stream}", json=[{"level": "info", "message": "boot"}], headers=dba.headers)
    assert first.status_code == 202, first.text
    drain_ingest()
    ws = ws_of(dba)
    initial = subscribe(ws, "errors", f"SELECT level, message FROM {stream} WHERE level = 'error'")
    assert initial == []

    lines = [{"level": "info", "message": "fine"}, {"level": "error", "message": "disk full"}]
    response = client.post(f"/api/v1/ingest/{stream}", json=lines, headers=dba.headers)
    assert response.status_code == 202, response.text
    drain_ingest()
    change = recv(ws)
    assert change["subscription_id"] == "errors"
    assert change["change_type"] == "insert"
    assert change["rows"] == [{"level": "error", "message": "disk full"}]
    assert_nothing_then_pong(ws)


def test_live_tail_of_audit_events_receives_a_chained_event(
    client: httpx.Client, org: dict[str, Any], ws_of: Any
) -> None:
    admin = org["admin"]
    # the org's audit_events stream exists once its first event is chained
    assert client.post("/api/v1/events", json=event("user.created"), headers=admin.headers).status_code == 202
    drain_events()
    ws = ws_of(admin)
    initial = subscribe(ws, "audit", "SELECT action, actor_id FROM audit_events WHERE action = 'user.deleted'")
    assert initial == []
    for action in ("user.signed_in", "user.deleted"):
        response = client.post("/api/v1/events", json=event(action), headers=admin.headers)
        assert response.status_code == 202, response.text
    drain_events()
    change = recv(ws)
    assert change["subscription_id"] == "audit" and change["change_type"] == "insert"
    assert change["rows"] == [{"action": "user.deleted", "actor_id": "user_1"}]
    assert_nothing_then_pong(ws)


def test_a_subscriber_never_sees_another_orgs_rows(
    client: httpx.Client, root: Session, org: dict[str, Any], ws_of: Any
) -> None:
    other_admin = create_user(client, root, "admin", org_id=create_org(client, root))
    other_dba = create_user(client, other_admin, "dba")
    sql_ok(
        client, other_dba, "CREATE NAMESPACE app; CREATE SHARED TABLE app.orders (id BIGINT PRIMARY KEY, status TEXT)"
    )
    ws = ws_of(other_dba)
    assert subscribe(ws, "all", "SELECT id, status FROM app.orders") == []

    sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (10, 'open')")  # the first org's row
    sql_ok(client, other_dba, "INSERT INTO app.orders (id, status) VALUES (20, 'open')")
    change = recv(ws)
    assert change["rows"] == [{"id": 20, "status": "open"}]  # its own row first: the other org's never came
    assert_nothing_then_pong(ws)


def test_unsubscribe_stops_delivery(client: httpx.Client, org: dict[str, Any], ws_of: Any) -> None:
    dba = org["dba"]
    ws = ws_of(dba)
    subscribe(ws, "s1", "SELECT id FROM app.orders")
    send(ws, {"type": "unsubscribe", "subscription_id": "s1"})
    assert recv(ws) == {"type": "unsubscribed", "subscription_id": "s1"}
    sql_ok(client, dba, "INSERT INTO app.orders (id, status) VALUES (30, 'open')")
    assert_nothing_then_pong(ws)


def test_ping_is_answered_by_pong_frame_and_by_protocol_pong(org: dict[str, Any], ws_of: Any) -> None:
    ws = ws_of(org["dba"])
    assert_nothing_then_pong(ws)
    ws.ping().wait(timeout=WAIT_S)  # the WebSocket control frame, answered by the gateway


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELEC id FROM app.orders", "INVALID_SQL"),  # a misspelt keyword
        ("SELECT id FROM app.no_such_table", "TABLE_NOT_FOUND"),  # a table the org does not have
        ("SELECT * FROM system.users", "PERMISSION_DENIED"),  # a SYSTEM table, to a viewer
        ("SELECT status, count(*) FROM app.orders GROUP BY status", "UNSUPPORTED"),  # an aggregate is not live
        ("DELETE FROM app.orders", "PERMISSION_DENIED"),  # not a SELECT
    ],
)
def test_a_refused_subscription_gets_an_error_frame_with_its_code(
    client: httpx.Client, org: dict[str, Any], ws_of: Any, sql: str, code: str
) -> None:
    viewer = create_user(client, org["admin"], "viewer")
    ws = ws_of(viewer)
    send(ws, {"type": "subscribe", "subscription": {"id": "bad", "sql": sql}})
    answer = recv(ws)
    assert answer["type"] == "error", answer
    assert answer["subscription_id"] == "bad"
    assert answer["code"] == code, answer
    assert answer["message"]
    assert_nothing_then_pong(ws)  # the connection stays usable


def test_a_bad_token_gets_auth_error_and_the_connection_closes(base_url: str) -> None:
    with connect(ws_url(base_url), open_timeout=WAIT_S) as ws:
        send(ws, {"type": "authenticate", "method": "jwt", "token": "not-a-jwt"})  # a forged token
        answer = recv(ws)
        assert answer["type"] == "auth_error"
        assert answer["message"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)


def test_an_api_token_is_refused_the_socket_takes_jwts_only(
    client: httpx.Client, base_url: str, org: dict[str, Any]
) -> None:
    api_token = create_api_token(client, org["admin"])  # a valid credential, but not a JWT
    with connect(ws_url(base_url), open_timeout=WAIT_S) as ws:
        send(ws, {"type": "authenticate", "method": "jwt", "token": api_token})
        answer = recv(ws)
        assert answer["type"] == "auth_error"
        assert "JWT" in answer["message"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)


def test_subscribe_before_authenticate_is_auth_required(base_url: str) -> None:
    with connect(ws_url(base_url), open_timeout=WAIT_S) as ws:
        send(ws, {"type": "subscribe", "subscription": {"id": "early", "sql": "SELECT 1 FROM app.orders"}})
        answer = recv(ws)
        assert (answer["type"], answer["code"], answer["subscription_id"]) == ("error", "AUTH_REQUIRED", "early")
        send(ws, {"type": "dance"})  # an unknown message type
        assert recv(ws)["code"] == "PROTOCOL"
        ws.send("{not json")  # not JSON at all
        assert recv(ws)["code"] == "PROTOCOL"


def test_a_dropped_connection_is_cleaned_up(client: httpx.Client, base_url: str, org: dict[str, Any]) -> None:
    from molesignal.live.connections import Connections

    dba = org["dba"]
    with ExitStack() as stack:
        ws = authenticated(base_url, dba, stack)
        subscribe(ws, "gone_soon", "SELECT id FROM app.orders")
        connections = Connections()
        assert len(connections.watching(org["id"], "app.orders")) == 1
    # the client went away: the gateway runs $disconnect
    deadline = time.monotonic() + WAIT_S
    while connections.watching(org["id"], "app.orders") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections.watching(org["id"], "app.orders") == []
    sql_ok(client, dba, "INSERT INTO app.orders (id, status) VALUES (40, 'open')")  # no subscriber, no error


def test_a_subscription_whose_socket_vanished_is_removed_on_gone(client: httpx.Client, org: dict[str, Any]) -> None:
    """$disconnect never ran (a crashed client behind a proxy): the writer's post answers 410
    GoneException, and the stale connection is forgotten then."""
    from molesignal.live.connections import Connections, Subscription
    from molesignal.live.plan import ROWS_VIEW

    connections = Connections()
    connections.add(Subscription("vanished0000000x", "s", org["id"], "app.orders", f"SELECT * FROM {ROWS_VIEW}", "u"))
    sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (50, 'open')")
    assert connections.watching(org["id"], "app.orders") == []


@pytest.mark.parametrize("ending", ["logout", "user deleted"])
def test_a_connection_whose_session_ended_gets_auth_error_and_is_closed(
    client: httpx.Client, org: dict[str, Any], base_url: str, use_env: Any, ending: str
) -> None:
    """The session is checked when a change is delivered (docs/live.md): after the subscriber
    logs out, or an admin deletes the user, the next change closes the connection instead of
    reaching it."""
    use_env(live_session_check_s=0)  # no cached "alive" from an earlier delivery
    watcher = create_user(client, org["admin"], "dba")
    with connect(ws_url(base_url), open_timeout=WAIT_S) as ws:
        send(ws, {"type": "authenticate", "method": "jwt", "token": watcher.access_token})
        assert recv(ws)["type"] == "auth_success"
        subscribe(ws, "all", "SELECT id FROM app.orders")
        sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (1, 'open')")
        assert recv(ws)["rows"] == [{"id": 1}]  # delivered while the session holds

        if ending == "logout":
            ended = client.post("/v1/api/auth/logout", headers=watcher.headers)
        else:
            ended = client.delete(f"/api/v1/users/{watcher.user_id}", headers=org["admin"].headers)
        assert ended.status_code in (200, 204), ended.text
        sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (2, 'open')")

        answer = recv(ws)
        assert answer["type"] == "auth_error", answer
        assert "session ended" in answer["message"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT_S)
    sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (3, 'open')")  # nobody left to post to


def test_an_orgs_first_subscription_sees_a_change_from_a_writer_with_a_stale_cache(
    client: httpx.Client, org: dict[str, Any], ws_of: Any, use_env: Any
) -> None:
    """Writers cache "this org has no live subscription" (``watch_cache_s``); the org's first
    subscription answers only after that, so a writer whose cache was read just before the
    subscribe reads it again for a change committed after the answer."""
    use_env(watch_cache_s=4)  # longer than the subscribe itself takes here
    from tests.integration.test_topics_outbox import stale_writer_cache

    ws = ws_of(org["dba"])
    restore_stale = stale_writer_cache(org["id"])  # read before the subscription existed
    subscribe(ws, "orders", "SELECT id FROM app.orders")
    restore_stale()

    sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (9, 'open')")

    assert recv(ws)["rows"] == [{"id": 9}]


def test_an_org_older_than_the_watch_marker_gets_changes_on_subscriptions_made_before_it(
    client: httpx.Client, org: dict[str, Any], ws_of: Any
) -> None:
    """Subscriptions filed before the watch marker existed never recorded ``live_until``: the
    first change that finds the attribute missing assumes a subscription may exist for as long
    as one lives, records that, and delivers (it used to skip every change until they expired)."""
    from molesignal.lake import watch
    from molesignal.live.connections import CONNECTION_TTL_S
    from molesignal.storage.table import Table

    ws = ws_of(org["dba"])
    subscribe(ws, "orders", "SELECT id FROM app.orders")
    marker = (f"ORG#{org['id']}#WATCH", "CHANGES")
    Table().update(*marker, "REMOVE live_until")  # what an org older than the marker holds
    watch.forget(org["id"])
    before = time.time()

    sql_ok(client, org["dba"], "INSERT INTO app.orders (id, status) VALUES (11, 'open')")

    assert recv(ws)["rows"] == [{"id": 11}]
    recorded = (Table().get(*marker) or {})["live_until"]
    assert before + CONNECTION_TTL_S - 5 <= int(recorded) <= time.time() + CONNECTION_TTL_S


def test_a_new_orgs_marker_says_no_topic_sources_and_no_subscriptions(client: httpx.Client, root: Session) -> None:
    """Written with the org, so its writers skip the topic list and the subscription lookup
    from its first change on; its first subscription or topic source moves it on (tests above
    and in test_topics_outbox.py)."""
    from molesignal.storage.table import Table

    org_id = create_org(client, root)

    marker = Table().get(f"ORG#{org_id}#WATCH", "CHANGES") or {}
    assert (marker.get("topics_version"), marker.get("live_until")) == (0, 0)
