"""The console's Alerts page in a real browser against its own `make dev`: destinations with a
test send answered by a real receiver, rules made in the form and firing on rows ingested over
HTTP, the history paged, silences made and expired, errors from the API shown in words."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS, artifact_name
from tests.browser.test_console import ADMIN, PASSWORD, ROOT_PASSWORD, api_login, assert_accessible, sign_in

STREAM = "shop"
SERVICES = [f"svc{n:02d}" for n in range(14)]  # 14 alerts firing: 28 history entries, more than a page


class Receiver:
    """A webhook receiver in the test: /ok answers 200 with a word of thanks, /down answers 503."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.received.append((self.path, json.loads(body)))
                status, text = (200, b"thanks from the receiver") if self.path == "/ok" else (503, b"receiver down")
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                del args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def statuses(self, path: str) -> list[str]:
        return [body.get("status", "") for got, body in self.received if got == path]


@pytest.fixture(scope="module")
def receiver(dev_url: str) -> Iterator[Receiver]:
    setup = httpx.post(
        f"{dev_url}/api/v1/auth/setup",
        json={"user": ADMIN, "password": PASSWORD, "root_password": ROOT_PASSWORD},
        timeout=30,
    )
    assert setup.status_code in (200, 201), setup.text
    # The stream exists with its columns before a rule is written against it.
    rows = [{"level": "info", "service": s, "msg": "warm-up"} for s in SERVICES]
    assert (
        httpx.post(f"{dev_url}/api/v1/ingest/{STREAM}", json=rows, headers=api_login(dev_url), timeout=30).status_code
        == 202
    )
    listening = Receiver()
    yield listening
    listening.server.shutdown()


