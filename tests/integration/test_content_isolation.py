"""Sealed session content stays with its session: the reserved ``otel_content`` stream takes
no rows from tenant ingest routes, the ``sealed`` column is never readable through tenant
SQL, a blob opens only for the org, record, session and user it was sealed for, and rows
that were planted in the stream anyway (before these checks existed) neither break a read
nor block the session's own user."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

import cramjam
import httpx
import orjson
import pytest

from molesignal.lake.streams import CONTENT_STREAM
from tests.support.api import (
    Session,
    assert_core_error,
    assert_sql_error,
    bearer,
    create_org,
    create_user,
    login,
    unique,
)
from tests.support.lake import drain_ingest, landed_rows

NOW_NS = time.time_ns()


@pytest.fixture
def org(client: httpx.Client, root: Session) -> dict[str, Any]:
    org_id = create_org(client, root)
    admin = create_user(client, root, "admin", org_id=org_id)
    mtk = client.post("/api/v1/tokens", json={"name": "otel", "role": "ingest", "kind": "mtk"}, headers=admin.headers)
    assert mtk.status_code == 201, mtk.text
    people: dict[str, Any] = {"org": org_id, "admin": admin, "mtk": mtk.json()["token"]}
    for name in ("alice", "mallory"):
        user = unique(name)
        created = client.post(
            "/api/v1/users",
            json={"user": user, "password": "UserPass123!", "role": "editor", "email": f"{user}@example.com"},
            headers=admin.headers,
        )
        assert created.status_code == 201, created.text
        people[name] = login(client, user, "UserPass123!")
        people[f"{name}_email"] = f"{user}@example.com"
    return people


def _send_prompt(client: httpx.Client, org: dict[str, Any], who: str, session: str, prompt: str) -> None:
    body = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(NOW_NS),
                                "body": {"stringValue": "claude_code.user_prompt"},
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": session}},
                                    {"key": "user.email", "value": {"stringValue": org[f"{who}_email"]}},
                                    {"key": "prompt", "value": {"stringValue": prompt}},
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    response = client.post("/v1/logs", json=body, headers=bearer(org["mtk"]))
    assert response.status_code == 202, response.text
    drain_ingest()


def _content_rows(org_id: str, session: str) -> list[dict[str, Any]]:
    return [r for r in landed_rows(org_id, CONTENT_STREAM) if r.get("session_id") == session]


def _plant(org_id: str, rows: list[dict[str, Any]]) -> None:
    """Rows written straight into the lake, as tenant ingest could write them before the
    reserved-stream check existed (and as no tenant route can now)."""
    from molesignal.lake.writer import Lake

    ndjson = b"".join(orjson.dumps(row) + b"\n" for row in rows)
    Lake().append_batch(org_id, CONTENT_STREAM, f"planted-{uuid.uuid4().hex}", ndjson)


def _remote_write(stream_labels: dict[str, str]) -> bytes:
    from molesignal.ingest.proto import prometheus_remote_pb2 as pb

    request = pb.WriteRequest()
    series = request.timeseries.add()
    for name, value in {"__name__": "forged", **stream_labels}.items():
        label = series.labels.add()
        label.name, label.value = name, value
    sample = series.samples.add()
    sample.value, sample.timestamp = 1.0, NOW_NS // 1_000_000
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_no_tenant_ingest_route_writes_the_reserved_content_stream(client: httpx.Client, org: dict[str, Any]) -> None:
    # Given alice's sealed prompt, and the row that holds it
    session = f"sess-{uuid.uuid4().hex[:8]}"
    _send_prompt(client, org, "alice", session, f"SECRET-{uuid.uuid4().hex}")
    [victim] = _content_rows(org["org"], session)
    forged = {**victim, "session_id": f"mine-{uuid.uuid4().hex[:6]}", "session_user": org["mallory_email"]}
    forged.pop("org_id", None)
    forged.pop("_stream", None)
    # When an editor, an admin or the org's ingest token writes it into otel_content by any route
    for who in (org["mallory"].headers, org["admin"].headers, bearer(org["mtk"])):
        native = client.post(f"/api/v1/ingest/{CONTENT_STREAM}", json=[forged], headers=who)
        assert_core_error(native, 403, "reserved_stream")
        upper = client.post(f"/api/v1/ingest/{CONTENT_STREAM.upper()}", json=[forged], headers=who)
        assert_core_error(upper, 403, "reserved_stream")
        bulk = client.post(
            "/api/v1/es/_bulk",
            content=orjson.dumps({"index": {"_index": CONTENT_STREAM}}) + b"\n" + orjson.dumps(forged) + b"\n",
            headers={**who, "content-type": "application/x-ndjson"},
        )
        assert bulk.status_code == 202, bulk.text
        [item] = bulk.json()["items"]
        assert item["index"]["status"] == 403 and item["index"]["error"]["type"] == "security_exception"
        assert bulk.json()["accepted"] == 0
        in_index = client.post(
            f"/api/v1/es/{CONTENT_STREAM}/_bulk",
            content=b'{"create":{}}\n' + orjson.dumps(forged) + b"\n",
            headers={**who, "content-type": "application/x-ndjson"},
        )
        assert in_index.json()["items"][0]["create"]["status"] == 403
        loki = client.post(
            "/api/v1/loki/api/v1/push",
            params={"stream": CONTENT_STREAM},
            json={"streams": [{"stream": {"job": "x"}, "values": [[str(NOW_NS), "line"]]}]},
            headers=who,
        )
        assert_core_error(loki, 403, "reserved_stream")
        prometheus = client.post(
            "/api/v1/prometheus/api/v1/write",
            params={"stream": CONTENT_STREAM},
            content=_remote_write({"job": "x"}),
            headers={**who, "content-type": "application/x-protobuf", "content-encoding": "snappy"},
        )
        assert_core_error(prometheus, 403, "reserved_stream")
    # Then nothing was enqueued: the stream still holds alice's row only
    drain_ingest()
    assert [r["record_id"] for r in landed_rows(org["org"], CONTENT_STREAM)] == [victim["record_id"]]
    # And the OTLP receiver still writes it
    _send_prompt(client, org, "mallory", f"sess-{uuid.uuid4().hex[:8]}", "mallory's own prompt")
    assert len(landed_rows(org["org"], CONTENT_STREAM)) == 2


def test_the_sealed_column_is_not_readable_through_tenant_sql(client: httpx.Client, org: dict[str, Any]) -> None:
    # Given sealed content in the org
    session = f"sess-{uuid.uuid4().hex[:8]}"
    _send_prompt(client, org, "alice", session, f"SECRET-{uuid.uuid4().hex}")
    [victim] = _content_rows(org["org"], session)
    blob = victim["sealed"]
    for reader in (create_user(client, org["admin"], "viewer"), org["mallory"], org["admin"]):
        _assert_sealed_not_served(client, reader, session, blob)
    # And the stream's public schema still lists it (it is stored, just never served by SQL)
    schema = client.get(f"/api/v1/streams/{CONTENT_STREAM}", headers=org["admin"].headers).json()["schema"]
    assert "sealed" in {c["name"] for c in schema}


def _assert_sealed_not_served(client: httpx.Client, reader: Session, session: str, blob: str) -> None:
    # When the reader asks for it by name: the column does not exist for tenant SQL
    asked = client.post("/v1/api/sql", json={"sql": f"SELECT sealed FROM {CONTENT_STREAM}"}, headers=reader.headers)
    assert_sql_error(asked, 400, "INVALID_SQL")
    query = client.post(
        "/api/v1/query",
        json={"sql": f"SELECT t.sealed FROM {CONTENT_STREAM} t", "time_range": {"start": 0, "end": 2**62}},
        headers=reader.headers,
    )
    assert_core_error(query, 400)
    # Nor is it there in any other shape: *, a whole-row struct, NDJSON, correlation
    for sql in (
        f"SELECT * FROM {CONTENT_STREAM}",
        f"SELECT c AS whole_row FROM {CONTENT_STREAM} c",
        f"SELECT t.* EXCLUDE (record_id) FROM {CONTENT_STREAM} t",
    ):
        answer = client.post("/v1/api/sql", json={"sql": sql}, headers=reader.headers)
        assert answer.status_code == 200, answer.text
        assert "sealed" not in [c["name"] for c in answer.json()["results"][0]["schema"]]
        assert answer.json()["results"][0]["rows"] and blob not in answer.text and '"ct"' not in answer.text
    streamed = client.post(
        "/api/v1/query",
        json={"sql": f"SELECT * FROM {CONTENT_STREAM}", "time_range": {"start": 0, "end": 2**62}},
        headers={**reader.headers, "accept": "application/x-ndjson"},
    )
    assert streamed.status_code == 200 and streamed.text.strip()
    assert blob not in streamed.text and '"sealed"' not in streamed.text
    correlated = client.get("/api/v1/correlate", params={"session_id": session}, headers=reader.headers)
    assert correlated.status_code == 200, correlated.text
    assert correlated.json()["items"] and blob not in correlated.text and '"sealed"' not in correlated.text


def test_a_sealed_blob_opens_only_for_its_own_session_and_user(client: httpx.Client, org: dict[str, Any]) -> None:
    # Given alice's sealed prompt
    secret = f"SECRET-{uuid.uuid4().hex}"
    alice_session = f"sess-{uuid.uuid4().hex[:8]}"
    _send_prompt(client, org, "alice", alice_session, secret)
    [victim] = _content_rows(org["org"], alice_session)
    # When her record id and blob sit under mallory's session and user (planted past the API)
    mallory_session = f"sess-{uuid.uuid4().hex[:8]}"
    forged = {k: v for k, v in victim.items() if k not in ("org_id", "_stream")}
    _plant(org["org"], [{**forged, "session_id": mallory_session, "session_user": org["mallory_email"]}])
    # Then mallory's read of her own session does not open it
    read = client.get(f"/api/v1/sessions/{mallory_session}/content", headers=org["mallory"].headers)
    assert read.status_code == 200, read.text
    assert secret not in read.text
    [record] = read.json()["records"]
    assert record["content"] is None and record["error"]
    # Nor does an admin's read of that forged session
    admin_read = client.get(f"/api/v1/sessions/{mallory_session}/content", headers=org["admin"].headers)
    assert admin_read.status_code == 200 and secret not in admin_read.text
    # While alice (and an admin) still read hers
    for reader in (org["alice"], org["admin"]):
        own = client.get(f"/api/v1/sessions/{alice_session}/content", headers=reader.headers)
        assert own.status_code == 200, own.text
        assert own.json()["records"][0]["content"] == {"attr_prompt": secret}


def _audit(client: httpx.Client, admin: Session, session: str) -> list[tuple[str, str, dict[str, Any]]]:
    items = client.get("/api/v1/audit", headers=admin.headers).json()["items"]
    return [
        (e["actor"], e["outcome"], e["details"])
        for e in items
        if e["action"] == "content.read" and e["target"] == session
    ]


def test_forged_rows_neither_break_a_content_read_nor_lock_out_the_sessions_user(
    client: httpx.Client, org: dict[str, Any]
) -> None:
    # Given alice's session with her sealed prompt
    secret = f"SECRET-{uuid.uuid4().hex}"
    session = f"sess-{uuid.uuid4().hex[:8]}"
    _send_prompt(client, org, "alice", session, secret)
    [real] = _content_rows(org["org"], session)
    # And rows forged into the same session: junk in every column a reader looks at
    junk_blob = orjson.dumps({"v": 1, "alg": "A256GCM", "kid": "0" * 16, "edk": "AAAA", "iv": "AAAA", "ct": "AAAA"})
    junk_key = b"not a KMS ciphertext blob at all"
    kms_junk = orjson.dumps(
        {
            "v": 2,
            "alg": "A256GCM",
            "kid": hashlib.sha256(junk_key).hexdigest()[:16],  # consistent with the key, so KMS is asked
            "edk": base64.b64encode(junk_key).decode(),
            "iv": base64.b64encode(b"\0" * 12).decode(),
            "ct": base64.b64encode(b"\0" * 32).decode(),
        }
    )
    base = {"_timestamp": real["_timestamp"] + 1, "session_id": session, "source_stream": "otel_logs"}
    _plant(
        org["org"],
        [
            {**base, "record_id": "forged-1", "session_user": org["alice_email"], "sealed": "not a blob"},
            {**base, "record_id": "forged-2", "session_user": org["alice_email"], "sealed": junk_blob.decode()},
            {**base, "record_id": "forged-3", "session_user": org["mallory_email"], "sealed": real["sealed"]},
            {**base, "record_id": "forged-4", "session_user": org["alice_email"], "sealed": '{"v": 2}'},
            {**base, "session_user": org["alice_email"], "sealed": real["sealed"]},  # no record id at all
            {**base, "record_id": "forged-6", "session_user": org["alice_email"]},  # no sealed value at all
            {**base, "record_id": "forged-7", "session_user": org["alice_email"], "sealed": kms_junk.decode()},
        ],
    )
    url = f"/api/v1/sessions/{session}/content"
    # When an admin reads the session: 200, the real record opens, every forged one is marked
    read = client.get(url, headers=org["admin"].headers)
    assert read.status_code == 200, read.text
    records = read.json()["records"]
    assert len(records) == 8
    opened = [r for r in records if r["content"] is not None]
    assert [r["content"] for r in opened] == [{"attr_prompt": secret}]
    assert all(r["error"] for r in records if r["content"] is None)
    assert None in {r["record_id"] for r in records}  # the row without one is shown as such
    assert _audit(client, org["admin"], session)[0] == (
        org["admin"].user,
        "success",
        {"records": 8, "undecryptable": 7},
    )
    # And alice reads her session: her record opens; the one bound to someone else is withheld
    own = client.get(url, headers=org["alice"].headers)
    assert own.status_code == 200, own.text
    assert [r["content"] for r in own.json()["records"] if r["content"]] == [{"attr_prompt": secret}]
    assert "forged-3" not in own.text
    actor, outcome, details = _audit(client, org["admin"], session)[0]
    assert (actor, outcome) == (org["alice"].user, "success")
    assert details["withheld"] == 1
    # While mallory, whose name is on the forged row holding alice's blob, gets nothing out of it
    theirs = client.get(url, headers=org["mallory"].headers)
    assert theirs.status_code == 200, theirs.text
    assert secret not in theirs.text
    assert [(r["record_id"], r["content"]) for r in theirs.json()["records"]] == [("forged-3", None)]
    # And a user named on no record of the session is refused, and that is audited
    viewer = create_user(client, org["admin"], "viewer")
    assert_core_error(client.get(url, headers=viewer.headers), 403, "PERMISSION_DENIED")
    assert _audit(client, org["admin"], session)[0][:2] == (viewer.user, "denied")


def test_content_sealed_before_sessions_were_bound_opens_for_admins_only(
    client: httpx.Client, org: dict[str, Any]
) -> None:
    """A version 1 blob (sealed before the AAD bound session and user) binds org and record
    only, so its row's session and user prove nothing: admins, who may read every session,
    still read it; the user named on the row is told to ask one."""
    from molesignal.otlp.content import LEGACY_BLOB_VERSION
    from molesignal.otlp.receiver import shared_cipher

    secret = f"SECRET-{uuid.uuid4().hex}"
    session = f"sess-{uuid.uuid4().hex[:8]}"
    record_id = uuid.uuid4().hex[:24]
    blob = shared_cipher().encrypt_json(
        org["org"], {"attr_prompt": secret}, aad_context=record_id, version=LEGACY_BLOB_VERSION
    )
    _plant(
        org["org"],
        [
            {
                "_timestamp": NOW_NS // 1000,
                "record_id": record_id,
                "source_stream": "otel_logs",
                "session_id": session,
                "session_user": org["alice_email"],
                "fields": '["attr_prompt"]',
                "key_id": blob.key_id,
                "sealed": blob.to_json(),
            }
        ],
    )
    url = f"/api/v1/sessions/{session}/content"
    admin_read = client.get(url, headers=org["admin"].headers)
    assert admin_read.status_code == 200, admin_read.text
    assert admin_read.json()["records"][0]["content"] == {"attr_prompt": secret}
    own = client.get(url, headers=org["alice"].headers)
    assert own.status_code == 200, own.text
    [record] = own.json()["records"]
    assert record["content"] is None and "admins" in record["error"] and secret not in own.text
