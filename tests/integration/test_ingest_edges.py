"""Ingest at the edges of what the lake can hold (issue 11: items 1, 10 and 13).

* Timestamps outside the layout's range are refused at the door, record by record
  (``invalid_timestamp``), and the request's other records land; through ES ``_bulk`` the
  refused item is a 400 item, never ``"created"``.
* Fractional seconds are parsed exactly (no float rounding).
* A record that reaches the worker with a timestamp it cannot place (a message queued
  before the door checked, then redriven) is set aside on its own: its neighbours land.
* Integers beyond 64 bits are stored as their exact decimal text, never as rounded floats.
* A field named like the engine's reserved ``__ms_`` names is renamed at ingest, as
  ``org_id`` is, so it can be selected.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from molesignal import aws
from molesignal.ingest import envelope
from molesignal.lake.layout import MAX_TIMESTAMP_US, quarantine_key
from molesignal.settings import get_settings
from tests.support.api import (
    ROOT_PASSWORD,
    Session,
    bearer,
    create_api_token,
    create_org,
    create_user,
    ensure_setup,
    login,
    unique,
)
from tests.support.lake import drain_ingest, landed_rows, queue_depth

T0 = 1_800_000_000_000_000
HOUR = 3_600_000_000
LAST_US_OF_9999 = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z, the last µs the layout can place


@pytest.fixture(scope="module")
def tenant(base_url: str) -> Iterator[dict[str, Any]]:
    """One org for the module (setting up an org, user and token costs seconds); every test
    writes streams of its own."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        org = create_org(client, root)
        admin = create_user(client, root, "admin", org_id=org)
        yield {
            "org": org,
            "admin": admin,
            "viewer": create_user(client, admin, "viewer"),
            "root": root,
            "headers": bearer(create_api_token(client, admin, role="ingest")),
        }


def _sql(client: httpx.Client, who: Session, sql: str) -> list[dict[str, Any]]:
    response = client.post("/v1/api/sql", json={"sql": sql}, headers=who.headers)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    names = [f["name"] for f in result["schema"]]
    return [dict(zip(names, row, strict=True)) for row in result["rows"]]


# --- timestamps the layout cannot place ----------------------------------------------------
OUT_OF_RANGE = [
    ("an ISO year 9999 instant that is year 10000 in UTC", "9999-12-31T23:59:59-14:00"),
    ("1e21 read as nanoseconds: year 33658", 1e21),
    ("an integer beyond 64 bits", 4_000_000_000_000_000_000_000),
    ("the first ns of year 10000", MAX_TIMESTAMP_US * 1000),
    ("before the epoch", "1969-12-31T23:59:59Z"),
    ("negative µs", -1),
]


