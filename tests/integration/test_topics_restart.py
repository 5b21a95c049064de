"""Topics survive a restart of ``make dev``: the real ``python -m molesignal dev``, killed with
``kill -9`` and started again on its data directory. Messages keep their offsets, a group
resumes after its committed offset, and new messages continue the partition's offsets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, Session, ensure_setup, login, sql_ok
from tests.support.dev import Dev


def _consume(client: httpx.Client, who: Session, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/api/topics/consume", json={"topic_id": "orders", "group_id": "billing", **body}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_messages_and_committed_offsets_survive_kill_minus_9(dev: Dev) -> None:
    dev.start()
    with httpx.Client(base_url=dev.url, timeout=30) as client:
        ensure_setup(client)
        admin = login(client, ADMIN_USER, ADMIN_PASSWORD)  # an org admin holds service and dba
        sql_ok(client, admin, "CREATE NAMESPACE shop")
        sql_ok(client, admin, "CREATE SHARED TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT)")
        sql_ok(client, admin, "CREATE TOPIC orders RETENTION 1 DAYS")
        sql_ok(client, admin, "ALTER TOPIC orders ADD SOURCE shop.orders ON INSERT")
        sql_ok(client, admin, "INSERT INTO shop.orders VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        assert [m["offset"] for m in _consume(client, admin, start="Earliest")["messages"]] == [0, 1, 2]
        acked = client.post(
            "/v1/api/topics/ack",
            json={"topic_id": "orders", "group_id": "billing", "upto_offset": 0},
            headers=admin.headers,
        )
        assert acked.status_code == 200, acked.text

    dev.kill_group()
    dev.start()

    with httpx.Client(base_url=dev.url, timeout=30) as client:
        admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
        resumed = _consume(client, admin)
        assert [(m["offset"], m["row"]["item"]) for m in resumed["messages"]] == [(1, "b"), (2, "c")]
        sql_ok(client, admin, "INSERT INTO shop.orders VALUES (4, 'd')")
        after = _consume(client, admin)
        assert [m["offset"] for m in after["messages"]] == [1, 2, 3]  # dense across the restart
        assert after["next_offset"] == 4


def test_a_change_committed_by_a_process_that_died_before_publishing_is_consumed_once(dev: Dev) -> None:
    """``make dev`` dies (os._exit, as kill -9 would) right after an INSERT's commit, before its
    publish (the ``outbox_fault=exit`` hook); started again, its scheduler's outbox_worker
    publishes the change, and a consumer reads it exactly once."""
    dev.start()
    with httpx.Client(base_url=dev.url, timeout=30) as client:
        ensure_setup(client)
        admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
        sql_ok(client, admin, "CREATE NAMESPACE shop")
        sql_ok(client, admin, "CREATE SHARED TABLE shop.orders (id BIGINT PRIMARY KEY, item TEXT)")
        sql_ok(client, admin, "CREATE TOPIC orders")
        sql_ok(client, admin, "ALTER TOPIC orders ADD SOURCE shop.orders ON INSERT")
    dev.kill_group()

    dev.start(outbox_fault="exit")
    with httpx.Client(base_url=dev.url, timeout=30) as client:
        admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
        with pytest.raises(httpx.HTTPError):  # the process ends inside the request
            client.post(
                "/v1/api/sql", json={"sql": "INSERT INTO shop.orders VALUES (1, 'a'), (2, 'b')"}, headers=admin.headers
            )
    dev.kill_group()  # what is left of the group (engine processes)

    # The sweeper's first run comes 2 s after the start instead of a minute (one rate) later.
    dev.start(outbox_sweep_after_s="0", scheduler_first_run_s="2")
    with httpx.Client(base_url=dev.url, timeout=60) as client:
        admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
        assert _consume(client, admin, start="Earliest", timeout_seconds=0)["messages"] == []
        messages: list[dict[str, Any]] = []
        for _ in range(8):  # up to 200 s of long polls
            messages = _consume(client, admin, timeout_seconds=25)["messages"]
            if messages:
                break
        assert [(m["offset"], m["row"]) for m in messages] == [(0, {"id": 1, "item": "a"}), (1, {"id": 2, "item": "b"})]
        committed = sql_ok(client, admin, "SELECT count(*) AS n FROM shop.orders")
        assert committed[0]["rows"] == [[2]]  # the commit itself happened before the death
        sql_ok(client, admin, "INSERT INTO shop.orders VALUES (3, 'c')")
        after = _consume(client, admin, timeout_seconds=5)
        assert [m["offset"] for m in after["messages"]] == [0, 1, 2]  # once each, then the next one
