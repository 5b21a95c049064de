"""Audit events in (spec 001) over real HTTP: 202 with pre-issued ids, validation in the
events envelope, Idempotency-Key, and the per-org hash chain the worker builds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from molesignal.events.ids import id_time_us, is_event_id
from molesignal.settings import reset_settings
from tests.support.api import Session, bearer, create_api_token, create_user
from tests.support.events import assert_unbroken, chain_rows, drain_events, event, org_admin
from tests.support.mmdb import write_city_db


def assert_events_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Spec 001's envelope: {"error": "<code>", "message": "..."}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


def test_one_event_answers_202_with_an_id_and_is_chained(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    response = client.post("/api/v1/events", json=event(), headers=admin.headers)
    assert response.status_code == 202, response.text
    event_id = response.json()["id"]
    assert is_event_id(event_id)
    drain_events()
    found = chain_rows(admin.org_id)
    assert [r["id"] for r in found] == [event_id]
    assert found[0]["_timestamp"] == id_time_us(event_id)
    assert found[0]["actor_id"] == "user_1" and found[0]["action"] == "user.signed_in"
    assert_unbroken(found)


def test_a_batch_keeps_request_order_in_ids_and_sequence(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    batch = [event(f"doc.edit_{i}") for i in range(25)]
    response = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers)
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    assert len(ids) == 25 and ids == sorted(ids), "ids are time-sortable, in request order"
    drain_events()
    found = chain_rows(admin.org_id)
    assert [r["id"] for r in found] == ids
    assert [r["action"] for r in found] == [f"doc.edit_{i}" for i in range(25)]
    assert_unbroken(found)


def test_events_are_queryable_by_sql_as_the_audit_events_stream(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    client.post("/api/v1/events/batch", json={"events": [event("a.one"), event("a.two")]}, headers=admin.headers)
    drain_events()
    response = client.post(
        "/v1/api/sql",
        json={"sql": "SELECT action, seq, actor_id FROM audit_events ORDER BY seq"},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["rows"] == [["a.one", 1, "user_1"], ["a.two", 2, "user_1"]]


@pytest.mark.parametrize(
    ("what", "body", "field"),
    [
        ("actor without id", {"actor": {"type": "user"}}, "actor.id"),
        ("location that is not an IP", {"context": {"location": "not-an-ip"}}, "context.location"),
        ("a 501-character metadata value", {"metadata": {"note": "x" * 501}}, "metadata"),
        ("51 metadata keys", {"metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
        ("a 41-character metadata key", {"metadata": {"k" * 41: 1}}, "metadata"),
        ("nested metadata", {"metadata": {"a": {"b": 1}}}, "metadata.a"),
        ("an integer past 2**53", {"metadata": {"n": 2**53 + 1}}, "metadata"),
        ("occurred_at tomorrow", {"occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "occurred_at"),
        ("occurred_at not a time", {"occurred_at": "yesterday"}, "occurred_at"),
        ("an unknown field", {"colour": "red"}, "colour"),
        ("action with spaces", {"action": "user signed in"}, "action"),
        ("targets not a list", {"targets": {"id": "x"}}, "targets"),
        ("a control character in an actor id", {"actor": {"id": "a\u0001b", "type": "user"}}, "actor.id"),
        ("an actor name of 257 characters", {"actor": {"id": "u", "type": "user", "name": "n" * 257}}, "actor.name"),
    ],
)
def test_invalid_event_is_422_naming_the_field(
    client: httpx.Client, admin: Session, what: str, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/events", json=event(**body), headers=admin.headers)
    found = assert_events_error(response, 422, "validation_failed")
    assert field in found["message"], (what, found)


def test_explicit_nulls_in_optional_fields_are_accepted(client: httpx.Client, admin: Session) -> None:
    """A null name, metadata or user agent is the same as leaving it out (it once was a 500)."""
    body = event(
        actor={"id": "u", "type": "user", "name": None, "metadata": None},
        targets=[{"id": "t", "type": "team", "name": None, "metadata": None}],
        context={"location": "203.0.113.9", "user_agent": None},
        metadata=None,
    )
    response = client.post("/api/v1/events", json=body, headers=admin.headers)
    assert response.status_code == 202, response.text


def test_batch_validation_names_the_event_index_and_accepts_nothing(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    batch = [event(), event(actor={"id": "u", "type": ""}), event()]
    found = assert_events_error(
        client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers), 422, "validation_failed"
    )
    assert "events.1.actor.type" in found["message"]
    for wrong in ([event()] * 1001, []):
        response = client.post("/api/v1/events/batch", json={"events": wrong}, headers=admin.headers)
        assert_events_error(response, 422, "validation_failed")
    drain_events()
    assert chain_rows(admin.org_id) == []


def test_malformed_json_is_400_and_a_wrong_media_type_415(client: httpx.Client, admin: Session) -> None:
    headers = {**admin.headers, "content-type": "application/json"}
    assert_events_error(client.post("/api/v1/events", content=b'{"action": ', headers=headers), 400, "malformed_json")
    plain = {**admin.headers, "content-type": "text/plain"}
    assert_events_error(client.post("/api/v1/events", content=b"hello", headers=plain), 415, "unsupported_media_type")


def test_callers_without_rights_get_the_events_envelope(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    assert_events_error(client.post("/api/v1/events", json=event()), 401, "missing_token")
    viewer = create_user(client, admin, "viewer")
    assert_events_error(client.post("/api/v1/events", json=event(), headers=viewer.headers), 403, "forbidden")
    ingest = create_api_token(client, admin, "ingest")
    assert client.post("/api/v1/events", json=event(), headers=bearer(ingest)).status_code == 202


def test_idempotency_key_returns_the_same_ids_and_stores_once(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    headers = {**admin.headers, "Idempotency-Key": "order-42"}
    body = {"events": [event("order.paid"), event("order.shipped")]}
    first = client.post("/api/v1/events/batch", json=body, headers=headers)
    again = client.post("/api/v1/events/batch", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["ids"] == first.json()["ids"]
    assert again.headers.get("idempotency-replayed") == "true"
    drain_events()
    later = client.post("/api/v1/events/batch", json=body, headers=headers)
    assert later.json()["ids"] == first.json()["ids"]
    drain_events()
    assert [r["id"] for r in chain_rows(admin.org_id)] == first.json()["ids"]
    other = {"events": [event("order.refunded")]}
    assert_events_error(client.post("/api/v1/events/batch", json=other, headers=headers), 409, "idempotency_key_reused")


def test_sixteen_concurrent_clients_make_one_unbroken_chain(client: httpx.Client, root: Session, base_url: str) -> None:
    """Given 16 clients posting batches at once into one org, when the worker drains the queue,
    then the chain holds exactly the accepted events, numbered 1..n, with no gap or fork."""
    admin = org_admin(client, root)
    accepted: list[str] = []
    lock = threading.Lock()
    errors: list[str] = []

    def post(client_no: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as own:
            for round_no in range(2):
                batch = [event(f"c{client_no}.r{round_no}.e{i}") for i in range(10)]
                response = own.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers)
                if response.status_code != 202:
                    errors.append(response.text)
                    continue
                with lock:
                    accepted.extend(response.json()["ids"])

    threads = [threading.Thread(target=post, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    drain_events()
    found = chain_rows(admin.org_id)
    assert sorted(r["id"] for r in found) == sorted(accepted)
    assert len(found) == 16 * 2 * 10
    assert_unbroken(found)


def test_a_worker_that_linked_to_a_stale_head_relinks_instead_of_forking(
    client: httpx.Client, root: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a worker that read the head before another worker landed a batch (what FIFO
    grouping normally prevents), its commit's condition on the head fails, nothing of it
    becomes visible, and it re-links onto the new head: one chain, no repeated number."""
    from molesignal.events import chain as chain_module
    from molesignal.events.chain import Chain, Head, land
    from molesignal.events.ids import new_ids
    from molesignal.events.model import EventIn, accepted
    from molesignal.lake.writer import Lake
    from molesignal.storage.table import Table

    admin = org_admin(client, root)

    def batch(name: str) -> list[dict[str, Any]]:
        return [accepted(EventIn.model_validate(event(name)), i, t) for i, t in new_ids(5)]

    first, second = batch("race.first"), batch("race.second")
    chain = Chain(Table())
    stale = chain.head(admin.org_id)
    land(chain, Lake(), admin.org_id, "race-1", first)
    reads: list[Head] = []
    real_head = chain_module.Chain.head

    def head_as_seen_before(self: Chain, org_id: str) -> Head:
        found = stale if not reads else real_head(self, org_id)  # the first read is the stale one
        reads.append(found)
        return found

    monkeypatch.setattr(chain_module.Chain, "head", head_as_seen_before)
    landed = land(chain, Lake(), admin.org_id, "race-2", second)
    assert [h.seq for h in reads] == [0, 5], "the losing attempt re-read the head"
    assert (landed.start.seq, landed.end.seq) == (5, 10)
    monkeypatch.undo()
    found = chain_rows(admin.org_id)
    assert [r["action"] for r in found] == ["race.first"] * 5 + ["race.second"] * 5
    assert_unbroken(found)
    assert land(chain, Lake(), admin.org_id, "race-2", second).duplicate, "a redelivery lands nothing"
    assert len(chain_rows(admin.org_id)) == 10

    # The losing attempt's file (numbered from seq 1) is listed nowhere; it was reserved before
    # it was written, so the garbage sweep finds it without listing the bucket and deletes it
    # once its reservation is stale, and leaves every listed file alone.
    from molesignal import aws
    from molesignal.clock import now_us
    from molesignal.lake import garbage
    from molesignal.lake.layout import stream_prefix
    from molesignal.lake.streams import Streams
    from molesignal.settings import get_settings

    s3, bucket = aws.client("s3"), get_settings().resource_name("lake")
    prefix = stream_prefix(admin.org_id, "audit_events")

    def stored() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}

    listed = {str(e["key"]) for e in Streams(Table()).manifest(admin.org_id, "audit_events")}
    orphans = stored() - listed
    assert len(orphans) == 1 and next(iter(orphans)).endswith("race-2-s1.parquet")
    later = now_us() + int(garbage.DEFAULT_PENDING_TTL_S * 1e6) + 1
    garbage.sweep(Table(), bucket, now_us=later)  # the stale reservation is doomed
    garbage.sweep(Table(), bucket, now_us=later + int(garbage.DEFAULT_GRACE_S * 1e6) + 1)  # and deleted
    assert stored() == listed
    assert_unbroken(chain_rows(admin.org_id))


