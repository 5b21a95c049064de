"""Trace bundles (spec 003) over real HTTP: ingest of zip and tar.gz bundles, a real
Playwright trace.zip recorded here, events, blobs, presigned uploads, bad bundles, cross-org."""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from molesignal import aws
from molesignal.settings import get_settings
from tests.support.api import Session, assert_core_error, create_org, create_user
from tests.support.traces import (
    ingest,
    ndjson,
    record_checkout,
    scenario_events,
    sha256,
    tar_bundle,
    zip_bundle,
)


@pytest.fixture(scope="module")
def playwright_trace(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    trace, passed = record_checkout(tmp_path_factory.mktemp("pw"), pay_status=404)
    assert not passed  # the page answers 404, so "Paid 200" never shows
    return trace


def test_a_real_playwright_trace_becomes_steps_network_and_console_events(
    client: httpx.Client, admin: Session, playwright_trace: bytes
) -> None:
    # Given a bundle with a real Playwright trace.zip and no events.ndjson
    summary = {"scenario_title": "Checkout pays", "failure_signature": "pay-404", "status": "failed"}
    bundle = zip_bundle({"trace.zip": playwright_trace, "summary.json": json.dumps(summary).encode()})
    created = ingest(client, admin.headers, bundle, scenario_slug="checkout-pw", source="pr", commit_sha="a1b2c3d")
    trace_id = created["trace_id"]
    assert created["status"] == "failed" and created["event_count"] > 5 and len(created["short_id"]) == 9

    # Then its steps come back from /events, in order, with the failing assertion last
    steps = client.get(f"/v1/traces/{trace_id}/events", params={"kind": "step"}, headers=admin.headers)
    assert steps.status_code == 200, steps.text
    titles = [e["title"] for e in steps.json()["events"]]
    assert any(t.startswith("Frame.goto http://127.0.0.1:") for t in titles)
    assert "Frame.click #pay" in titles
    assertions = client.get(f"/v1/traces/{trace_id}/events?kind=assertion", headers=admin.headers).json()["events"]
    assert assertions[-1]["ok"] is False and 'unexpected value "Paid 404"' in assertions[-1]["message"]

    # And the click's own events: the request it sent, the 404 and the console lines
    click = next(e for e in steps.json()["events"] if e["title"] == "Frame.click #pay")
    own = client.get(f"/v1/traces/{trace_id}/events", params={"step": click["step_id"]}, headers=admin.headers)
    kinds = {(e["kind"], e.get("status")) for e in own.json()["events"]}
    assert ("network.response", 404) in kinds and ("console", None) in kinds
    pay = [e for e in own.json()["events"] if e["kind"] == "network.response"]
    assert pay[0]["url"].endswith("/api/pay") and pay[0]["ok"] is False

    # And limit/offset page through the same sequence
    everything = client.get(f"/v1/traces/{trace_id}/events?limit=5000", headers=admin.headers).json()["events"]
    page = client.get(f"/v1/traces/{trace_id}/events?limit=3&offset=2", headers=admin.headers).json()["events"]
    assert page == everything[2:5]
    assert [e["seq"] for e in everything] == list(range(len(everything)))

    detail = client.get(f"/v1/traces/{trace_id}", headers=admin.headers).json()
    assert detail["scenario_title"] == "Checkout pays" and detail["failure_signature"] == "pay-404"
    assert detail["source"] == "pr" and detail["code_sha"] == "a1b2c3d" and detail["tier"] == "hot"
    assert detail["signed_urls"]["playwright"] and detail["signed_urls"]["ndjson"]  # ndjson derived from the trace
    assert detail["first_failure"]["kind"] == "assertion"


def test_every_blob_url_serves_bytes_that_hash_to_its_sha(
    client: httpx.Client, admin: Session, playwright_trace: bytes
) -> None:
    files = {
        "summary.json": json.dumps({"status": "passed", "duration_ms": 1234}).encode(),
        "events.ndjson": ndjson(scenario_events()),
        "video.webm": b"\x1aE\xdf\xa3" + b"webm-bytes" * 100,
        "trace.zip": playwright_trace,
        "rrweb.json": b'[{"type":4,"data":{}}]',
        "report.md": b"# run report\n",
        "screens/step-1.png": b"\x89PNG fake",
    }
    created = ingest(client, admin.headers, zip_bundle(files), scenario_slug="checkout-blobs")
    detail = client.get(f"/v1/traces/{created['trace_id']}", headers=admin.headers).json()
    assert detail["blob_count"] == len(files)
    assert detail["total_size_bytes"] == sum(len(v) for v in files.values())
    assert detail["duration_ms"] == 1234 and detail["status"] == "passed"
    by_name = {b["name"]: b for b in detail["blobs"]}
    with httpx.Client(timeout=30) as plain:
        for name, data in files.items():
            sha = by_name[name]["sha256"]
            assert sha == sha256(data)
            redirect = client.get(f"/v1/traces/{created['trace_id']}/blob/{sha}", headers=admin.headers)
            assert redirect.status_code == 302, redirect.text
            location = redirect.headers["location"]
            assert parse_qs(urlparse(location).query)["X-Amz-Expires"] == ["3600"]
            assert sha256(plain.get(location).content) == sha
        for role in ("ndjson", "video", "playwright", "rrweb", "summary", "report"):
            url = detail["signed_urls"][role]
            assert url, role
            assert sha256(plain.get(url).content) in {b["sha256"] for b in detail["blobs"]}, role


def test_blob_route_refuses_malformed_and_unknown_shas(client: httpx.Client, admin: Session) -> None:
    created = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))
    base = f"/v1/traces/{created['trace_id']}/blob"
    for bad in ("abc", "sha256:" + "a" * 64, "A" * 64, "g" * 64):
        assert_core_error(client.get(f"{base}/{bad}", headers=admin.headers), 400, "invalid_argument")
    assert_core_error(client.get(f"{base}/{'a' * 64}", headers=admin.headers), 404)


