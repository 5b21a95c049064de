"""The ingest worker merges an hour's small files as soon as a tier of them is full (ADR 0011),
so a stream fed by many small requests stays fast to query between scheduled compactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

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
