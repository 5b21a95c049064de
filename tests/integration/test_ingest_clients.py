"""Ingest through the clients users already run: the official Elasticsearch client's bulk
helper, a Loki logging handler (JSON), a Loki protobuf + snappy push built from Loki's own
schema, and a Prometheus remote_write client."""

from __future__ import annotations

import logging
import time
from typing import Any

import cramjam
import httpx
import pytest
import requests

from tests.support.api import Session, assert_core_error, bearer, create_api_token, create_org, create_user, unique
from tests.support.lake import drain_ingest, landed_rows, queue_depth

T0 = 1_800_000_000_000_000


@pytest.fixture
def tenant(client: httpx.Client, root: Session) -> dict[str, Any]:
    org = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org)
    token = create_api_token(client, admin, role="ingest")
    return {"org": org, "token": token, "headers": bearer(token)}


# --- Elasticsearch ---------------------------------------------------------
def test_elasticsearch_bulk_helper_lands_documents(base_url: str, tenant: dict[str, Any]) -> None:
    from elasticsearch import Elasticsearch, helpers

    es = Elasticsearch(f"{base_url}/api/v1/es", bearer_auth=tenant["token"], request_timeout=30)
    actions = [
        {
            "_index": "web-logs",
            "_id": f"doc-{i}",
            "_source": {"@timestamp": "2027-01-15T08:00:00Z", "n": i, "user": {"id": i % 7}},
        }
        for i in range(120)
    ] + [{"_op_type": "create", "_index": "audit", "_source": {"_timestamp": T0, "who": "alice"}}]
    succeeded, errors = helpers.bulk(es, actions, chunk_size=50)
    assert (succeeded, errors) == (121, [])
    drain_ingest()
    rows = landed_rows(tenant["org"], "web-logs")
    assert sorted(r["n"] for r in rows) == list(range(120))
    assert {r["_id"] for r in rows} == {f"doc-{i}" for i in range(120)}
    assert rows[0]["user_id"] in range(7)
    assert rows[0]["at_timestamp"] == "2027-01-15T08:00:00Z"
    assert landed_rows(tenant["org"], "audit")[0]["who"] == "alice"


def test_elasticsearch_bulk_reports_item_errors_in_bulk_shape(base_url: str, tenant: dict[str, Any]) -> None:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(f"{base_url}/api/v1/es", bearer_auth=tenant["token"])
    operations: list[dict[str, Any]] = [
        {"index": {"_index": "shop"}},
        {"sku": "a-1", "qty": 2},
        {"update": {"_index": "shop", "_id": "x"}},  # not supported: per-item error, the rest lands
        {"doc": {"qty": 3}},
        {"index": {"_index": "Bad Index!"}},  # not a stream name
        {"sku": "b-2"},
        {"delete": {"_index": "shop", "_id": "y"}},  # no source line follows a delete
        {"index": {"_index": "shop"}},
        {"sku": "c-3", "_timestamp": "not a time"},
    ]
    response = es.bulk(operations=operations)
    assert response["errors"] is True
    statuses = [next(iter(item.values()))["status"] for item in response["items"]]
    assert statuses == [201, 400, 400, 400, 400]
    kinds = [next(iter(item.values())).get("error", {}).get("type") for item in response["items"]]
    assert kinds[1] == "illegal_argument_exception"
    drain_ingest()
    assert [r["sku"] for r in landed_rows(tenant["org"], "shop")] == ["a-1"]


def test_elasticsearch_client_sees_auth_errors_as_such(base_url: str) -> None:
    from elasticsearch import AuthenticationException, Elasticsearch, helpers

    es = Elasticsearch(f"{base_url}/api/v1/es", bearer_auth="ms_abcdefghij_" + "x" * 40)
    with pytest.raises(AuthenticationException):
        helpers.bulk(es, [{"_index": "x", "_source": {"a": 1}}])


def test_bulk_with_a_malformed_action_line_is_400(client: httpx.Client, tenant: dict[str, Any]) -> None:
    body = b'{"index": {"_index": "x"}}\n{"a": 1}\n{"index": \n{"a": 2}\n'
    response = client.post(
        "/api/v1/es/_bulk", content=body, headers={**tenant["headers"], "content-type": "application/x-ndjson"}
    )
    assert_core_error(response, 400)
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    assert queue_depth() == 0