def test_a_tar_gz_bundle_and_blobs_stored_once(client: httpx.Client, admin: Session) -> None:
    events = scenario_events(fail_at=3)
    files = {"run/summary.json": b'{"scenario_slug": "cart", "status": "failed"}', "run/events.ndjson": ndjson(events)}
    first = ingest(client, admin.headers, tar_bundle(files), filename="b.tar.gz", scenario_slug=None)
    second = ingest(client, admin.headers, tar_bundle(files), filename="b.tar.gz", scenario_slug=None)
    assert first["trace_id"] != second["trace_id"] and first["event_count"] == len(events)
    detail = client.get(f"/v1/traces/{first['trace_id']}", headers=admin.headers).json()
    assert detail["scenario_slug"] == "cart" and detail["status"] == "failed"
    s3 = aws.client("s3")
    bucket = get_settings().resource_name("blobs")
    sha = sha256(files["run/events.ndjson"])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"traces/blobs/{admin.org_id}/{sha[:2]}/{sha}")
    assert listed["KeyCount"] == 1


def test_bad_bundles_are_refused_with_the_reason(client: httpx.Client, admin: Session) -> None:
    # not an archive at all
    response = client.post(
        "/v1/traces/ingest",
        headers=admin.headers,
        files={"bundle": ("b.zip", b"just text")},
        data={"scenario_slug": "x"},
    )
    assert_core_error(response, 400, "invalid_bundle")
    # events.ndjson with a broken second line
    broken = zip_bundle({"events.ndjson": b'{"kind":"step","ts":1}\n{not json\n'})
    body = assert_core_error(
        client.post(
            "/v1/traces/ingest", headers=admin.headers, files={"bundle": ("b.zip", broken)}, data={"scenario_slug": "x"}
        ),
        400,
        "invalid_bundle",
    )
    assert "line 2" in str(body["error"])
    # an event without a kind
    no_kind = zip_bundle({"events.ndjson": b'{"ts":1}\n'})
    assert_core_error(
        client.post(
            "/v1/traces/ingest",
            headers=admin.headers,
            files={"bundle": ("b.zip", no_kind)},
            data={"scenario_slug": "x"},
        ),
        400,
        "invalid_events",
    )
    good = zip_bundle({"events.ndjson": ndjson(scenario_events())})
    # no scenario_slug anywhere
    assert_core_error(client.post("/v1/traces/ingest", headers=admin.headers, files={"bundle": ("b.zip", good)}), 400)
    # a source outside the document's list
    assert_core_error(
        client.post(
            "/v1/traces/ingest",
            headers=admin.headers,
            files={"bundle": ("b.zip", good)},
            data={"scenario_slug": "x", "source": "cron"},
        ),
        400,
    )
    # JSON instead of multipart
    assert_core_error(client.post("/v1/traces/ingest", headers=admin.headers, json={"scenario_slug": "x"}), 415)
    # neither a bundle nor an upload id
    assert_core_error(client.post("/v1/traces/ingest", headers=admin.headers, data={"scenario_slug": "x"}), 400)
    # no credentials
    assert_core_error(
        client.post("/v1/traces/ingest", files={"bundle": ("b.zip", good)}, data={"scenario_slug": "x"}), 401
    )


