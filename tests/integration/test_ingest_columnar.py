"""Native NDJSON read column-wise (ADR 0022) over the local gateway: the answer and the rows
queried back with SQL are those of the record path, which a JSON array body of the same
records always takes; bodies the column-wise path cannot match fall back with the record
path's per-line answer; version 1 messages queued before an upgrade still land. A native
body's message carries the columns the ingest function read (version 3, ADR 0028), or the
body itself when a double was written as an integer; a version 2 message of the same body
(queued before ADR 0028) lands the same rows.
"""

from __future__ import annotations

import base64
import dataclasses
import random
from typing import Any

import httpx
import orjson
import pytest

from molesignal import aws
from molesignal.ingest import envelope
from molesignal.settings import get_settings
from tests.support.api import Session, bearer, create_user, rows_of, sql_ok, unique
from tests.support.clients import new_ingest_tenant
from tests.support.lake import drain_ingest, landed_rows, queue_depth

T0 = 1_800_000_000_000_000
NDJSON = "application/x-ndjson"


@pytest.fixture(scope="module")
def tenant(base_url: str) -> dict[str, Any]:
    made = new_ingest_tenant(base_url)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        viewer = create_user(client, made["admin"], "viewer")
    return {**made, "viewer": viewer, "headers": bearer(made["token"])}


def _post(client: httpx.Client, tenant: dict[str, Any], stream: str, body: bytes, media: str) -> httpx.Response:
    return client.post(f"/api/v1/ingest/{stream}", content=body, headers={**tenant["headers"], "content-type": media})


def _sql(client: httpx.Client, who: Session, sql: str) -> list[dict[str, Any]]:
    return rows_of(sql_ok(client, who, sql)[0])


