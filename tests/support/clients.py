"""Running the real clients that cannot be imported into the test process: other major
versions of a Python client (installed by `make clients` into their own folder under the
venv) and the npm clients in tests/clients/js. Each runs a short script in a subprocess and
prints one JSON line, which these helpers return."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SCRIPTS = ROOT / "tests" / "clients" / "python"
JS_DIR = ROOT / "tests" / "clients" / "js"
CLIENT_TIMEOUT_S = 120


def python_client_path(name: str) -> Path:
    """Where `make clients` installed the locked set ``requirements/clients/<name>.txt``."""
    path = Path(sys.prefix) / "clients" / name
    assert (path / ".installed").exists(), f"{path} is missing: run `make clients`"
    return path


def _json_line(completed: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    assert completed.returncode == 0, f"{what} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{what} printed no result:\n{completed.stdout}\n{completed.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr"] = completed.stderr
    return result


def _run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=CLIENT_TIMEOUT_S, check=False)


def run_python_client(install: str | None, script: str, *args: str) -> dict[str, Any]:
    """Run ``tests/clients/python/<script>`` with ``install`` (a folder name) first on PYTHONPATH,
    or with the venv's own packages when ``install`` is None."""
    env = {**os.environ}
    if install is not None:
        env["PYTHONPATH"] = str(python_client_path(install))
    else:
        env.pop("PYTHONPATH", None)
    completed = _run([sys.executable, str(PYTHON_SCRIPTS / script), *args], env=env)
    return _json_line(completed, f"{script} with {install or 'the venv'}")


def run_node_client(script: str, *args: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (JS_DIR / "node_modules" / ".installed").exists(), "npm clients are missing: run `make clients`"
    completed = _run([node, str(JS_DIR / script), *args], cwd=JS_DIR)
    return _json_line(completed, f"node {script}")


def new_ingest_tenant(base_url: str) -> dict[str, Any]:
    """A fresh org with an ingest API token, made once per test module (logins hash passwords
    with argon2, so one tenant per test would cost seconds each)."""
    import httpx

    from tests.support.api import ROOT_PASSWORD, create_api_token, create_org, create_user, ensure_setup, login

    with httpx.Client(base_url=base_url, timeout=30) as http:
        ensure_setup(http)
        root = login(http, "root", ROOT_PASSWORD)
        org = create_org(http, root)
        admin = create_user(http, root, "admin", org_id=org)
        return {"org": org, "admin": admin, "token": create_api_token(http, admin, role="ingest")}