def test_locations_are_geo_enriched_offline_and_private_ones_marked(client: httpx.Client, root: Session) -> None:
    admin = org_admin(client, root)
    batch = [
        event("geo.public", context={"location": "8.8.8.8"}),
        event("geo.private", context={"location": "10.1.2.3"}),
        event("geo.loopback", context={"location": "::1"}),
    ]
    ids = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers).json()["ids"]
    drain_events()
    shown = [client.get(f"/api/v1/events/{i}", headers=admin.headers).json()["context"]["geo"] for i in ids]
    assert shown == [{"scope": "public", "country": "US", "asn": "GOOGLE"}, {"scope": "private"}, {"scope": "loopback"}]
    sql = {"sql": "SELECT geo_country, geo_scope FROM audit_events ORDER BY seq"}
    rows = client.post("/v1/api/sql", json=sql, headers=admin.headers).json()["results"][0]["rows"]
    assert rows == [["US", "public"], [None, "private"], [None, "loopback"]]
    assert_unbroken(chain_rows(admin.org_id))


def test_an_operator_city_database_adds_city_fields(
    client: httpx.Client, root: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MOLESIGNAL_GEOIP_CITY_DB naming a MaxMind City database (one written here in the
    real format, read by the real reader), public addresses it covers get city fields; others
    and private ones are enriched as before, and the chain still verifies."""
    database = write_city_db(
        tmp_path / "city.mmdb",
        {
            "8.8.8.0/24": {
                "city": {"names": {"en": "Testville", "de": "Teststadt"}},
                "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
                "postal": {"code": "94043"},
                "location": {"latitude": 37.4, "longitude": -122.1, "time_zone": "America/Los_Angeles"},
                "country": {"iso_code": "US"},
            }
        },
    )
    monkeypatch.setenv("MOLESIGNAL_GEOIP_CITY_DB", str(database))
    reset_settings()
    try:
        admin = org_admin(client, root)
        batch = [event("geo.city", context={"location": location}) for location in ("8.8.8.8", "1.1.1.1", "10.0.0.1")]
        ids = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers).json()["ids"]
        drain_events()
    finally:
        monkeypatch.undo()
        reset_settings()
    shown = [client.get(f"/api/v1/events/{i}", headers=admin.headers).json()["context"]["geo"] for i in ids]
    assert shown[0] == {
        "scope": "public",
        "country": "US",
        "asn": "GOOGLE",
        "city": "Testville",
        "region": "CA",
        "postal_code": "94043",
        "latitude": 37.4,
        "longitude": -122.1,
        "time_zone": "America/Los_Angeles",
    }
    assert "city" not in shown[1] and shown[1]["scope"] == "public"  # not in the database
    assert shown[2] == {"scope": "private"}
    verified = client.get("/api/v1/events/verify", headers=admin.headers).json()
    assert verified["verified"] is True and verified["events_checked"] == 3


def test_a_city_database_that_cannot_be_opened_leaves_country_and_asn(
    client: httpx.Client, root: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"this is not a MaxMind database")
    monkeypatch.setenv("MOLESIGNAL_GEOIP_CITY_DB", str(broken))
    reset_settings()
    try:
        admin = org_admin(client, root)
        created = client.post("/api/v1/events", json=event(context={"location": "8.8.8.8"}), headers=admin.headers)
        drain_events()
    finally:
        monkeypatch.undo()
        reset_settings()
    shown = client.get(f"/api/v1/events/{created.json()['id']}", headers=admin.headers).json()["context"]["geo"]
    assert shown == {"scope": "public", "country": "US", "asn": "GOOGLE"}