def _queued() -> list[envelope.IngestMessage]:
    """The queued ingest messages (looked at without taking them)."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().queue_name("ingest"))["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [envelope.IngestMessage.from_json(m["Body"]) for m in got]


def _queued_formats() -> dict[str, str]:
    """What the queued ingest messages carry, per stream."""
    return {m.stream: m.payload_format for m in _queued()}


def _without_request_id(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "request_id"}


def _rows(client: httpx.Client, tenant: dict[str, Any], stream: str) -> list[dict[str, Any]]:
    rows = _sql(client, tenant["viewer"], f'SELECT * FROM "{stream}" ORDER BY _timestamp, n')
    return [{k: v for k, v in r.items() if k != "_stream"} for r in rows]


RECORDS: list[dict[str, Any]] = [
    {
        "_timestamp": T0 + i if i % 3 else (T0 + i) // 1000,  # µs, and ms
        "n": i,
        "level": ["info", "warn", "error"][i % 3],
        "msg": f"request {i} done \u00e9",
        "http": {"status": 200 + i % 5, "duration_ms": 1.5 * i, "path": f"/orders/{i}", "ok": i % 2 == 0},
        "kubernetes": {"labels": {"app": "shop", "pod-template-hash": "abc"}, "host": f"node-{i % 4}"},
        "tags": ["a", "b"][: i % 3],
        "seen": "2027-01-15T08:00:00Z",  # ISO-looking text stays text
        "amount": i if i % 2 else i + 0.25,  # ints and floats in one column: a double
        "Trace-ID": "394577977526300712491fc8268288f6",
    }
    for i in range(40)
]


def test_a_body_read_column_wise_answers_and_stores_what_the_record_path_does(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    drain_ingest()
    fast, slow = unique("columnar"), unique("records")
    ndjson = b"\n".join(orjson.dumps(r) for r in RECORDS) + b"\n"
    # A JSON array body always takes the record path; NDJSON of the same records takes Arrow's.
    by_arrow = _post(client, tenant, fast, ndjson, NDJSON)
    by_records = _post(client, tenant, slow, orjson.dumps(RECORDS), "application/json")
    assert _queued_formats() == {fast: envelope.RAW_NDJSON, slow: envelope.CANONICAL_NDJSON}
    assert by_arrow.status_code == by_records.status_code == 202, by_arrow.text
    assert by_arrow.json()["streams"] == {fast: 40}
    assert {**_without_request_id(by_arrow.json()), "streams": {}} == {
        **_without_request_id(by_records.json()),
        "streams": {},
    }
    drain_ingest()
    columnar_rows, record_rows = _rows(client, tenant, fast), _rows(client, tenant, slow)
    assert len(columnar_rows) == 40
    assert columnar_rows == record_rows
    by_n = {r["n"]: r for r in columnar_rows}
    assert by_n[1]["http_duration_ms"] == 1.5 and by_n[1]["kubernetes_labels_pod_template_hash"] == "abc"
    assert by_n[3]["_timestamp"] == T0 and by_n[3]["seen"] == "2027-01-15T08:00:00Z"
    assert by_n[2]["tags"] == '["a","b"]' and by_n[0]["tags"] == "[]" and by_n[1]["amount"] == 1.0
    parquet = [{k: v for k, v in r.items() if k != "_stream"} for r in landed_rows(tenant["org"], fast)]
    assert parquet == [{k: v for k, v in r.items() if k != "_stream"} for r in landed_rows(tenant["org"], slow)]


FALLBACKS = [
    # (what, body, accepted, errors as (index, code))
    ("a NaN line", b'{"n": 1, "x": 1.5}\n{"n": 2, "x": NaN}\n{"n": 3, "x": 2}\n', 2, [(1, "malformed_json")]),
    ("two objects on one line", b'{"n": 1}{"n": 2}\n{"n": 3}\n', 1, [(0, "malformed_json")]),
    ("an object over two lines", b'{"n": 1,\n"x": 2}\n{"n": 3}\n', 1, [(0, "malformed_json"), (1, "malformed_json")]),
    ("a bad timestamp", b'{"n": 1, "_timestamp": "yesterday"}\n{"n": 2}\n', 1, [(0, "invalid_timestamp")]),
    ("names that collide", b'{"n": 1, "A": 1, "a": 2}\n', 1, []),
    ("a 70-bit integer", b'{"n": 1, "big": 1180591620717411303424}\n', 1, []),
    ("a repeated key", b'{"n": 1, "k": 1, "k": 2}\n', 1, []),
    ("a byte order mark", b'\xef\xbb\xbf{"n": 1}\n{"n": 2}\n', 1, [(0, "malformed_json")]),
]


@pytest.mark.parametrize(("what", "body", "accepted", "errors"), FALLBACKS, ids=[f[0] for f in FALLBACKS])
def test_bodies_arrow_cannot_match_fall_back_to_the_record_path(
    client: httpx.Client, tenant: dict[str, Any], what: str, body: bytes, accepted: int, errors: list[Any]
) -> None:
    stream = unique("fallback")
    drain_ingest()
    response = _post(client, tenant, stream, body, NDJSON)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (accepted, len(errors)), what
    assert _queued_formats() == {stream: envelope.CANONICAL_NDJSON}
    assert [(e["index"], e["code"]) for e in answer["errors"]] == errors
    drain_ingest()
    rows = _sql(client, tenant["viewer"], f'SELECT * FROM "{stream}"')
    assert len(rows) == accepted
    if what == "names that collide":
        assert (rows[0]["a"], rows[0]["a_"]) == (1, 2)
    if what == "a 70-bit integer":
        assert rows[0]["big"] == "1180591620717411303424"
    if what == "a repeated key":
        assert rows[0]["k"] == 2  # the last one, as orjson reads it


def test_a_double_column_into_a_text_field_keeps_the_integers_text(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    """The one loss Arrow cannot see after the parse: ``1`` next to ``1.5`` reads as a double;
    where the stream already holds the field as text the worker lands the record path's text."""
    drain_ingest()
    stream = unique("textual")
    assert _post(client, tenant, stream, b'{"_timestamp": %d, "x": "a"}\n' % T0, NDJSON).status_code == 202
    drain_ingest()
    body = b'{"_timestamp": %d, "x": 1}\n{"_timestamp": %d, "x": 1.5}\n' % (T0 + 1, T0 + 2)
    assert _post(client, tenant, stream, body, NDJSON).json()["accepted"] == 2
    assert _queued_formats() == {stream: envelope.RAW_NDJSON}
    drain_ingest()
    rows = _sql(client, tenant["viewer"], f'SELECT x FROM "{stream}" ORDER BY _timestamp')
    assert [r["x"] for r in rows] == ["a", "1", "1.5"]


