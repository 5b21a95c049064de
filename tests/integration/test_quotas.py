"""The shared quota limiter, against the emulator's DynamoDB. Route groups call it (ingest,
query); here it is driven directly, and its errors are checked through the web layer."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from molesignal.errors import RateLimited, StorageQuotaExceeded
from molesignal.quotas import Limiter, Quota, RateKind
from molesignal.storage.table import Table
from molesignal.web.app import create_app


@pytest.fixture
def limiter(system: Any) -> Limiter:
    return Limiter(Table())


def _audit(org_id: str) -> list[dict[str, Any]]:
    from molesignal import audit

    return audit.list_entries(Table(), org_id, limit=100, cursor=None)[0]


def test_rate_quota_refuses_past_the_limit_and_audits_once(limiter: Limiter) -> None:
    org = f"q-{uuid.uuid4().hex[:6]}"
    limiter.set_quota(org, Quota(ingest_qps=3, query_qps=1, storage_bytes=100))
    moment = float(int(time.time()) + 5)  # one fixed window
    for _ in range(3):
        limiter.check_rate(org, RateKind.INGEST, now=moment)
    for _ in range(2):
        with pytest.raises(RateLimited) as refused:
            limiter.check_rate(org, RateKind.INGEST, now=moment)
        assert refused.value.retry_after_s == 1
    # the next second is a new window; the query quota is separate
    limiter.check_rate(org, RateKind.INGEST, now=moment + 1)
    limiter.check_rate(org, RateKind.QUERY, now=moment)
    entries = [e for e in _audit(org) if e["action"] == "quota.exceeded"]
    assert len(entries) == 1  # one entry per window, not per refused request
    assert entries[0]["target"] == "ingest_qps"


def test_storage_quota_is_413_material(limiter: Limiter) -> None:
    org = f"q-{uuid.uuid4().hex[:6]}"
    limiter.set_quota(org, Quota(ingest_qps=10, query_qps=10, storage_bytes=1000))
    limiter.check_storage(org, 600)
    limiter.add_storage(org, 600)
    with pytest.raises(StorageQuotaExceeded):
        limiter.check_storage(org, 500)
    assert limiter.usage(org) == {"storage_bytes": 600}
    assert any(e["target"] == "storage" for e in _audit(org))


def test_quota_errors_map_to_429_with_retry_after_and_413() -> None:
    router = APIRouter()

    @router.get("/api/v1/rate")
    def rate() -> None:
        raise RateLimited("rate limited: ingest quota exceeded", retry_after_s=2, code="ingest_rate_limited")

    @router.get("/v1/api/storage")
    def storage() -> None:
        raise StorageQuotaExceeded("quota exhausted: storage cap reached")

    client = TestClient(create_app("quota-test", [router]))
    response = client.get("/api/v1/rate")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": "rate limited: ingest quota exceeded", "code": "ingest_rate_limited"}
    response = client.get("/v1/api/storage")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