# --- Loki ------------------------------------------------------------------
class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def test_loki_json_push_from_python_logging_loki(base_url: str, tenant: dict[str, Any]) -> None:
    import logging_loki

    handler = logging_loki.LokiHandler(
        url=f"{base_url}/api/v1/loki/api/v1/push?stream=applogs",
        tags={"app": "checkout", "env": "test"},
        auth=_Bearer(tenant["token"]),  # type: ignore[arg-type]
        version="1",
    )
    failures: list[BaseException] = []
    handler.handleError = lambda record: failures.append(RuntimeError(record.getMessage()))  # type: ignore[method-assign]
    logger = logging.getLogger(unique("loki"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for i in range(5):
        logger.warning("payment %s declined", i, extra={"tags": {"order": f"o-{i}"}})
    assert failures == []  # the client treats anything but 204 as an error
    drain_ingest()
    rows = landed_rows(tenant["org"], "applogs")
    assert [r["message"] for r in rows] == [f"payment {i} declined" for i in range(5)]
    assert {r["app"] for r in rows} == {"checkout"}
    assert rows[0]["severity"] == "warning"


def _loki_protobuf(entries: list[tuple[str, int, str]]) -> bytes:
    from google.protobuf.timestamp_pb2 import Timestamp

    from molesignal.ingest.proto import loki_push_pb2 as pb

    request = pb.PushRequest()
    for labels, ns, line in entries:
        stream = request.streams.add()
        stream.labels = labels
        entry = stream.entries.add()
        entry.timestamp.CopyFrom(Timestamp(seconds=ns // 10**9, nanos=ns % 10**9))
        entry.line = line.encode()
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_loki_protobuf_snappy_push(client: httpx.Client, tenant: dict[str, Any]) -> None:
    ns = T0 * 1000
    body = _loki_protobuf(
        [('{job="api", level="error"}', ns, "boom"), ('{job="api", level="info", msg="say \\"hi\\""}', ns + 1000, "ok")]
    )
    response = client.post(
        "/api/v1/loki/api/v1/push?stream=lokipb",
        content=body,
        headers={**tenant["headers"], "content-type": "application/x-protobuf", "content-encoding": "snappy"},
    )
    assert response.status_code == 204, response.text
    assert response.headers["x-molesignal-accepted"] == "2"
    drain_ingest()
    rows = landed_rows(tenant["org"], "lokipb")
    assert [(r["_timestamp"], r["message"], r["level"]) for r in rows] == [
        (T0, "boom", "error"),
        (T0 + 1, "ok", "info"),
    ]
    assert rows[1]["msg"] == 'say "hi"'


@pytest.mark.parametrize(
    ("what", "body", "content_type", "status"),
    [
        ("truncated snappy", b"\xff\x10\x00garbage", "application/x-protobuf", 400),
        (
            "snappy of random bytes",
            bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\xff\x0f")),
            "application/x-protobuf",
            400,
        ),
        ("wrong content type", b"hello", "text/html", 415),
        ("empty body", b"", "application/x-protobuf", 400),
        ("JSON that is not a push", b'{"streams": 5}', "application/json", 400),
    ],
)
def test_loki_bad_bodies(
    client: httpx.Client, tenant: dict[str, Any], what: str, body: bytes, content_type: str, status: int
) -> None:
    drain_ingest()
    response = client.post(
        "/api/v1/loki/api/v1/push", content=body, headers={**tenant["headers"], "content-type": content_type}
    )
    assert_core_error(response, status)
    assert queue_depth() == 0, what


def test_loki_truncated_snappy_of_a_real_push_is_400(client: httpx.Client, tenant: dict[str, Any]) -> None:
    body = _loki_protobuf([('{job="api"}', T0 * 1000, "line")])
    response = client.post(
        "/api/v1/loki/api/v1/push",
        content=body[: len(body) // 2],
        headers={**tenant["headers"], "content-type": "application/x-protobuf"},
    )
    assert_core_error(response, 400)


# --- Prometheus --------------------------------------------------------------
def test_prometheus_remote_write_client(base_url: str, tenant: dict[str, Any]) -> None:
    from prometheus_remote_writer import RemoteWriter

    now_ms = int(time.time() * 1000)
    writer = RemoteWriter(
        url=f"{base_url}/api/v1/prometheus/api/v1/write?stream=metrics",
        headers={"Authorization": f"Bearer {tenant['token']}"},
    )
    writer.send(
        [
            {
                "metric": {"__name__": "http_requests_total", "method": "GET", "code": "200"},
                "values": [10, 12],
                "timestamps": [now_ms - 1000, now_ms],
            },
            {"metric": {"__name__": "queue_depth", "queue": "ingest"}, "values": [3.5], "timestamps": [now_ms]},
        ]
    )
    drain_ingest()
    rows = landed_rows(tenant["org"], "metrics")
    assert sorted((r["metric"], r["value"]) for r in rows) == [
        ("http_requests_total", 10.0),
        ("http_requests_total", 12.0),
        ("queue_depth", 3.5),
    ]
    assert {r["method"] for r in rows if r["metric"] == "http_requests_total"} == {"GET"}
    assert rows[-1]["_timestamp"] == now_ms * 1000


def test_prometheus_bad_bodies(client: httpx.Client, tenant: dict[str, Any]) -> None:
    headers = {**tenant["headers"], "content-type": "application/x-protobuf", "content-encoding": "snappy"}
    assert_core_error(
        client.post("/api/v1/prometheus/api/v1/write", content=b"\x00\x01truncated", headers=headers), 400
    )
    assert_core_error(client.post("/api/v1/prometheus/api/v1/write", content=b"", headers=headers), 400)
    wrong = {**tenant["headers"], "content-type": "application/json"}
    assert_core_error(client.post("/api/v1/prometheus/api/v1/write", content=b"{}", headers=wrong), 415)