def test_a_field_cap_reached_by_the_body_refuses_records_as_the_record_path_does(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    stream = unique("capped")
    # 1,000 fields is the default cap; the second line adds past it and is refused alone.
    first = {f"f{i}": i for i in range(999)}
    body = orjson.dumps(first) + b"\n" + orjson.dumps({"g1": 1, "g2": 2}) + b"\n" + orjson.dumps({"f1": 5}) + b"\n"
    answer = _post(client, tenant, stream, body, NDJSON).json()
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert [(e["index"], e["code"]) for e in answer["errors"]] == [(1, "field_cap_exceeded")]


def test_messages_of_both_versions_land_together_and_a_queued_version_1_message_still_lands(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    stream = unique("versions")
    drain_ingest()
    # A version 1 message as the ingest function wrote it before the column-wise path existed.
    canonical = envelope.encode_records([{"_timestamp": T0, "n": 0, "src": "old"}])
    old = {
        "v": 1,
        "request_id": f"{T0:016x}old-0",
        "org_id": tenant["org"],
        "stream": stream,
        "received_us": T0,
        "records": 1,
        "raw_bytes": len(canonical),
        "payload": base64.b64encode(canonical).decode(),
    }
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().queue_name("ingest"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(old).decode())
    # Then a version 2 message (NDJSON, read column-wise) and another version 1 (a JSON array).
    assert (
        _post(client, tenant, stream, b'{"_timestamp": %d, "n": 1, "src": "new"}\n' % (T0 + 1), NDJSON).json()[
            "accepted"
        ]
        == 1
    )
    array = orjson.dumps([{"_timestamp": T0 + 2, "n": 2, "src": "array"}])
    assert _post(client, tenant, stream, array, "application/json").json()["accepted"] == 1
    assert queue_depth() == 3
    drain_ingest()
    rows = _sql(client, tenant["viewer"], f'SELECT n, src FROM "{stream}" ORDER BY n')
    assert rows == [{"n": 0, "src": "old"}, {"n": 1, "src": "new"}, {"n": 2, "src": "array"}]


def test_a_large_body_read_column_wise_travels_by_claim_check(client: httpx.Client, tenant: dict[str, Any]) -> None:
    stream = unique("bigcol")
    # Random text compresses badly: the raw body's zstd is over the inline limit.
    rng = random.Random(7)
    lines = [
        orjson.dumps({"_timestamp": T0 + i, "n": i, "blob": base64.b64encode(rng.randbytes(700)).decode()})
        for i in range(1500)
    ]
    body = b"\n".join(lines)
    assert len(envelope.compress(body)) * 4 // 3 > envelope.INLINE_LIMIT
    answer = _post(client, tenant, stream, body, NDJSON).json()
    assert answer["accepted"] == 1500
    drain_ingest()
    assert _sql(client, tenant["viewer"], f'SELECT count(*) AS c FROM "{stream}"') == [{"c": 1500}]


def test_columns_handed_over_land_what_the_body_lands(client: httpx.Client, tenant: dict[str, Any]) -> None:
    """A native body whose floats are written as floats travels as its columns (version 3); the
    same body queued as a version 2 message (by an ingest function before ADR 0028), and the
    same records as a JSON array (the record path), land the same rows, also into a stream
    that already holds one of its double fields as text (the worker lands the record path's
    values there)."""
    drain_ingest()
    records = [
        {**{k: v for k, v in r.items() if k != "amount"}, "amount": float(r["n"]) + (0.5 if r["n"] % 2 else 0.0)}
        for r in RECORDS
    ]
    ndjson = b"\n".join(orjson.dumps(r) for r in records) + b"\n"
    for texty in (False, True):
        posted, queued, array = unique("v3"), unique("v2"), unique("array")
        if texty:  # the streams hold ``amount`` as text already
            for stream in (posted, queued, array):
                first = b'{"_timestamp": %d, "n": -1, "amount": "none"}\n' % T0
                assert _post(client, tenant, stream, first, NDJSON).status_code == 202
            drain_ingest()
        assert _post(client, tenant, posted, ndjson, NDJSON).json()["accepted"] == 40
        [sent] = _queued()
        assert sent.payload_format == envelope.ARROW_COLUMNS
        old = dataclasses.replace(
            sent,
            request_id=f"{sent.request_id}-old",
            stream=queued,
            payload_format=envelope.RAW_NDJSON,
            payload_b64=base64.b64encode(envelope.compress(ndjson.strip())).decode(),
        )
        assert orjson.loads(old.to_json())["v"] == 2
        sqs = aws.client("sqs")
        sqs.send_message(
            QueueUrl=sqs.get_queue_url(QueueName=get_settings().queue_name("ingest"))["QueueUrl"],
            MessageBody=old.to_json(),
        )
        assert _post(client, tenant, array, orjson.dumps(records), "application/json").json()["accepted"] == 40
        drain_ingest()
        expected = _rows(client, tenant, array)
        assert len(expected) == 40 + texty
        assert _rows(client, tenant, posted) == expected
        assert _rows(client, tenant, queued) == expected
        amounts = {r["n"]: r["amount"] for r in expected}
        assert amounts[2] == ("2.0" if texty else 2.0) and amounts[3] == ("3.5" if texty else 3.5)