def shot(page: Any, request: pytest.FixtureRequest, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{artifact_name(request.node.name)}-{step}.png"), full_page=True)


def wait_until(check: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_destinations_test_send_shows_the_receivers_answer(
    page: Any, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    sign_in(page)
    page.get_by_role("link", name="Alerts", exact=True).click()
    page.get_by_role("heading", name="Alerts", exact=True).wait_for()
    page.get_by_role("navigation", name="Alerts sections").get_by_role("link", name="Destinations").click()
    assert page.url.endswith("/alerts/destinations")

    # Bad input first: the instance metadata address is refused, and the page says why.
    page.get_by_label("Destination name").fill("metadata")
    page.get_by_label("URL").fill("http://169.254.169.254/latest")
    page.get_by_role("button", name="Add destination").click()
    refused = page.get_by_role("alert")
    refused.wait_for()
    assert re.search(r"link-local|metadata|not allowed|refused", refused.inner_text(), re.I), refused.inner_text()

    for name, path, secret in (("ops hook", "/ok", "a-signing-secret-of-24ch"), ("broken hook", "/down", "")):
        page.get_by_label("Destination name").fill(name)
        page.get_by_label("Type").select_option("webhook")
        page.get_by_label("URL").fill(receiver.base + path)
        page.get_by_label("Signing secret (optional, 16+ characters)").fill(secret)
        page.get_by_role("button", name="Add destination").click()
        page.get_by_role("status").filter(has_text=f"Destination {name} added.").wait_for()
    table = page.get_by_role("table")
    assert table.get_by_role("row", name=re.compile("ops hook")).get_by_role("cell", name="yes").count() == 1

    page.get_by_role("button", name="Send a test to ops hook").click()
    answer = page.get_by_role("status", name="Test result")
    answer.filter(has_text="HTTP 200").wait_for()
    assert "delivered" in answer.inner_text() and "thanks from the receiver" in answer.inner_text()
    assert receiver.statuses("/ok") == ["test"]

    page.get_by_role("button", name="Send a test to broken hook").click()
    answer.filter(has_text="HTTP 503").wait_for()
    assert "not delivered" in answer.inner_text() and "receiver down" in answer.inner_text()
    assert_accessible(page)
    shot(page, request, "destinations")


def test_rules_fire_then_history_pages_silences_mute_and_rules_go(
    page: Any, dev_url: str, receiver: Receiver, request: pytest.FixtureRequest
) -> None:
    sign_in(page)
    page.goto("/alerts/rules")
    page.get_by_role("heading", name="New rule").wait_for()
    page.wait_for_load_state("networkidle")  # the destinations to choose from have arrived

    # A predicate the query guard refuses is answered in words and stores nothing.
    page.get_by_label("Rule name").fill("sneaky")
    page.get_by_label("Stream").fill(STREAM)
    page.get_by_label("Condition (SQL on each row)").fill("level = 'error' UNION SELECT * FROM other")
    page.get_by_role("button", name="Create rule").click()
    page.get_by_role("alert").wait_for()
    assert re.search(r"permission|predicate|condition", page.get_by_role("alert").inner_text(), re.I)
    assert page.get_by_role("table").get_by_text("0 rules").count() == 1

    page.get_by_label("Rule name").fill("shop errors")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label("Group by (columns, comma-separated)").fill("service")
    page.get_by_label("Condition (SQL on each row)").fill("level = 'error'")
    page.get_by_label("ops hook (webhook)").check()
    page.get_by_role("button", name="Create rule").click()
    page.get_by_role("status").filter(has_text="Rule shop errors created.").wait_for()
    row = page.get_by_role("row", name=re.compile("shop errors"))
    assert "grouped by service" in row.inner_text() and "ops hook" in row.inner_text()

    # A scheduled rule through the same form: its own fields, minutes sent as seconds.
    page.get_by_label("Rule name").fill("too few orders")
    page.get_by_label("Kind").select_option("scheduled")
    page.get_by_label("Query (SQL)").fill(f"SELECT count(*) AS value FROM {STREAM}")
    page.get_by_label("Every (minutes)").fill("10")
    page.get_by_label("Fires when the value is").select_option("<")
    page.get_by_label("Threshold").fill("1")
    page.get_by_role("button", name="Create rule").click()
    page.get_by_role("status").filter(has_text="Rule too few orders created.").wait_for()
    rules = httpx.get(f"{dev_url}/api/v1/alerts/rules", headers=api_login(dev_url), timeout=30).json()["items"]
    scheduled = next(r for r in rules if r["name"] == "too few orders")
    assert scheduled["interval_s"] == 600 and scheduled["condition"] == {"op": "<", "threshold": 1.0}
    assert_accessible(page)

    errors = [{"level": "error", "service": s, "msg": "payment failed"} for s in SERVICES]
    assert (
        httpx.post(f"{dev_url}/api/v1/ingest/{STREAM}", json=errors, headers=api_login(dev_url), timeout=30).status_code
        == 202
    )
    wait_until(lambda: receiver.statuses("/ok").count("firing") == len(SERVICES), "a firing notification per service")

    page.get_by_role("navigation", name="Alerts sections").get_by_role("link", name="History").click()
    history = page.get_by_role("table")
    history.get_by_text("25 entries on page 1, newest first").wait_for()
    assert history.get_by_role("row").filter(has_text="→ firing").count() >= 1
    older = page.get_by_role("button", name="Older entries")
    pages = 1
    while older.is_enabled():  # to the oldest page: the two test sends come first
        older.click()
        pages += 1
        history.get_by_text(re.compile(rf"\d+ entries on page {pages},")).wait_for()
    assert pages >= 2  # 14 firing alerts and their deliveries fill more than one page
    oldest = history.inner_text()
    assert "Test notification for ops hook" in oldest and "Test notification for broken hook" in oldest
    assert "delivered — HTTP 200: thanks from the receiver" in oldest and "failed — HTTP 503: receiver down" in oldest
    page.get_by_role("button", name="Newer entries").click()
    history.get_by_text(f"entries on page {pages - 1},").wait_for()
    assert_accessible(page)
    shot(page, request, "history")

    page.get_by_role("navigation", name="Alerts sections").get_by_role("link", name="Silences").click()
    page.get_by_label("Label").fill("service")
    page.get_by_label("Value").fill("svc00")
    page.get_by_label("Comment").fill("deploying svc00")
    page.get_by_role("button", name="Create silence").click()
    page.get_by_role("status").filter(has_text='Silence on service = "svc00" created.').wait_for()
    silence = page.get_by_role("row", name=re.compile("svc00"))
    assert "active" in silence.inner_text()
    assert_accessible(page)
    page.get_by_role("button", name='Expire silence service = "svc00"').click()
    page.get_by_role("dialog", name="Expire this silence?").get_by_role("button", name="Expire silence").click()
    page.get_by_role("status").filter(has_text="Silence expired.").wait_for()
    page.get_by_role("row", name=re.compile("svc00")).filter(has_text="expired").wait_for()

    page.get_by_role("navigation", name="Alerts sections").get_by_role("link", name="Rules").click()
    page.get_by_role("button", name="Disable rule shop errors").click()
    page.get_by_role("status").filter(has_text="Rule shop errors disabled.").wait_for()
    page.get_by_role("button", name="Enable rule shop errors").wait_for()
    page.get_by_role("button", name="Delete rule too few orders").click()
    dialog = page.get_by_role("dialog", name="Delete rule too few orders?")
    dialog.get_by_role("button", name="Cancel").click()  # cancelling deletes nothing
    assert page.get_by_role("row", name=re.compile("too few orders")).count() == 1
    page.get_by_role("button", name="Delete rule too few orders").click()
    dialog.get_by_role("button", name="Delete rule").click()
    page.get_by_role("status").filter(has_text="Rule too few orders deleted.").wait_for()
    page.get_by_role("table").get_by_text("1 rules").wait_for()
    rules = httpx.get(f"{dev_url}/api/v1/alerts/rules", headers=api_login(dev_url), timeout=30).json()["items"]
    assert [(r["name"], r["enabled"]) for r in rules] == [("shop errors", False)]
