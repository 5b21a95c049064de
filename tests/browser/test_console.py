"""The console in a real browser against a real `make dev`: what a user does, found the way a
user finds it (labels, roles, names). Tests run in file order and share one dev system: the
first one performs the first-run setup through the UI."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import axe_violations

ADMIN, PASSWORD, ROOT_PASSWORD = "admin", "AdminPass123!", "RootPass123!"
STREAM = "web"


def api_login(dev_url: str) -> dict[str, str]:
    response = httpx.post(f"{dev_url}/api/v1/auth/login", json={"user": ADMIN, "password": PASSWORD}, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def sign_in(page: Any) -> None:
    page.goto("/")
    page.get_by_label("User").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Query").wait_for()
    page.wait_for_load_state("networkidle")  # the stream list (editor completion) has arrived


def write_sql(page: Any, sql: str) -> None:
    editor = page.get_by_role("textbox", name="SQL query")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(sql)


def assert_accessible(page: Any) -> None:
    violations = axe_violations(page)
    assert not violations, f"{page.url}: {violations}"


def test_first_run_setup_then_sign_in(page: Any) -> None:
    page.goto("/")
    page.get_by_role("heading", name="First-run setup").wait_for()
    assert_accessible(page)
    page.get_by_label("Admin user").fill(ADMIN)
    page.get_by_label("Admin password").fill(PASSWORD)
    page.get_by_label("Root password").fill(ROOT_PASSWORD)
    page.get_by_role("button", name="Set up MoleSignal").click()
    page.get_by_role("status").filter(has_text="Setup complete").wait_for()
    assert_accessible(page)
    # A wrong password is answered in words, not swallowed.
    page.get_by_label("User").fill(ADMIN)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert re.search(r"invalid|unauthori[sz]ed|password", alert.inner_text(), re.I)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Query").wait_for()
    assert page.url.endswith("/query")


def test_signed_in_session_survives_a_reload_and_sign_out_ends_it(page: Any) -> None:
    sign_in(page)
    page.reload()  # the access token is renewed through the httpOnly refresh cookie
    page.get_by_role("heading", name="Query").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.reload()
    page.get_by_role("heading", name="Sign in").wait_for()


def test_query_shows_ingested_rows_their_histogram_and_pages(page: Any, dev_url: str) -> None:
    headers = api_login(dev_url)
    token = httpx.post(f"{dev_url}/api/v1/tokens", json={"name": "shipper", "role": "ingest"}, headers=headers)
    assert token.status_code == 201, token.text
    rows = [{"level": "error" if i % 10 == 0 else "info", "msg": f"hello {i}"} for i in range(120)]
    sent = httpx.post(
        f"{dev_url}/api/v1/ingest/{STREAM}", json=rows, headers={"Authorization": f"Bearer {token.json()['token']}"}
    )
    assert sent.status_code == 202, sent.text
    end = (int(time.time()) + 60) * 1_000_000
    deadline = time.monotonic() + 30
    while True:  # the worker lands the rows within seconds
        answer = httpx.post(
            f"{dev_url}/api/v1/query",
            json={"sql": f"SELECT count(*) AS n FROM {STREAM}", "time_range": {"start": 0, "end": end}},
            headers=headers,
        )
        if answer.status_code == 200 and answer.json()["rows"][0]["n"] == 120:
            break
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)

    sign_in(page)
    write_sql(page, f"SELECT _timestamp, level, msg FROM {STREAM} ORDER BY msg")
    page.keyboard.press("Control+Enter")  # keyboard users run the query without the mouse
    table = page.get_by_role("table")
    table.get_by_text("Rows 1 to 50 of 120").wait_for()
    assert table.get_by_role("cell", name="hello 0", exact=True).count() == 1
    histogram = page.get_by_role("figure", name="Rows over time")
    histogram.wait_for()
    assert "120 rows" in histogram.inner_text()
    assert page.url.count("q=") == 1 and "from=now-1h" in page.url  # the query is in the URL to share
    page.get_by_role("button", name="Next page").click()
    table.get_by_text("Rows 51 to 100 of 120").wait_for()
    assert_accessible(page)

    # The URL carries the query: opening it again shows the same text in the editor.
    page.goto(page.url)
    page.get_by_role("textbox", name="SQL query").get_by_text(f"FROM {STREAM} ORDER BY msg").wait_for()


def test_bad_sql_is_explained_in_words(page: Any) -> None:
    sign_in(page)
    write_sql(page, "SELEC nonsense FROM")
    page.get_by_role("button", name="Run query").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert len(alert.inner_text()) > 10
    assert "500" not in alert.inner_text()


def test_live_tail_shows_an_ingested_line_and_holds_lines_while_paused(page: Any, dev_url: str) -> None:
    """The Live tail page over /v1/ws (docs/live.md): the WHERE keeps error lines only."""
    headers = api_login(dev_url)
    token = httpx.post(f"{dev_url}/api/v1/tokens", json={"name": "tail-shipper", "role": "ingest"}, headers=headers)
    assert token.status_code == 201, token.text
    shipper = {"Authorization": f"Bearer {token.json()['token']}"}
    sign_in(page)
    page.get_by_role("link", name="Live tail").click()
    page.get_by_role("heading", name="Live tail").wait_for()
    page.get_by_label("Stream").fill(STREAM)
    page.get_by_label("Where (optional SQL condition)").fill("level = 'error'")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("status").filter(has_text="Live:").wait_for()

    lines = [{"level": "info", "msg": "tail quiet line"}, {"level": "error", "msg": "tail loud line"}]
    sent = httpx.post(f"{dev_url}/api/v1/ingest/{STREAM}", json=lines, headers=shipper)
    assert sent.status_code == 202, sent.text
    table = page.get_by_role("table", name="Live lines")
    table.get_by_role("cell", name="tail loud line", exact=True).wait_for(timeout=30_000)
    assert table.get_by_role("cell", name="tail quiet line", exact=True).count() == 0  # the WHERE dropped it

    page.get_by_role("button", name="Pause").click()
    sent = httpx.post(
        f"{dev_url}/api/v1/ingest/{STREAM}", json=[{"level": "error", "msg": "tail held line"}], headers=shipper
    )
    assert sent.status_code == 202, sent.text
    page.get_by_role("status").filter(has_text="Paused: 1 new line held").wait_for(timeout=30_000)
    assert table.get_by_role("cell", name="tail held line", exact=True).count() == 0
    page.get_by_role("button", name="Resume").click()
    table.get_by_role("cell", name="tail held line", exact=True).wait_for()
    assert_accessible(page)
    page.get_by_role("button", name="Stop").click()


def test_change_a_streams_retention(page: Any, dev_url: str) -> None:
    sign_in(page)
    page.get_by_role("link", name="Streams").click()
    page.get_by_role("link", name=STREAM, exact=True).click()
    page.get_by_role("heading", name=f"Stream {STREAM}").wait_for()
    retention = page.get_by_label("Retention (days)")
    retention.fill("3")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_role("status").filter(has_text="Settings saved").wait_for()
    assert_accessible(page)
    stream = httpx.get(f"{dev_url}/api/v1/streams/{STREAM}", headers=api_login(dev_url))
    assert stream.json()["settings"]["retention_days"] == 3
    # A value the API refuses is shown, not lost.
    retention.fill("0")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_role("alert").or_(page.locator("input:invalid")).count() >= 1


def test_create_then_revoke_an_api_token(page: Any, dev_url: str) -> None:
    sign_in(page)
    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Name").fill("ci-bot")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Secret of token ci-bot (shown once)", exact=False).last
    secret.wait_for()
    token = secret.inner_text().strip()
    assert token.startswith("ms_")
    me = httpx.get(f"{dev_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    assert_accessible(page)

    page.get_by_role("button", name="Revoke token ci-bot").click()
    dialog = page.get_by_role("dialog", name="Revoke token ci-bot?")
    dialog.get_by_role("button", name="Revoke token").click()
    page.get_by_role("row").filter(has_text="ci-bot").get_by_text("revoked").wait_for()
    refused = httpx.get(f"{dev_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_ingest_page_fills_examples_with_a_fresh_token_that_works(page: Any, dev_url: str) -> None:
    sign_in(page)
    page.get_by_role("link", name="Ingest").click()
    page.get_by_role("button", name="Create ingest token").click()
    page.get_by_role("status").filter(has_text="new ingest token").wait_for()
    example = page.get_by_label("JSON or NDJSON (curl)", exact=True).inner_text()
    assert dev_url in example
    token = re.search(r"Bearer (ms_\S+?)\"", example)
    assert token, example
    guide_headers = {"Authorization": f"Bearer {token[1]}"}
    sent = httpx.post(f"{dev_url}/api/v1/ingest/app", json=[{"msg": "from the guide"}], headers=guide_headers)
    assert sent.status_code == 202, sent.text
    assert_accessible(page)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/streams", "Streams"),
        ("/live", "Live tail"),
        ("/admin/users", "Users"),
        ("/admin/orgs", "Organisations and quotas"),
        ("/admin/audit", "Audit log"),
        ("/nowhere", "Not found"),
    ],
)
def test_every_page_is_accessible(page: Any, path: str, heading: str) -> None:
    sign_in(page)
    page.goto(path)
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    page.wait_for_load_state("networkidle")
    assert_accessible(page)


def test_audit_log_lists_what_the_admin_did(page: Any) -> None:
    sign_in(page)
    page.goto("/admin/audit")
    page.get_by_role("cell", name="token.create").first.wait_for()


def test_api_reference_tries_a_call_as_the_signed_in_user(page: Any) -> None:
    sign_in(page)
    page.goto("/docs")
    page.locator("#operations-tag-auth").click()  # tags start closed (console/src/docs.ts)
    operation = page.locator(".opblock").filter(has_text="/api/v1/auth/me").first
    operation.wait_for()
    operation.locator(".opblock-summary").first.click()
    page.get_by_role("button", name="Execute").first.click()
    live = page.locator(".live-responses-table")
    live.locator(".response-col_status").filter(has_text="200").first.wait_for()
    assert f'"user": "{ADMIN}"' in live.locator(".microlight").first.inner_text()


def test_phone_width_keeps_everything_reachable(browser: Any, dev_url: str, request: pytest.FixtureRequest) -> None:
    from tests.browser.conftest import ARTIFACTS, artifact_name

    phone_size = {"width": 390, "height": 844}
    context = browser.new_context(base_url=dev_url, viewport=phone_size, is_mobile=True, bypass_csp=True)
    phone = context.new_page()
    try:
        sign_in(phone)
        for name in ("Query", "Streams", "Ingest", "Tokens", "Audit log"):
            assert phone.get_by_role("link", name=name, exact=True).is_visible()
        write_sql(phone, f"SELECT level, count(*) AS n FROM {STREAM} GROUP BY level ORDER BY level")
        phone.get_by_role("button", name="Run query").click()
        phone.get_by_role("table").get_by_text("Rows 1 to 2 of 2").wait_for()
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px at phone width"
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{artifact_name(request.node.name)}.png"
        phone.screenshot(path=str(shot), full_page=True, timeout=90_000)
        context.close()


def test_fast_typing_keeps_every_keystroke(page: Any) -> None:
    # Regression: the editor used to be fed its own, older text back on re-render, and fast
    # typing could ping-pong between two versions forever (the page froze).
    sign_in(page)
    editor = page.get_by_role("textbox", name="SQL query")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    typed = f"SELECT level, count(*) AS n FROM {STREAM} WHERE msg LIKE 'hello%' GROUP BY level ORDER BY n DESC"
    for _ in range(3):
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        page.keyboard.type(typed)  # one key event per character, no delay
    page.get_by_role("button", name="Run query").click()
    page.get_by_role("table").get_by_text("Rows 1 to 2 of 2").wait_for()
    assert editor.inner_text().strip() == typed


def test_events_list_filter_verify_and_export_download(page: Any, dev_url: str) -> None:
    headers = api_login(dev_url)
    actions = ["user.login", "user.login", "file.delete"]
    batch = [
        {
            "action": action,
            "occurred_at": f"2026-12-06T10:0{i}:00.123456Z",
            "actor": {"id": f"u{i}", "type": "user", "name": f"User {i}"},
            "targets": [{"id": "doc-1", "type": "document"}],
            "context": {"location": "203.0.113.7", "user_agent": "browser-test"},
            "version": 1,
        }
        for i, action in enumerate(actions)
    ]
    sent = httpx.post(f"{dev_url}/api/v1/events/batch", json={"events": batch}, headers=headers)
    assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 60
    while httpx.get(f"{dev_url}/api/v1/events", headers=headers).json()["total"] < 3:  # the events worker chains them
        assert time.monotonic() < deadline
        time.sleep(0.5)

    sign_in(page)
    page.get_by_role("link", name="Events", exact=True).click()
    table = page.get_by_role("table").first
    table.get_by_text("3 events match").wait_for()
    page.get_by_label("Action").fill("file.delete")
    page.get_by_role("button", name="Show events").click()
    table.get_by_text("1 events match").wait_for()
    assert "action=file.delete" in page.url  # the filter is in the URL to share
    page.get_by_role("button", name=re.compile(r"Details of event \d+ file.delete")).click()
    assert '"203.0.113.7"' in page.get_by_label("Event as JSON").inner_text()

    page.get_by_role("button", name="Verify chain").click()
    page.get_by_role("status").filter(has_text="Chain verified").wait_for()

    page.get_by_label("Format").select_option("csv")
    page.get_by_role("button", name="Start export").click()
    download_button = page.get_by_role("button", name=re.compile("^Download export "))
    download_button.wait_for(timeout=60_000)  # the page polls while the job runs
    with page.expect_download() as started:
        download_button.click()
    saved = started.value.path()
    assert saved is not None
    text = Path(saved).read_text()
    assert "file.delete" in text and "user.login" not in text  # the filtered events, as CSV
    assert_accessible(page)
