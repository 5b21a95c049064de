"""Native JSON/NDJSON ingest over HTTP: 202 before any Parquet, then the worker lands it."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest

from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_org, create_user, unique
from tests.support.lake import drain_ingest, landed_rows, queue_depth

T0 = 1_800_000_000_000_000


@pytest.fixture
def ingester(client: httpx.Client, root: Session) -> dict[str, Any]:
    """An org of its own (quotas and streams are per org) and an ingest-role API token."""
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    return {"org": org, "admin": admin, "headers": bearer(create_api_token(client, admin, role="ingest"))}


def test_json_array_is_accepted_with_202_then_landed(client: httpx.Client, ingester: dict[str, Any]) -> None:
    records = [{"_timestamp": T0 + i, "level": "info", "msg": f"hello {i}", "http": {"status": 200}} for i in range(50)]
    response = client.post("/api/v1/ingest/app", json=records, headers=ingester["headers"])
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 50 and body["rejected"] == 0
    assert body["streams"] == {"app": 50}
    assert body["request_id"]
    # Then nothing is in the lake until the worker runs
    assert landed_rows(ingester["org"], "app") == []
    assert drain_ingest() >= 1
    rows = landed_rows(ingester["org"], "app")
    assert [r["msg"] for r in rows] == [f"hello {i}" for i in range(50)]
    assert rows[0]["http_status"] == 200
    assert {r["org_id"] for r in rows} == {ingester["org"]}


def test_ndjson_with_a_malformed_line_keeps_the_good_ones(client: httpx.Client, ingester: dict[str, Any]) -> None:
    lines = [orjson.dumps({"_timestamp": T0 + 1, "n": 1}), b'{"n": 2, "broken": ', orjson.dumps({"n": 3}), b"[1,2]"]
    response = client.post(
        "/api/v1/ingest/mixed",
        content=b"\n".join(lines),
        headers={**ingester["headers"], "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "malformed_json"), (3, "invalid_record")]
    drain_ingest()
    assert sorted(r["n"] for r in landed_rows(ingester["org"], "mixed")) == [1, 3]


@pytest.mark.parametrize(
    ("what", "value", "expected_us"),
    [
        ("microseconds", T0, T0),
        ("milliseconds", T0 // 1000, T0),
        ("nanoseconds", T0 * 1000, T0),
        ("ISO 8601", "2027-01-15T08:00:00.123456Z", 1_800_000_000_123_456),
        ("@timestamp alias", None, T0),
    ],
)
def test_timestamps_in_every_unit_become_microseconds(
    client: httpx.Client, ingester: dict[str, Any], what: str, value: Any, expected_us: int
) -> None:
    stream = unique("ts")
    record = {"@timestamp": "2027-01-15T08:00:00Z"} if value is None else {"_timestamp": value}
    assert client.post(f"/api/v1/ingest/{stream}", json=[record], headers=ingester["headers"]).status_code == 202
    drain_ingest()
    assert landed_rows(ingester["org"], stream)[0]["_timestamp"] == expected_us, what


def test_missing_timestamp_defaults_to_receive_time(client: httpx.Client, ingester: dict[str, Any]) -> None:
    import time

    before = time.time_ns() // 1000
    client.post("/api/v1/ingest/nots", json=[{"a": 1}], headers=ingester["headers"])
    drain_ingest()
    stamp = landed_rows(ingester["org"], "nots")[0]["_timestamp"]
    assert before <= stamp <= time.time_ns() // 1000


def test_gzip_body_is_accepted(client: httpx.Client, ingester: dict[str, Any]) -> None:
    body = gzip.compress(orjson.dumps([{"_timestamp": T0, "z": "zipped"}]))
    response = client.post(
        "/api/v1/ingest/gz",
        content=body,
        headers={**ingester["headers"], "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 202, response.text
    drain_ingest()
    assert landed_rows(ingester["org"], "gz")[0]["z"] == "zipped"


@pytest.mark.parametrize(
    ("what", "content", "headers", "status", "code"),
    [
        ("empty body", b"", {"content-type": "application/json"}, 400, "empty_body"),
        ("whitespace only", b"  \n ", {"content-type": "application/json"}, 400, "empty_body"),
        ("truncated JSON array", b'[{"a": 1}, {"b": ', {"content-type": "application/json"}, 400, "malformed_json"),
        ("every line bad", b"nope\nnope", {"content-type": "application/x-ndjson"}, 400, "malformed_json"),
        ("array of numbers", b"[1, 2, 3]", {"content-type": "application/json"}, 400, "invalid_record"),
        ("wrong content type", b"<xml/>", {"content-type": "application/xml"}, 415, "unsupported_media_type"),
        (
            "gzip header on plain body",
            b"[]",
            {"content-type": "application/json", "content-encoding": "gzip"},
            400,
            "malformed_body",
        ),
        (
            "unknown encoding",
            b"[]",
            {"content-type": "application/json", "content-encoding": "br"},
            415,
            "unsupported_media_type",
        ),
        (
            "bad timestamp",
            b'[{"_timestamp": "yesterday"}]',
            {"content-type": "application/json"},
            400,
            "invalid_timestamp",
        ),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_enqueued(
    client: httpx.Client,
    ingester: dict[str, Any],
    what: str,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    drain_ingest()
    response = client.post("/api/v1/ingest/bad", content=content, headers={**ingester["headers"], **headers})
    assert_core_error(response, status, code)
    assert queue_depth() == 0, what


def test_bad_stream_names_are_refused(client: httpx.Client, ingester: dict[str, Any]) -> None:
    response = client.post("/api/v1/ingest/_secret", json=[{"a": 1}], headers=ingester["headers"])
    assert_core_error(response, 400, "invalid_stream")


def test_viewers_cannot_ingest_and_paused_orgs_get_503(
    client: httpx.Client, ingester: dict[str, Any], root: Session
) -> None:
    viewer = create_user(client, ingester["admin"], "viewer")
    assert_core_error(client.post("/api/v1/ingest/app", json=[{"a": 1}], headers=viewer.headers), 403, "forbidden")
    org = ingester["org"]
    assert client.patch(f"/api/v1/orgs/{org}", json={"ingestion_paused": True}, headers=root.headers).status_code == 200
    assert_core_error(
        client.post("/api/v1/ingest/app", json=[{"a": 1}], headers=ingester["headers"]), 503, "ingestion_paused"
    )
    # reads keep working while ingestion is paused
    assert client.get("/api/v1/auth/me", headers=ingester["headers"]).status_code == 200
    client.patch(f"/api/v1/orgs/{org}", json={"ingestion_paused": False}, headers=root.headers)
    assert client.post("/api/v1/ingest/app", json=[{"a": 1}], headers=ingester["headers"]).status_code == 202


def test_ingest_qps_quota_answers_429_with_retry_after(
    client: httpx.Client, ingester: dict[str, Any], root: Session
) -> None:
    org = ingester["org"]
    quota = {"ingest_qps": 1, "query_qps": 5, "storage_bytes": 10**9}
    assert client.put(f"/api/v1/orgs/{org}/quotas", json=quota, headers=root.headers).status_code == 200
    statuses = [
        client.post("/api/v1/ingest/q", json=[{"a": 1}], headers=ingester["headers"]).status_code for _ in range(4)
    ]
    assert 429 in statuses
    refused = client.post("/api/v1/ingest/q", json=[{"a": 1}], headers=ingester["headers"])
    if refused.status_code == 429:  # the window may have rolled over between requests
        assert refused.headers["retry-after"] == "1"
        assert_core_error(refused, 429, "ingest_rate_limited")
    audit = client.get("/api/v1/audit", headers=ingester["admin"].headers).json()["items"]
    assert any(e["action"] == "quota.exceeded" and e["target"] == "ingest_qps" for e in audit)


def test_storage_quota_answers_413(client: httpx.Client, ingester: dict[str, Any], root: Session) -> None:
    org = ingester["org"]
    quota = {"ingest_qps": 100, "query_qps": 5, "storage_bytes": 10}
    assert client.put(f"/api/v1/orgs/{org}/quotas", json=quota, headers=root.headers).status_code == 200
    response = client.post("/api/v1/ingest/big", json=[{"a": "x" * 200}], headers=ingester["headers"])
    assert_core_error(response, 413, "storage_quota_exceeded")


def test_field_cap_rejects_records_that_add_too_many_fields(client: httpx.Client, ingester: dict[str, Any]) -> None:
    wide = {f"f{i}": i for i in range(1100)}
    response = client.post("/api/v1/ingest/wide", json=[{"small": 1}, wide], headers=ingester["headers"])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert body["errors"][0]["code"] == "field_cap_exceeded"
    assert "limited to 1000 fields" in body["errors"][0]["error"]


def test_large_requests_travel_by_claim_check(client: httpx.Client, ingester: dict[str, Any]) -> None:
    import secrets

    # incompressible text makes the compressed payload exceed the inline limit
    records = [{"_timestamp": T0 + i, "blob": secrets.token_hex(512)} for i in range(1200)]
    response = client.post("/api/v1/ingest/claims", json=records, headers=ingester["headers"])
    assert response.status_code == 202, response.text
    drain_ingest()
    assert len(landed_rows(ingester["org"], "claims")) == 1200


def test_a_rate_limited_ndjson_body_is_refused_first_and_queues_nothing(
    client: httpx.Client, ingester: dict[str, Any], root: Session
) -> None:
    """The rate window is counted while Arrow parses the body (ADR 0032). A refused NDJSON
    body (the column-wise path) still gets the 429 envelope with Retry-After, ahead of what
    else is wrong with the request (a stream name that is not allowed: 400; an XML content type:
    415), and none of a refused request's records is queued: exactly the accepted ones land."""
    org = ingester["org"]
    quota = {"ingest_qps": 1, "query_qps": 5, "storage_bytes": 10**9}
    assert client.put(f"/api/v1/orgs/{org}/quotas", json=quota, headers=root.headers).status_code == 200
    body = b"\n".join(orjson.dumps({"_timestamp": T0 + i, "n": i, "level": "info"}) for i in range(20)) + b"\n"
    ndjson = {**ingester["headers"], "content-type": "application/x-ndjson"}
    paced = [client.post("/api/v1/ingest/paced", content=body, headers=ndjson) for _ in range(6)]
    refused = [answer for answer in paced if answer.status_code == 429]
    assert refused, [answer.status_code for answer in paced]
    for answer in refused:
        assert answer.headers["retry-after"] == "1"
        assert_core_error(answer, 429, "ingest_rate_limited")
    assert {answer.status_code for answer in paced} <= {202, 429}
    bad_name, bad_media = [], []
    for _ in range(4):  # the first request takes the second's one slot; the next two are over it
        paced.append(client.post("/api/v1/ingest/paced", content=body, headers=ndjson))
        bad_name.append(client.post("/api/v1/ingest/not%20a%20name", content=body, headers=ndjson).status_code)
        xml = {**ndjson, "content-type": "application/xml"}
        bad_media.append(client.post("/api/v1/ingest/paced", content=body, headers=xml).status_code)
    # 429 while the window is full; the request's own fault when the second rolled over between
    assert 429 in bad_name and set(bad_name) <= {429, 400}, bad_name
    assert 429 in bad_media and set(bad_media) <= {429, 415}, bad_media
    accepted = sum(1 for answer in paced if answer.status_code == 202)
    assert accepted >= 1
    drain_ingest()
    assert len(landed_rows(org, "paced")) == 20 * accepted
