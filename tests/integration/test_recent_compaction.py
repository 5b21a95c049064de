"""The ingest worker merges an hour's small files as soon as a tier of them is full (ADR 0011),
so a stream fed by many small requests stays fast to query between scheduled compactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from molesignal.lake.recent_files import RECENT_FILES
from molesignal.lake.streams import Streams
from molesignal.settings import reset_settings
from molesignal.storage.table import Table
from tests.support.api import Session, bearer, create_api_token, create_org, create_user, unique
from tests.support.lake import drain_ingest, landed_rows, landing_one_by_one

T0 = 1_800_000_000_000_000  # an hour boundary in 2027
HOUR = 3_600_000_000


@pytest.fixture
def tenant(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    return {"org": org, "admin": admin, "ingest": bearer(create_api_token(client, admin, role="ingest"))}


@pytest.fixture
def one_by_one_with_fanin_2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each request lands by its own worker invocation, and tiers fill at 2 files (8 by
    default) so that a few requests show nested tiers."""
    monkeypatch.setenv("MOLESIGNAL_RECENT_COMPACTION_FANIN", "2")
    reset_settings()
    try:
        with landing_one_by_one():
            yield
    finally:
        monkeypatch.delenv("MOLESIGNAL_RECENT_COMPACTION_FANIN")
        reset_settings()


@pytest.mark.usefixtures("one_by_one_with_fanin_2")
def test_small_requests_landed_one_by_one_are_merged_by_tiers_and_every_row_stays_once(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    stream = unique("trickle")
    sent = 0
    # Given 5 small requests to one hour, each landed by its own worker invocation
    for r in range(5):
        rows = [{"_timestamp": T0 + r * 1000 + i, "r": r, "i": i} for i in range(5)]
        response = client.post(f"/api/v1/ingest/{stream}", json=rows, headers=tenant["ingest"])
        assert response.status_code == 202, response.text
        sent += len(rows)
        drain_ingest()
    # Then each tier was merged as it filled (1+2 -> g1, 3+4 -> g1, g1+g1 -> g2), and the 5th file waits
    entries = Streams(Table()).manifest(tenant["org"], stream)
    assert sorted(int(e.get("generation", 0)) for e in entries) == [0, 2]
    assert sum(int(e["rows"]) for e in entries) == sent
    rows = landed_rows(tenant["org"], stream)
    assert len({(r["r"], r["i"]) for r in rows}) == len(rows) == sent
    # And a query over HTTP sees every row once
    answer = client.post(
        "/api/v1/query",
        json={
            "sql": f'SELECT count(*) AS n, count(DISTINCT r * 100 + i) AS d FROM "{stream}"',
            "time_range": {"start": T0 - HOUR, "end": T0 + HOUR},
        },
        headers=tenant["admin"].headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [{"n": sent, "d": sent}]


def _send_one_by_one(client: httpx.Client, tenant: dict[str, Any], stream: str, requests: int) -> int:
    sent = 0
    for r in range(requests):
        rows = [{"_timestamp": T0 + r * 1000 + i, "r": r, "i": i, "host": f"h{i % 3}"} for i in range(7)]
        if r == 2:  # a field of another type in one request: the merge widens it
            rows[0]["i"] = "seven"
        response = client.post(f"/api/v1/ingest/{stream}", json=rows, headers=tenant["ingest"])
        assert response.status_code == 202, response.text
        sent += len(rows)
        drain_ingest()
    return sent


def _query(client: httpx.Client, tenant: dict[str, Any], sql: str) -> list[dict[str, Any]]:
    answer = client.post(
        "/api/v1/query",
        json={"sql": sql, "time_range": {"start": T0 - HOUR, "end": T0 + HOUR}},
        headers=tenant["admin"].headers,
    )
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["rows"]
    return rows


@pytest.mark.usefixtures("one_by_one_with_fanin_2")
def test_a_tier_merged_from_the_rows_the_worker_just_committed_answers_as_one_read_back_from_s3(
    client: httpx.Client, tenant: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    recalled: list[bool] = []
    recall = RECENT_FILES.recall

    def counting(entry: Any) -> Any:
        found = recall(entry)
        recalled.append(found is not None)
        return found

    monkeypatch.setattr(RECENT_FILES, "recall", counting)
    # Given the same 6 small requests sent to two streams, one landed by tiers merged from the
    # rows the worker kept (ADR 0031), the other with nothing kept (every input read from S3)
    kept, read = unique("kept"), unique("read")
    sent = _send_one_by_one(client, tenant, kept, 6)
    assert recalled and all(recalled)  # every input came from the worker's memory
    recalled.clear()
    monkeypatch.setenv("MOLESIGNAL_RECENT_FILES_CACHE_MIB", "0")
    reset_settings()
    RECENT_FILES.clear()
    try:
        _send_one_by_one(client, tenant, read, 6)
    finally:
        monkeypatch.delenv("MOLESIGNAL_RECENT_FILES_CACHE_MIB")
        reset_settings()
    assert recalled and not any(recalled)
    # Then both streams hold the same tiers and answer every query alike, each row once
    manifests = [Streams(Table()).manifest(tenant["org"], s) for s in (kept, read)]
    assert [sorted((int(e.get("generation", 0)), int(e["rows"])) for e in m) for m in manifests] == [
        [(1, 14), (2, 28)]
    ] * 2
    sql = 'SELECT _timestamp, r, i, host FROM "{}" ORDER BY _timestamp'
    answers = [_query(client, tenant, sql.format(s)) for s in (kept, read)]
    assert answers[0] == answers[1]
    assert len(answers[0]) == sent == len({(a["r"], a["i"]) for a in answers[0]})
    assert {a["i"] for a in answers[0] if a["r"] == 2} == {"seven", "1", "2", "3", "4", "5", "6"}
