"""Topics survive a restart of ``make dev``: the real ``python -m molesignal dev``, killed with
``kill -9`` and started again on its data directory. Messages keep their offsets, a group
resumes after its committed offset, and new messages continue the partition's offsets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, Session, ensure_setup, login, sql_ok
from tests.support.dev import Dev


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    running = Dev(tmp_path / "data", tmp_path / "dev.log")
    yield running
    running.stop()


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
