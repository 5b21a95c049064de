"""The console's Traces page in a real browser against its own `make dev`: two runs uploaded
as bundles over HTTP, then found, filtered, opened, pinned and shared the way a user does."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS, artifact_name
from tests.browser.test_console import ADMIN, PASSWORD, ROOT_PASSWORD, api_login, assert_accessible, sign_in
from tests.support.traces import ndjson, scenario_events, zip_bundle


@pytest.fixture(scope="module")
def traces(dev_url: str) -> dict[str, str]:
    """Set this dev system up and upload a failing checkout run and a passing login run."""
    setup = httpx.post(
        f"{dev_url}/api/v1/auth/setup", json={"user": ADMIN, "password": PASSWORD, "root_password": ROOT_PASSWORD}
    )
    assert setup.status_code in (200, 201), setup.text
    headers = api_login(dev_url)
    ids = {}
    for slug, fail_at, source in (("checkout", 3, "pr"), ("login", None, "schedule")):
        summary = {"scenario_title": slug.title(), **({"failure_signature": "pay-500"} if fail_at else {})}
        bundle = zip_bundle(
            {"events.ndjson": ndjson(scenario_events(fail_at=fail_at)), "summary.json": json.dumps(summary).encode()}
        )
        answer = httpx.post(
            f"{dev_url}/v1/traces/ingest",
            headers=headers,
            files={"bundle": ("bundle.zip", bundle)},
            data={"scenario_slug": slug, "source": source, "commit_sha": "a1b2c3d"},
        )
        assert answer.status_code == 201, answer.text
        ids[slug] = answer.json()["trace_id"]
    return ids


def test_find_open_pin_and_share_a_failing_trace(page: Any, dev_url: str, traces: dict[str, str]) -> None:
    sign_in(page)
    page.get_by_role("link", name="Traces", exact=True).click()
    page.get_by_role("heading", name="Test-run traces").wait_for()
    table = page.get_by_role("table").first
    table.get_by_text("2 traces on page 1").wait_for()
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Show traces").click()
    table.get_by_text("1 traces on page 1").wait_for()
    assert "status=failed" in page.url  # the filter is in the URL to share

    page.get_by_role("button", name="Open trace Checkout (failed)").click()
    page.get_by_role("heading", name="Trace: Checkout").wait_for()
    assert "step s3" in page.get_by_role("note", name="First failure").inner_text()
    steps = page.get_by_role("list", name="Steps")
    steps.get_by_text("✗ step 3").wait_for()
    assert steps.get_by_role("listitem").count() == 3  # the run stops at its failing step
    assert "Assertion failed: expected 200 at step 3; got 500" in steps.inner_text()
    network = page.get_by_role("table").filter(has_text="Network errors")
    assert "500" in network.inner_text() and "https://shop.test/api/3" in network.inner_text()
    assert page.get_by_role("link", name="events.ndjson").get_attribute("href")

    page.get_by_role("button", name="Pin", exact=True).click()
    page.get_by_role("status").filter(has_text="Pinned").wait_for()
    page.get_by_role("button", name="Unpin").wait_for()
    headers = api_login(dev_url)
    assert httpx.get(f"{dev_url}/v1/traces/{traces['checkout']}", headers=headers).json()["pinned"] is True

    page.get_by_label("Visibility").select_option("public-read")
    page.get_by_label("Expires after (days)").fill("3")
    page.get_by_role("button", name="Share", exact=True).click()
    link = page.get_by_role("status").filter(has_text="Share link").get_by_role("link")
    link.wait_for()
    assert "/r/" in str(link.get_attribute("href"))
    viewer = httpx.get(str(link.get_attribute("href")))  # no credentials: a live public-read share
    assert viewer.status_code == 200 and "step 3" in viewer.text
    assert_accessible(page)


def test_compare_two_runs_shows_where_they_first_differ(page: Any, traces: dict[str, str]) -> None:
    """The failing checkout run (A, stops at step 3) against the passing login run (B, 5 steps)."""
    sign_in(page)
    page.get_by_role("link", name="Traces", exact=True).click()
    page.get_by_role("table").first.get_by_text("2 traces on page 1").wait_for()
    page.get_by_role("checkbox", name=re.compile(r"^Compare Checkout")).check()
    page.get_by_text("Pick a second trace to compare with the first.").wait_for()
    page.get_by_role("checkbox", name=re.compile(r"^Compare Login")).check()
    page.get_by_role("heading", name=re.compile(r"^Compare: A Checkout .* B Login")).wait_for()
    page.wait_for_url(re.compile(rf"a={traces['checkout']}.*b={traces['login']}"))  # a link to share

    overview = page.get_by_role("table", name="Overview of both runs")
    status = overview.get_by_role("row").filter(has_text="status")
    assert "(differs)" in status.inner_text() and "failed" in status.inner_text() and "passed" in status.inner_text()
    assert "step 3" in page.get_by_role("note", name="First difference").inner_text()

    page.get_by_label("Dimension").select_option("network")
    rows = page.get_by_role("table", name=re.compile(r"differing network items")).get_by_role("row")
    rows.filter(has_text="GET /api/3").wait_for()
    assert re.search(r"GET /api/3\s+500\s+200", rows.filter(has_text="GET /api/3").inner_text())
    assert re.search(r"GET /api/5\s+absent\s+200", rows.filter(has_text="GET /api/5").inner_text())  # B ran further
    assert "A 500, B 200" in page.get_by_role("note", name="First difference").inner_text()
    assert_accessible(page)

    page.get_by_role("button", name="Close comparison").click()
    assert not page.get_by_role("heading", name=re.compile(r"^Compare:")).count()


def test_a_trace_link_opens_its_details(page: Any, traces: dict[str, str]) -> None:
    sign_in(page)
    page.goto(f"/traces?trace={traces['login']}")
    page.get_by_role("heading", name="Trace: Login").wait_for()
    page.get_by_role("list", name="Steps").get_by_text("✓ step 5").wait_for()
    assert not page.get_by_role("note", name="First failure").count()
    page.wait_for_load_state("networkidle")
    assert_accessible(page)


def test_a_public_share_opens_signed_out_with_the_trace_detail(
    browser: Any, dev_url: str, traces: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """Shared through the API, then opened by someone with no session at all."""
    shared = httpx.post(
        f"{dev_url}/v1/traces/{traces['checkout']}/share",
        headers=api_login(dev_url),
        json={"visibility": "public-read", "expires_days": 2},
    )
    assert shared.status_code == 200, shared.text
    short_id = shared.json()["short_id"]
    context = browser.new_context(base_url=dev_url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        stranger = context.new_page()
        stranger.goto(f"/r/{short_id}")
        stranger.get_by_role("heading", name="Checkout failed", exact=True).wait_for()
        assert "Step 3" in stranger.get_by_role("alert").inner_text()  # the first failure, in words
        stranger.get_by_role("heading", name="Steps").wait_for()
        steps = stranger.get_by_role("table").nth(0)
        failed = steps.get_by_role("row").filter(has_text="✗")
        assert failed.count() >= 1 and "expected 200 at step 3; got 500" in failed.last.inner_text()
        assert not steps.get_by_role("row").filter(has_text="step 4").count()  # the run stopped at step 3
        assert "https://shop.test/api/3" in stranger.get_by_role("table").nth(1).inner_text()
        assert not context.cookies() and not stranger.evaluate("() => localStorage.length")  # truly signed out
        assert_accessible(stranger)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stranger.screenshot(path=str(ARTIFACTS / f"{artifact_name(request.node.name)}.png"), full_page=True)
    finally:
        context.close()
