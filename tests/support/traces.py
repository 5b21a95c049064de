"""Helpers for the trace-bundle tests: a local page, a real Playwright recording of it, and
bundles built from files."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHECKOUT_PAGE = b"""<!doctype html><html><head><title>Checkout</title></head><body>
<h1 id="total">Total: 10</h1>
<button id="pay" onclick="console.log('paying');
  fetch('/api/pay').then(r => { document.getElementById('total').textContent = 'Paid ' + r.status; })">Pay</button>
</body></html>"""


@contextmanager
def checkout_site(pay_status: int) -> Iterator[str]:
    """A page on loopback whose Pay button calls /api/pay, which answers ``pay_status``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/api/pay"):
                self.send_response(pay_status)
                self.end_headers()
                self.wfile.write(b"{}")
                return
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(CHECKOUT_PAGE)

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def record_checkout(tmp: Path, *, pay_status: int) -> tuple[bytes, bool]:
    """Drive the checkout page in Debian's Chromium with Playwright tracing on; returns the
    trace.zip bytes and whether the final assertion (``Paid 200``) held. A fresh browser each time."""
    from playwright.sync_api import expect, sync_playwright

    path = tmp / f"trace-{pay_status}.zip"
    passed = True
    with checkout_site(pay_status) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.tracing.start(screenshots=True, snapshots=True)
            page = context.new_page()
            page.goto(url)
            page.click("#pay")
            try:
                expect(page.locator("#total")).to_have_text("Paid 200", timeout=1500)
            except AssertionError:
                passed = False
            context.tracing.stop(path=str(path))
        finally:
            browser.close()
    return path.read_bytes(), passed


def zip_bundle(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_bundle(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def ndjson(events: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest(
    client: httpx.Client,
    headers: dict[str, str],
    bundle: bytes,
    *,
    filename: str = "bundle.zip",
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    fields.setdefault("scenario_slug", "checkout")  # scenario_slug=None sends none
    data = {k: str(v) for k, v in fields.items() if v is not None}
    response = client.post("/v1/traces/ingest", headers=headers, files={"bundle": (filename, bundle)}, data=data)
    assert response.status_code == expect, response.text
    return dict(response.json())


def scenario_events(
    fail_at: int | None = None, *, steps: int = 5, base_ts: int = 1_800_000_000_000
) -> list[dict[str, Any]]:
    """A run of ``steps`` steps, each with a request, a response and a console line; from step
    ``fail_at`` on the response is a 500 and the step's assertion fails."""
    events: list[dict[str, Any]] = []
    seq = 0

    def add(**event: Any) -> None:
        nonlocal seq
        events.append({"seq": seq, "ts": base_ts + seq * 10, **event})
        seq += 1

    for index in range(1, steps + 1):
        step_id = f"s{index}"
        failing = fail_at is not None and index == fail_at
        add(kind="step", step_id=step_id, title=f"step {index}", ok=not failing)
        add(kind="network.request", step_id=step_id, method="GET", url=f"https://shop.test/api/{index}")
        add(
            kind="network.response",
            step_id=step_id,
            method="GET",
            url=f"https://shop.test/api/{index}",
            status=500 if failing else 200,
            ok=not failing,
        )
        add(kind="console", step_id=step_id, level="error" if failing else "log", message=f"step {index} done")
        add(kind="dom", step_id=step_id, html=f"<main>page {index}{' error' if failing else ''}</main>")
        add(kind="clone", step_id=step_id, state={"cart_total": 10 * index + (990 if failing else 0)})
        add(
            kind="assertion",
            step_id=step_id,
            ok=not failing,
            message=f"expected 200 at step {index}" + ("; got 500" if failing else ""),
        )
        if failing:
            break
    return events
