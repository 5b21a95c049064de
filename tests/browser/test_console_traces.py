"""The console's Traces page in a real browser against its own `make dev`: two runs uploaded
as bundles over HTTP, then found, filtered, opened, pinned and shared the way a user does; and
the /r/<shortId> share viewer (the same trace detail) opened signed out, as a member, expired
and embedded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS, DevSystem, artifact_name
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
    network = page.get_by_role("table", name="Network (3, 1 failed)")
    failing = network.get_by_role("row").filter(has_text="https://shop.test/api/3")
    assert "500" in failing.inner_text() and failing.get_attribute("class") == "failed"
    assert "step 3 done" in page.get_by_role("table", name="Console (3, 1 failed)").inner_text()
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
    href = str(link.get_attribute("href"))
    assert href.startswith(f"{dev_url}/r/")
    shared = httpx.get(f"{dev_url}/v1/shares/{href.rsplit('/', 1)[1]}")  # no credentials: a live public share
    assert shared.status_code == 200 and shared.json()["id"] == traces["checkout"]
    page.get_by_text("Shared with anyone with the link until").wait_for()
    assert_accessible(page)

    page.get_by_role("button", name="Stop sharing").click()
    page.get_by_role("status").filter(has_text="Sharing stopped").wait_for()
    assert httpx.get(f"{dev_url}/v1/shares/{href.rsplit('/', 1)[1]}").status_code == 404  # revoked
    page.get_by_role("button", name="Stop sharing").wait_for(state="detached")  # the detail reloaded


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


def _share(dev_url: str, trace_id: str, visibility: str, expires_days: int | None = 2) -> str:
    shared = httpx.post(
        f"{dev_url}/v1/traces/{trace_id}/share",
        headers=api_login(dev_url),
        json={"visibility": visibility, "expires_days": expires_days},
    )
    assert shared.status_code == 200, shared.text
    return str(shared.json()["short_id"])


@contextmanager
def _stranger(browser: Any, dev_url: str, request: pytest.FixtureRequest, width: int = 1280) -> Iterator[Any]:
    """A browser with no session at all, as whoever a link was sent to; its screenshot is saved."""
    context = browser.new_context(base_url=dev_url, viewport={"width": width, "height": 900}, bypass_csp=True)
    errors: list[str] = []
    try:
        opened = context.new_page()
        opened.on("pageerror", lambda error: errors.append(str(error)))
        yield opened
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"{artifact_name(request.node.name)}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_a_public_share_opens_signed_out_with_the_trace_detail(
    browser: Any, dev_url: str, traces: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """Shared through the API, then opened by someone with no session at all: the same trace
    detail as the Traces page, read through the share."""
    short_id = _share(dev_url, traces["checkout"], "public-read")
    with _stranger(browser, dev_url, request) as stranger:
        stranger.goto(f"/r/{short_id}")
        stranger.get_by_role("heading", name="Trace: Checkout", level=1).wait_for()
        assert "expected 200 at step 3; got 500" in stranger.get_by_role("note", name="First failure").inner_text()
        steps = stranger.get_by_role("list", name="Steps")
        steps.get_by_text("✗ step 3").wait_for()
        assert steps.get_by_role("listitem").count() == 3  # the run stopped at its failing step
        network = stranger.get_by_role("table", name="Network (3, 1 failed)")
        assert "https://shop.test/api/3" in network.get_by_role("row").filter(has_text="500").inner_text()
        console = stranger.get_by_role("table", name="Console (3, 1 failed)")
        assert "step 3 done" in console.inner_text()
        files = stranger.get_by_role("link", name="events.ndjson")
        assert "X-Amz-Expires=300" in str(files.get_attribute("href"))  # a short-lived link
        assert "minutes" in stranger.get_by_text("These links work for").inner_text()
        assert stranger.get_by_role("link", name="Sign in").count() == 1
        assert not stranger.get_by_role("navigation").count()  # no console navigation for a stranger
        assert not stranger.get_by_role("button", name="Pin").count()  # and nothing to change
        assert "Checkout" in stranger.title()
        assert not stranger.context.cookies() and not stranger.evaluate("() => localStorage.length")
        assert_accessible(stranger)


def test_an_org_only_share_is_not_found_signed_out_and_opens_for_a_member(
    browser: Any, dev_url: str, traces: dict[str, str], request: pytest.FixtureRequest
) -> None:
    short_id = _share(dev_url, traces["login"], "org-only")
    with _stranger(browser, dev_url, request) as visitor:
        visitor.goto(f"/r/{short_id}")
        visitor.get_by_role("heading", name="Trace not found or not shared").wait_for()
        assert not visitor.get_by_role("heading", name="Trace: Login").count()
        assert_accessible(visitor)
        # A member signs in from there and comes back to the link
        visitor.get_by_role("main").get_by_role("link", name="sign in").click()
        visitor.get_by_label("User").fill(ADMIN)
        visitor.get_by_label("Password").fill(PASSWORD)
        visitor.get_by_role("button", name="Sign in").click()
        visitor.get_by_role("heading", name="Trace: Login", level=1).wait_for()
        assert visitor.url.endswith(f"/r/{short_id}")
        visitor.get_by_role("list", name="Steps").get_by_text("✓ step 5").wait_for()
        visitor.get_by_role("navigation", name="Main").wait_for()  # signed in: the console around it
        assert visitor.get_by_role("link", name="open it in Traces").get_attribute("href") == (
            f"/traces?trace={traces['login']}"
        )
        visitor.wait_for_load_state("networkidle")
        assert_accessible(visitor)


def test_an_expired_share_says_so(
    browser: Any, dev_system: DevSystem, traces: dict[str, str], request: pytest.FixtureRequest
) -> None:
    short_id = _share(dev_system.url, traces["checkout"], "public-read", expires_days=1)
    dev_system.run_python(  # a day going by: the expiry moved into the past
        "from molesignal.storage.table import Table\n"
        "from molesignal.traces.repository import trace_key\n"
        f"Table().update(*trace_key({traces['checkout']!r}), 'SET share_expires_at_us = :p', values={{':p': 1}})\n"
    )
    with _stranger(browser, dev_system.url, request) as stranger:
        stranger.goto(f"/r/{short_id}")
        stranger.get_by_role("heading", name="This share link has expired").wait_for()
        assert not stranger.get_by_role("heading", name="Trace: Checkout").count()
        assert_accessible(stranger)


def test_the_embed_shows_the_trace_without_navigation_and_may_be_framed(
    browser: Any, dev_url: str, traces: dict[str, str], request: pytest.FixtureRequest
) -> None:
    short_id = _share(dev_url, traces["login"], "public-read", expires_days=None)
    framed = httpx.get(f"{dev_url}/r/{short_id}/embed")
    assert framed.headers["content-security-policy"].endswith("frame-ancestors *")
    assert httpx.get(f"{dev_url}/r/{short_id}").headers["content-security-policy"].endswith("frame-ancestors 'self'")
    with _stranger(browser, dev_url, request, width=720) as stranger:
        stranger.goto(f"/r/{short_id}/embed")
        stranger.get_by_role("heading", name="Trace: Login", level=1).wait_for()
        stranger.get_by_role("list", name="Steps").get_by_text("✓ step 5").wait_for()
        stranger.get_by_role("table", name="Network (5, 0 failed)").wait_for()
        assert not stranger.get_by_role("navigation").count() and not stranger.get_by_role("banner").count()
        assert not stranger.get_by_role("link", name="Sign in").count()
        opener = stranger.get_by_role("link", name="Open this trace in MoleSignal")
        assert opener.get_attribute("href") == f"/r/{short_id}" and opener.get_attribute("target") == "_blank"
        assert_accessible(stranger)
