"""Pins, shares and what the /r viewer reads, the forensic report and the diff of two runs, over real HTTP."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from molesignal import aws
from molesignal.settings import get_settings
from molesignal.storage.table import Table
from molesignal.traces.blobs import blob_key
from molesignal.traces.repository import trace_key
from tests.support.api import Session, assert_core_error, create_api_token, create_org, create_user
from tests.support.traces import ingest, ndjson, record_checkout, scenario_events, zip_bundle


@pytest.fixture(scope="module")
def two_real_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """The same scenario recorded twice in Chromium: once the payment answers 200, once 404."""
    tmp: Path = tmp_path_factory.mktemp("runs")
    good, good_passed = record_checkout(tmp, pay_status=200)
    bad, bad_passed = record_checkout(tmp, pay_status=404)
    assert good_passed and not bad_passed
    return good, bad


def _tags(key: str) -> dict[str, str]:
    tagging = aws.client("s3").get_object_tagging(Bucket=get_settings().resource_name("blobs"), Key=key)
    return {t["Key"]: t["Value"] for t in tagging["TagSet"]}


def test_pin_and_unpin_tag_the_traces_objects(client: httpx.Client, admin: Session, root: Session) -> None:
    video = b"\x1aE\xdf\xa3 pinned video"
    created = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events()), "v.webm": video}))
    trace_id = created["trace_id"]
    key = blob_key(admin.org_id, __import__("hashlib").sha256(video).hexdigest())
    assert _tags(key) == {"molesignal-tier": "auto"}
    assert client.post(f"/v1/traces/{trace_id}/pin", headers=admin.headers).json() == {"pinned": True}
    assert _tags(key) == {"molesignal-tier": "pinned"}
    assert client.get(f"/v1/traces/{trace_id}", headers=admin.headers).json()["pinned"] is True
    assert client.get("/v1/traces?limit=200", headers=admin.headers).json()["items"][0]["pinned"] is True
    assert client.post(f"/v1/traces/{trace_id}/unpin", headers=admin.headers).json() == {"pinned": False}
    assert _tags(key) == {"molesignal-tier": "auto"}
    viewer = create_user(client, root, "viewer", org_id=admin.org_id)
    assert_core_error(client.post(f"/v1/traces/{trace_id}/pin", headers=viewer.headers), 403)


def _presigned_for(url: str) -> int:
    """The lifetime a presigned URL was signed for (moto checks neither signature nor expiry)."""
    query = parse_qs(urlsplit(url).query)
    return int(query["X-Amz-Expires"][0])


def test_public_and_org_only_shares_and_an_expired_one(client: httpx.Client, admin: Session, root: Session) -> None:
    events = scenario_events(fail_at=2)
    video = b"\x1aE\xdf\xa3 video"
    bundle = zip_bundle({"events.ndjson": ndjson(events), "video.webm": video})
    created = ingest(client, admin.headers, bundle, scenario_slug="share-me")
    trace_id, short_id = created["trace_id"], created["short_id"]
    other = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))
    video_sha = hashlib.sha256(video).hexdigest()
    outsider = create_user(client, root, "admin", org_id=create_org(client, root))
    share = f"/v1/shares/{short_id}"
    with httpx.Client(base_url=str(client.base_url), timeout=30) as anonymous:
        # Not shared: a stranger learns nothing (the same 404 as an unknown id); a member may open it
        unknown = assert_core_error(anonymous.get("/v1/shares/nosuchid1"), 404, "share_not_found")
        assert assert_core_error(anonymous.get(share), 404, "share_not_found") == unknown
        assert_core_error(anonymous.get(f"{share}/events"), 404, "share_not_found")
        member = client.get(share, headers=admin.headers)
        assert member.status_code == 200 and member.json()["member"] is True and member.json()["share"] is None
        assert member.json()["s3_prefix"]

        shared = client.post(f"/v1/traces/{trace_id}/share", headers=admin.headers, json={"visibility": "public-read"})
        assert shared.status_code == 200, shared.text
        assert shared.json()["short_id"] == short_id
        # the link is the address the caller used (http on the local gateway), and it opens as is
        assert shared.json()["url"] == f"{str(client.base_url).rstrip('/')}/r/{short_id}"

        # Public: anyone reads the detail, the events and the files, with short-lived links
        detail = anonymous.get(share)
        assert detail.status_code == 200, detail.text
        body = detail.json()
        assert body["id"] == trace_id and body["status"] == "failed" and body["member"] is False
        assert body["share"] == {"visibility": "public-read", "expires_at": body["share"]["expires_at"]}
        assert body["s3_prefix"] is None  # where the org keeps it is no outsider's business
        assert body["first_failure"]["message"] == "expected 200 at step 2; got 500"
        ttl = get_settings().trace_share_url_ttl_s
        assert body["signed_urls_expire_in"] == ttl < get_settings().trace_signed_url_ttl_s
        assert _presigned_for(body["signed_urls"]["video"]) == ttl
        assert httpx.get(body["signed_urls"]["video"]).content == video
        steps = anonymous.get(f"{share}/events", params={"kind": "step"}).json()["events"]
        assert [e["title"] for e in steps] == ["step 1", "step 2"]
        network = anonymous.get(f"{share}/events", params={"kind": "network.response", "limit": 1, "offset": 1})
        assert [(e["url"], e["status"]) for e in network.json()["events"]] == [("https://shop.test/api/2", 500)]
        blob = anonymous.get(f"{share}/blob/{video_sha}", follow_redirects=False)
        assert blob.status_code == 302 and _presigned_for(blob.headers["location"]) == ttl
        assert httpx.get(blob.headers["location"]).content == video

        # Share-scoped: another trace's blob, even of the same org, is not reachable through it
        other_sha = client.get(f"/v1/traces/{other['trace_id']}", headers=admin.headers).json()["blobs"][0]["sha256"]
        assert_core_error(anonymous.get(f"{share}/blob/{other_sha}", follow_redirects=False), 404)
        # bad input: a sha256 that is not one (400), paging out of range (400)
        assert_core_error(anonymous.get(f"{share}/blob/sha256:{video_sha}"), 400, "invalid_argument")
        assert_core_error(anonymous.get(f"{share}/events", params={"limit": 0}), 400)
        assert_core_error(anonymous.get(f"{share}/events", params={"offset": -1}), 400)

        # Org-only: signed out or another org, the same 404 as no share at all; a member 200
        client.post(f"/v1/traces/{trace_id}/share", headers=admin.headers, json={"visibility": "org-only"})
        assert assert_core_error(anonymous.get(share), 404, "share_not_found") == unknown
        assert assert_core_error(anonymous.get(share, headers=outsider.headers), 404, "share_not_found") == unknown
        assert_core_error(anonymous.get(f"{share}/blob/{video_sha}", headers=outsider.headers), 404)
        assert client.get(share, headers=admin.headers).json()["share"]["visibility"] == "org-only"
        viewer = create_user(client, root, "viewer", org_id=admin.org_id)
        assert client.get(f"{share}/events", headers=viewer.headers).status_code == 200
        sender = create_api_token(client, admin, role="ingest")  # of the org, but it may not read traces
        assert_core_error(anonymous.get(share, headers={"Authorization": f"Bearer {sender}"}), 404)
        assert client.get(share, headers=root.headers).json()["member"] is True

        # Public again, then its expiry passes (moved into the past, as a week going by would)
        client.post(
            f"/v1/traces/{trace_id}/share", headers=admin.headers, json={"visibility": "public-read", "expires_days": 1}
        )
        assert anonymous.get(share).status_code == 200
        Table().update(*trace_key(trace_id), "SET share_expires_at_us = :past", values={":past": 1})
        assert_core_error(anonymous.get(share), 410, "share_expired")
        assert_core_error(anonymous.get(f"{share}/events"), 410, "share_expired")
        assert_core_error(anonymous.get(f"{share}/blob/{video_sha}"), 410, "share_expired")
        assert client.get(share, headers=admin.headers).status_code == 200  # members still can
        # an expired org-only share still tells outsiders nothing
        Table().update(*trace_key(trace_id), "SET share_visibility = :v", values={":v": "org-only"})
        assert_core_error(anonymous.get(share), 404, "share_not_found")

        # malformed short ids name no share: the same 404, never a 500
        for bad in ("x" * 33, "a-b", "%E2%9C%93", "a%00b", "..%2F..%2Fetc", f"{short_id}%0A"):
            assert_core_error(anonymous.get(f"/v1/shares/{bad}"), 404)

        # Revoked: public again, then unshared; the link tells strangers nothing, members still open it
        client.post(f"/v1/traces/{trace_id}/share", headers=admin.headers, json={"visibility": "public-read"})
        assert anonymous.get(share).status_code == 200
        assert_core_error(client.delete(f"/v1/traces/{trace_id}/share", headers=viewer.headers), 403)  # viewers may not
        revoked = client.delete(f"/v1/traces/{trace_id}/share", headers=admin.headers)
        assert revoked.status_code == 200 and revoked.json() == {"short_id": short_id, "shared": False}
        assert assert_core_error(anonymous.get(share), 404, "share_not_found") == unknown
        assert_core_error(anonymous.get(f"{share}/blob/{video_sha}"), 404, "share_not_found")
        assert client.get(share, headers=admin.headers).json()["share"] is None
        assert client.get(f"/v1/traces/{trace_id}", headers=admin.headers).json()["share"] is None
        assert client.delete(f"/v1/traces/{trace_id}/share", headers=admin.headers).status_code == 200  # idempotent
        assert_core_error(client.delete(f"/v1/traces/{trace_id}/share", headers=outsider.headers), 403, "cross_org")
    # bad share bodies
    for body in (
        {"visibility": "everyone"},
        {"expires_days": 0},
        {"expires_days": 366},
        {"visibility": "org-only", "x": 1},
    ):
        assert_core_error(client.post(f"/v1/traces/{trace_id}/share", headers=admin.headers, json=body), 400)


def test_the_share_link_opens_the_consoles_viewer_and_only_its_embed_may_be_framed(
    client: httpx.Client, admin: Session
) -> None:
    """/r/<shortId> is the console's page (its shell, whatever the client accepts): the
    viewer reads /v1/shares. The API no longer answers /r itself."""
    short_id = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["short_id"]
    with httpx.Client(base_url=str(client.base_url), timeout=30) as anonymous:
        for accept in ("text/html", "*/*", "application/json"):
            page = anonymous.get(f"/r/{short_id}", headers={"Accept": accept})
            assert page.status_code in (200, 503), page.text  # 503: the console is not built here
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["content-security-policy"].endswith("frame-ancestors 'self'")
        embed = anonymous.get(f"/r/{short_id}/embed")
        assert embed.headers["content-type"].startswith("text/html")
        assert embed.headers["content-security-policy"].endswith("frame-ancestors *")
        assert embed.content == page.content  # one app: the route picks the viewer without chrome


def test_report_and_diff_of_two_real_runs_that_diverge_at_one_step(
    client: httpx.Client, admin: Session, two_real_runs: tuple[bytes, bytes]
) -> None:
    good, bad = two_real_runs
    a = ingest(client, admin.headers, zip_bundle({"trace.zip": good}), scenario_slug="checkout-real")["trace_id"]
    signature = json.dumps({"failure_signature": "pay-404"}).encode()
    b = ingest(
        client, admin.headers, zip_bundle({"trace.zip": bad, "summary.json": signature}), scenario_slug="checkout-real"
    )["trace_id"]

    report = client.get(f"/v1/traces/{b}/report.md", headers=admin.headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/markdown")
    assert f'filename="trace-{b}.md"' in report.headers["content-disposition"]
    text = report.text
    assert "**Status:** failed" in text and "`pay-404`" in text
    assert "First failing assertion" in text and 'unexpected value \\"Paid 404\\"' not in text
    assert 'unexpected value "Paid 404"' in text
    assert "/api/pay` → 404" in text and "around the failure" in text
    assert "Failed to load resource" in text  # the console error around it
    assert "/r/" in text and f"/v1/traces/{b}/blob/" in text
    passing = client.get(f"/v1/traces/{a}/report.md", headers=admin.headers).text
    assert "No step or assertion failed." in passing

    def diff(dimension: str) -> dict[str, object]:
        response = client.get("/v1/traces/diff", params={"a": a, "b": b, "dimension": dimension}, headers=admin.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    steps = diff("steps")
    first = steps["first_divergence"]
    assert isinstance(first, dict) and first["kind"] == "changed"
    assert first["a"]["title"] == first["b"]["title"] == 'Expect "to_have_text"'
    assert first["a"]["value"]["ok"] is True and first["b"]["value"]["ok"] is False
    assert steps["added"] == [] and steps["removed"] == [] and len(steps["changed"]) == 1
    network = diff("network")
    changed = network["changed"]
    assert isinstance(changed, list) and [c["a"]["value"]["status"] for c in changed] == [200]
    assert [c["b"]["value"]["status"] for c in changed] == [404]
    console = diff("console")
    assert any("Failed to load resource" in str(x["message"]) for x in console["added"])  # type: ignore[union-attr]
    overview = diff("overview")
    assert {"field": "status", "a": "passed", "b": "failed"} in overview["changed"]  # type: ignore[operator]


def test_diff_of_dom_and_clone_state_and_bad_diff_requests(client: httpx.Client, admin: Session) -> None:
    a = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["trace_id"]
    b = ingest(client, admin.headers, zip_bundle({"events.ndjson": ndjson(scenario_events(fail_at=3))}))["trace_id"]
    for dimension in ("dom", "clone"):
        body = client.get(f"/v1/traces/diff?a={a}&b={b}&dimension={dimension}", headers=admin.headers).json()
        assert body["first_divergence"]["kind"] == "changed" and body["first_divergence"]["a"]["step"] == 3
        assert len(body["removed"]) == 2  # steps 4 and 5 never ran in b
    steps = client.get(f"/v1/traces/diff?a={a}&b={b}&dimension=steps", headers=admin.headers).json()
    assert steps["first_divergence"]["a"]["step"] == 3 and steps["first_divergence"]["a"]["title"] == "step 3"
    assert_core_error(client.get(f"/v1/traces/diff?a={a}&b={b}&dimension=pixels", headers=admin.headers), 400)
    assert_core_error(client.get(f"/v1/traces/diff?a={a}", headers=admin.headers), 400)
    assert_core_error(
        client.get(f"/v1/traces/diff?a={a}&b=00000000-0000-4000-8000-000000000000", headers=admin.headers), 404
    )