def test_a_bundle_over_the_body_limit_goes_through_a_presigned_upload(client: httpx.Client, admin: Session) -> None:
    big_video = random.Random(16).randbytes(6 * 1024 * 1024)  # 6 MiB that do not compress: over the 5 MiB limit
    bundle = zip_bundle({"events.ndjson": ndjson(scenario_events()), "video.mp4": big_video})
    assert len(bundle) > get_settings().max_body_bytes
    too_big = client.post(
        "/v1/traces/ingest", headers=admin.headers, files={"bundle": ("b.zip", bundle)}, data={"scenario_slug": "big"}
    )
    assert too_big.status_code == 413
    upload = client.post("/v1/traces/uploads", headers=admin.headers)
    assert upload.status_code == 201, upload.text
    ticket = upload.json()
    with httpx.Client(timeout=60) as plain:
        assert plain.put(ticket["url"], content=bundle).status_code == 200
    created = client.post(
        "/v1/traces/ingest", headers=admin.headers, data={"upload_id": ticket["upload_id"], "scenario_slug": "big"}
    )
    assert created.status_code == 201, created.text
    detail = client.get(f"/v1/traces/{created.json()['trace_id']}", headers=admin.headers).json()
    assert detail["signed_urls"]["video"] and any(b["sha256"] == sha256(big_video) for b in detail["blobs"])
    # the upload is consumed: using it again is refused
    again = client.post(
        "/v1/traces/ingest", headers=admin.headers, data={"upload_id": ticket["upload_id"], "scenario_slug": "big"}
    )
    assert_core_error(again, 400)


def test_another_orgs_trace_is_403(client: httpx.Client, admin: Session, root: Session, tmp_path: Path) -> None:
    created = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))
    other_admin = create_user(client, root, "admin", org_id=create_org(client, root))
    trace_id = created["trace_id"]
    for path in ("", "/events", "/stream", f"/blob/{'a' * 64}"):
        assert_core_error(client.get(f"/v1/traces/{trace_id}{path}", headers=other_admin.headers), 403, "cross_org")
    assert all(i["id"] != trace_id for i in client.get("/v1/traces", headers=other_admin.headers).json()["items"])
    # an unknown id is 404, a malformed one too
    assert_core_error(client.get("/v1/traces/00000000-0000-4000-8000-000000000000", headers=admin.headers), 404)
    assert_core_error(client.get("/v1/traces/not-a-trace", headers=admin.headers), 404)
