"""What a warm ingest request costs in AWS calls, and how stale its memos may be
(molesignal.recent; docs/adr/0023-local-process-shape.md), over HTTP on the local gateway.

The gateway runs the authorizer and the functions in this test process, so a hook on
botocore counts every AWS call a request makes (the emulator is a child process)."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from botocore.client import BaseClient

from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_org, create_user

NDJSON = b"".join(b'{"n": %d, "msg": "warm"}\n' % i for i in range(50))


@pytest.fixture
def ingester(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    return {"org": org, "headers": bearer(create_api_token(client, admin, role="ingest"))}


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[collections.Counter[str]]:
    counted: collections.Counter[str] = collections.Counter()
    original: Callable[..., Any] = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        counted[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    yield counted


def _ingest(client: httpx.Client, ingester: dict[str, Any]) -> httpx.Response:
    headers = {**ingester["headers"], "Content-Type": "application/x-ndjson"}
    return client.post("/api/v1/ingest/warm", content=NDJSON, headers=headers)


def test_a_warm_ingest_request_reads_only_its_token(
    client: httpx.Client, ingester: dict[str, Any], aws_calls: collections.Counter[str]
) -> None:
    # Given a warm path (the first request read the org, quota, storage use and stream)
    assert _ingest(client, ingester).status_code == 202
    aws_calls.clear()
    # When ten more requests arrive within the memo window
    for _ in range(10):
        assert _ingest(client, ingester).status_code == 202
    # Then each made one token read, one rate-window count and one enqueue, nothing else
    # (the API token's GetItem stays per request: a revocation holds from the next request on)
    assert dict(aws_calls) == {"GetItem": 10, "UpdateItem": 10, "SendMessage": 10}


def test_a_pause_made_by_another_instance_applies_within_the_memo_window(
    client: httpx.Client, ingester: dict[str, Any], use_env: Callable[..., None]
) -> None:
    from molesignal.storage import keys
    from molesignal.storage.table import Table

    assert _ingest(client, ingester).status_code == 202
    # When another function instance pauses the org (a write this process did not make)
    Table().update(*keys.org(ingester["org"]), "SET ingestion_paused = :t", values={":t": True})
    # Then this warm instance still admits until its memo runs out (5 s by default) ...
    assert _ingest(client, ingester).status_code == 202
    # ... and with no memo window it refuses at once
    use_env(warm_memo_s=0)
    assert_core_error(_ingest(client, ingester), 503, "ingestion_paused")


def test_a_revoked_token_is_refused_on_the_next_request_even_when_warm(
    client: httpx.Client, root: Session, ingester: dict[str, Any]
) -> None:
    org = ingester["org"]
    admin = create_user(client, root, "admin", org_id=org)
    created = client.post("/api/v1/tokens", json={"name": "w", "role": "ingest"}, headers=admin.headers)
    assert created.status_code == 201, created.text
    token = created.json()
    who = {"org": org, "headers": {"Authorization": f"Bearer {token['token']}"}}
    assert _ingest(client, who).status_code == 202
    revoked = client.delete(f"/api/v1/tokens/{token['id']}", headers=admin.headers)
    assert revoked.status_code == 200, revoked.text
    assert_core_error(_ingest(client, who), 401, "token_revoked")
