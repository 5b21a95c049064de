"""`make dev` runs the ingest worker in a child process of its own (ADR 0030), and what the
local system relied on being in one process still holds, over HTTP on the real command:

* rows the child lands are queryable at once, though the parent's query memo would otherwise
  keep its stream list for ``query_stream_list_ttl_s`` (set to ten minutes here);
* an alert rule created through the parent's API reaches the child's rule memo at once
  (``alert_rules_memo_s`` ten minutes here);
* Ctrl-C stops the child too, within the stop budget, and a restart has every row once;
* a parent that dies alone (``kill -9`` of its pid, not its group) takes the child with it;
* a child that dies alone is started again, and rows sent meanwhile land.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from molesignal.local.pollers import QueuePoller
from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, Session, bearer, ensure_setup, login
from tests.support.dev import Dev

STREAM = "childlanded"
LONG_MEMO_S = "600"
WAIT_S = 90  # far below LONG_MEMO_S: a row seen within it was not seen through the memo's expiry
CLEAN_STOP_S = 10


def _rows(client: httpx.Client, token: str, where: str = "") -> list[str]:
    response = client.post(
        "/v1/api/sql", json={"sql": f"SELECT rid FROM {STREAM} {where}", "params": []}, headers=bearer(token)
    )
    if response.status_code == 404 and response.json()["error"]["code"] == "TABLE_NOT_FOUND":
        return []  # not landed yet: the stream is created with its first rows
    assert response.status_code == 200, response.text
    return [str(row[0]) for row in response.json()["results"][0]["rows"]]


def _wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {WAIT_S} s")


def _ingest(client: httpx.Client, token: str, rows: list[dict[str, Any]]) -> None:
    response = client.post(f"/api/v1/ingest/{STREAM}", json=rows, headers=bearer(token))
    assert response.status_code == 202, response.text


def _worker_children(dev: Dev) -> list[str]:
    return [c for c in dev.left_in_group() if "molesignal worker" in c]


def _started(dev: Dev, **settings: str) -> tuple[httpx.Client, Session, str]:
    """The started system's client, its admin and an editor's API token."""
    dev.start(**settings)
    client = httpx.Client(base_url=dev.url, timeout=30)
    ensure_setup(client)
    admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
    token = client.post("/api/v1/tokens", json={"name": "w", "role": "editor"}, headers=admin.headers)
    assert token.status_code == 201, token.text
    return client, admin, str(token.json()["token"])


def test_rows_landed_by_the_worker_process_are_queryable_at_once_and_survive_ctrl_c(dev: Dev) -> None:
    client, _, token = _started(dev, query_stream_list_ttl_s=LONG_MEMO_S, log_level="INFO")
    # The ingest worker is a child process of `make dev`, in its group
    assert len(_worker_children(dev)) == 1, dev.left_in_group()

    # Given a stream whose list the query function has just read (and memoised)
    _ingest(client, token, [{"rid": f"a{i}"} for i in range(20)])
    _wait_for(lambda: len(_rows(client, token)) == 20, "the first rows were not queryable")
    assert _rows(client, token, "WHERE rid LIKE 'b%'") == []
    # When more rows land through the worker process
    _ingest(client, token, [{"rid": f"b{i}"} for i in range(30)])
    # Then they are queryable long before the memo would have expired (the child's lake-change
    # note reached the parent)
    _wait_for(lambda: len(_rows(client, token, "WHERE rid LIKE 'b%'")) == 30, "the landed rows were not queryable")

    # and the worker's own logs reach the console (not its pipe to the parent)
    assert '"message":"landed' in dev.log.read_text().replace(" ", "")

    # When Ctrl-C reaches the group, then the worker process stops with the rest, in time
    took = dev.interrupt()
    assert took < CLEAN_STOP_S, f"stopping took {took:.1f} s"
    assert dev.left_in_group() == []
    dev.start()
    landed = _rows(client, token)
    assert sorted(landed) == sorted([f"a{i}" for i in range(20)] + [f"b{i}" for i in range(30)])


def test_a_rule_created_through_the_api_reaches_the_worker_process_at_once(dev: Dev) -> None:
    client, admin, token = _started(dev, alert_rules_memo_s=LONG_MEMO_S)
    # Given a worker process that has read the org's (no) realtime rules for the stream
    _ingest(client, token, [{"rid": "before", "level": "error"}])
    _wait_for(lambda: _rows(client, token) == ["before"], "the first row was not queryable")
    # When a realtime rule is created through the API (the parent process)
    destination = client.post(
        "/api/v1/alerts/destinations",
        json={"name": "mail", "type": "email", "address": "oncall@example.com"},
        headers=admin.headers,
    )
    assert destination.status_code == 201, destination.text
    rule = client.post(
        "/api/v1/alerts/rules",
        json={
            "name": "errors",
            "kind": "realtime",
            "stream": STREAM,
            "where": "level = 'error'",
            "destinations": [destination.json()["id"]],
        },
        headers=admin.headers,
    )
    assert rule.status_code == 201, rule.text
    # Then the next matching row fires it, though the worker's rule memo is ten minutes long
    _ingest(client, token, [{"rid": "after", "level": "error"}])

    def firing() -> bool:
        active = client.get("/api/v1/alerts/active", headers=admin.headers).json()["items"]
        return rule.json()["id"] in [a["rule_id"] for a in active]

    _wait_for(firing, "the rule created in the parent never fired in the worker process")


def test_the_worker_process_leaves_when_its_parent_dies_alone(dev: Dev) -> None:
    dev.start()
    assert dev.process is not None
    assert len(_worker_children(dev)) == 1
    # When only the parent is killed (not its group)
    os.kill(dev.process.pid, signal.SIGKILL)
    dev.process.wait(timeout=30)
    # Then its children (the worker and the emulator) see their stdin close and leave
    deadline = time.monotonic() + 60
    while dev.left_in_group() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert dev.left_in_group() == []
    # and the data directory is free for the next start
    dev.start()
    client = httpx.Client(base_url=dev.url, timeout=30)
    assert client.get("/api/v1/healthz").status_code == 200


def _worker_pid(dev: Dev) -> int | None:
    assert dev.process is not None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == dev.process.pid and fields[0] != "Z" and "molesignal worker" in command:
            return int(entry)
    return None


def test_a_worker_process_that_dies_alone_is_started_again_and_rows_land(dev: Dev) -> None:
    client, _, token = _started(dev)
    _ingest(client, token, [{"rid": "before"}])
    _wait_for(lambda: _rows(client, token) == ["before"], "the first row never landed")
    dead = _worker_pid(dev)
    assert dead is not None
    # When the worker alone is killed (an OOM kill, a crash in a native library)
    os.kill(dead, signal.SIGKILL)
    # Then another starts
    _wait_for(lambda: _worker_pid(dev) not in (None, dead), "no other worker process started")
    # (A message the emulator hands to a receive the dead one left waiting comes back after the
    # queue's visibility timeout, 120 s, as on SQS: wait those receives out instead.)
    time.sleep(QueuePoller.wait_seconds + 1)
    # and lands what is sent to it, once
    _ingest(client, token, [{"rid": "after"}])
    _wait_for(lambda: sorted(_rows(client, token)) == ["after", "before"], "the row sent later never landed")
    assert len(_worker_children(dev)) == 1