def test_timestamps_out_of_range_are_refused_per_record_and_their_neighbours_land(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    stream = unique("range")
    # The bad input: between good records, records whose _timestamp the lake's layout cannot place
    records: list[Any] = []
    for number, (_, bad) in enumerate(OUT_OF_RANGE):
        records += [{"msg": f"good {number}"}, {"_timestamp": bad, "msg": f"bad {number}"}]
    body = b"[" + b",".join(_exact_json(r) for r in records) + b"]"
    response = client.post(
        f"/api/v1/ingest/{stream}", content=body, headers={**tenant["headers"], "content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (len(OUT_OF_RANGE), len(OUT_OF_RANGE))
    refused = {e["index"]: e for e in answer["errors"]}
    for number, (what, _) in enumerate(OUT_OF_RANGE):
        assert refused[2 * number + 1]["code"] == "invalid_timestamp", what
        assert "out of range" in refused[2 * number + 1]["error"], what
    drain_ingest()
    assert queue_depth("ingest-dlq") == 0
    landed = sorted(r["msg"] for r in landed_rows(tenant["org"], stream))
    assert landed == sorted(f"good {n}" for n in range(len(OUT_OF_RANGE)))


def _exact_json(record: dict[str, Any]) -> bytes:
    """orjson cannot write an integer beyond 64 bits; the standard library writes it exactly."""
    return json.dumps(record).encode()


def test_a_request_of_only_unplaceable_timestamps_is_400(client: httpx.Client, tenant: dict[str, Any]) -> None:
    response = client.post("/api/v1/ingest/nowhere", json=[{"_timestamp": 1e21}], headers=tenant["headers"])
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_timestamp"


EXACT = [
    ("the last µs of year 9999 (its .999999 rounded up a second as a float)", "9999-12-31T23:59:59.999999+00:00"),
    ("nanosecond text", "2027-01-15T08:00:00.123456789Z"),
    ("seconds with a fraction, as text", "1800000000.123456"),
    ("seconds in exponent form", "1.800000000123456e9"),
    ("nanoseconds as text with a fraction (lost a µs through float)", "1800000000123456000.0"),
    ("seconds with a fraction, as a JSON number", 1800000000.123456),
    ("milliseconds with a fraction", 1800000000123.456),
]
EXACT_US = {
    "9999-12-31T23:59:59.999999+00:00": LAST_US_OF_9999,
    "2027-01-15T08:00:00.123456789Z": 1_800_000_000_123_456,
}


def test_fractional_seconds_are_parsed_exactly(client: httpx.Client, tenant: dict[str, Any]) -> None:
    stream = unique("exact")
    records = [{"_timestamp": value, "what": what} for what, value in EXACT]
    response = client.post(f"/api/v1/ingest/{stream}", json=records, headers=tenant["headers"])
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(EXACT)
    drain_ingest()
    landed = {r["what"]: r["_timestamp"] for r in landed_rows(tenant["org"], stream)}
    for what, value in EXACT:
        assert landed[what] == EXACT_US.get(value, 1_800_000_000_123_456), what


def test_es_bulk_refuses_an_unplaceable_timestamp_as_its_own_item(client: httpx.Client, tenant: dict[str, Any]) -> None:
    stream = unique("esrange")
    # The bad input: the second document's @timestamp is year 10000 in UTC
    lines = [
        {"index": {"_index": stream}},
        {"msg": "a"},
        {"index": {"_index": stream}},
        {"@timestamp": "9999-12-31T23:59:59-14:00", "msg": "b"},
        {"create": {"_index": stream}},
        {"msg": "c"},
    ]
    body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
    response = client.post(
        "/api/v1/es/_bulk", content=body, headers={**tenant["headers"], "content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202, response.text  # 202 like every ingest route (docs/api.md)
    answer = response.json()
    assert answer["errors"] is True
    items = [next(iter(item.values())) for item in answer["items"]]
    assert [i["status"] for i in items] == [201, 400, 201]
    assert "result" not in items[1]
    assert items[1]["error"]["code"] == "invalid_timestamp"
    drain_ingest()
    assert sorted(r["msg"] for r in landed_rows(tenant["org"], stream)) == ["a", "c"]


def test_a_record_the_worker_cannot_place_never_takes_its_neighbours_with_it(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    """A message queued before the door checked the range (its record at year 10000 made the
    whole message fail five times and land in the DLQ) is redriven over HTTP: the neighbours
    land, and the record the layout cannot place is kept aside, not lost."""
    stream = unique("redrive")
    records = [
        {"_timestamp": T0, "msg": "a"},
        {"_timestamp": MAX_TIMESTAMP_US + HOUR, "msg": "unplaceable"},  # the bad input
        {"_timestamp": T0 + 1, "msg": "b"},
        {"_timestamp": 2**62 - 1, "msg": "also unplaceable"},
    ]
    payload = envelope.encode_records(records)
    message = envelope.IngestMessage(
        request_id=f"{unique('old')}-0",
        org_id=tenant["org"],
        stream=stream,
        received_us=T0,
        records=len(records),
        raw_bytes=len(payload),
        payload_b64=base64.b64encode(payload).decode(),
    )
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName=get_settings().queue_name("ingest-dlq"))["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=message.to_json())

    moved = client.post("/api/v1/ingest/_dlq/redrive", headers=tenant["root"].headers)
    assert moved.status_code == 200 and moved.json() == {"moved": 1}
    drain_ingest()
    assert queue_depth("ingest-dlq") == 0
    assert [r["msg"] for r in landed_rows(tenant["org"], stream)] == ["a", "b"]
    kept = aws.client("s3").get_object(
        Bucket=get_settings().resource_name("lake"), Key=quarantine_key(tenant["org"], stream, message.request_id)
    )
    aside = [orjson.loads(line) for line in kept["Body"].read().splitlines()]
    assert sorted(r["msg"] for r in aside) == ["also unplaceable", "unplaceable"]
    assert _sql(client, tenant["viewer"], f'SELECT msg FROM "{stream}" ORDER BY msg') == [{"msg": "a"}, {"msg": "b"}]


# --- integers beyond 64 bits ---------------------------------------------------------------
def test_integers_beyond_64_bits_are_stored_as_their_exact_text(client: httpx.Client, tenant: dict[str, Any]) -> None:
    stream = unique("wide")
    # The bad input: integer literals orjson reads as rounded floats
    body = (
        b'[{"_timestamp": 1800000000000000, "n": 1180591620717411303424, "m": -9223372036854775809},'
        b' {"_timestamp": 1800000000000001, "n": 5, "m": 18446744073709551615, "nested": {"k": 100000000000000000000}}]'
    )
    response = client.post(
        f"/api/v1/ingest/{stream}", content=body, headers={**tenant["headers"], "content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    ndjson = b'{"_timestamp": 1800000000000002, "n": -1180591620717411303424}\n{"_timestamp": 1800000000000003, "n": 7}'
    response = client.post(
        f"/api/v1/ingest/{stream}",
        content=ndjson,
        headers={**tenant["headers"], "content-type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    es = b'{"index": {"_index": "%s"}}\n{"_timestamp": 1800000000000004, "n": 36893488147419103232}\n' % stream.encode()
    response = client.post(
        "/api/v1/es/_bulk", content=es, headers={**tenant["headers"], "content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202 and response.json()["errors"] is False, response.text
    drain_ingest()
    rows = landed_rows(tenant["org"], stream)
    assert [r["n"] for r in rows] == [
        "1180591620717411303424",
        "5",
        "-1180591620717411303424",
        "7",
        "36893488147419103232",
    ]
    assert [r["m"] for r in rows[:2]] == ["-9223372036854775809", "18446744073709551615"]
    assert rows[1]["nested_k"] == "100000000000000000000"
    found = _sql(client, tenant["viewer"], f"SELECT n FROM \"{stream}\" WHERE n = '1180591620717411303424'")
    assert found == [{"n": "1180591620717411303424"}]


# --- names the engine reserves ---------------------------------------------------------------
def test_a_field_named_like_a_reserved_engine_name_is_renamed_and_can_be_selected(
    client: httpx.Client, tenant: dict[str, Any]
) -> None:
    stream = unique("names")
    # The bad input: field names that are the engine's reserved __ms_ prefix once made canonical
    records = [
        {"_timestamp": T0, "__ms_evil": "flat", "ms_evil_field": "already there"},
        {"_timestamp": T0 + 1, "__MS_Loud": 1, "__ms": {"nested": True}},
    ]
    response = client.post(f"/api/v1/ingest/{stream}", json=records, headers=tenant["headers"])
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    drain_ingest()
    viewer = tenant["viewer"]
    rows = _sql(
        client,
        viewer,
        f'SELECT ms_evil_field, ms_evil_field_, ms_loud_field, ms_nested_field FROM "{stream}" ORDER BY _timestamp',
    )
    assert rows == [
        {"ms_evil_field": "already there", "ms_evil_field_": "flat", "ms_loud_field": None, "ms_nested_field": None},
        {"ms_evil_field": None, "ms_evil_field_": None, "ms_loud_field": 1, "ms_nested_field": True},
    ]
    schema = client.get(f"/api/v1/streams/{stream}", headers=viewer.headers).json()["schema"]
    assert not [f["name"] for f in schema if f["name"].startswith("__ms_")]
