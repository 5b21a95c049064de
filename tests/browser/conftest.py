"""Browser tests: Playwright driving Debian's chromium against a real ``python -m molesignal dev``.

The dev system runs in a subprocess with its own ports, data directory and resource prefix, so
the first-run setup is really first. Every test saves a screenshot under test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
AXE = REPO / "console" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's own probe runs it: no sandbox as root, and no calls out of this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class DevSystem:
    url: str
    env: dict[str, str]

    def run_python(self, code: str) -> None:
        """Run Python against this system's own emulator and resources (what an operator's
        script would do), e.g. to move a share's expiry into the past."""
        env = {
            **self.env,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.env['MOLESIGNAL_EMULATOR_PORT']}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }
        done = subprocess.run(
            [sys.executable, "-c", code], check=False, cwd=REPO, env=env, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]


@pytest.fixture(scope="module")
def dev_url(dev_system: DevSystem) -> str:
    return dev_system.url


@pytest.fixture(scope="module")
def dev_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevSystem]:
    if not (REPO / "console" / "dist" / "index.html").is_file():
        pytest.fail("the console is not built: make console (make test builds it)")
    port, emulator_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "MOLESIGNAL_PORT": str(port),
        "MOLESIGNAL_EMULATOR_PORT": str(emulator_port),
        "MOLESIGNAL_DATA_DIR": str(tmp_path_factory.mktemp("devdata")),
        "MOLESIGNAL_RESOURCE_PREFIX": f"msbrowser{uuid.uuid4().hex[:6]}",
    }
    env.pop("AWS_ENDPOINT_URL", None)  # its own embedded emulator, like a fresh `make dev`
    log = tmp_path_factory.mktemp("devlog") / "dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "molesignal", "dev"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v1/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make dev did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield DevSystem(url, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, dev_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    # bypass_csp only lets the test inject axe-core; the pages keep their CSP for users.
    context = browser.new_context(base_url=dev_url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{artifact_name(request.node.name)}.png"), full_page=True, timeout=90_000)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def artifact_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it stands."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
