"""Shared fixtures. Integration tests talk real HTTP to a local system started once per
test process: the gateway on a free port, in front of the embedded emulator (or whatever
AWS_ENDPOINT_URL names, e.g. LocalStack)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, ROOT_PASSWORD, Session, ensure_setup, login

# Unique resource names per test process: xdist workers, or a shared LocalStack, never collide.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("MOLESIGNAL_RESOURCE_PREFIX", f"mstest{uuid.uuid4().hex[:6]}")
# The suite's systems run the ingest worker in the test process: tests change settings
# (use_env), install fault hooks and drain the queue there. tests/integration/
# test_worker_process.py runs `make dev`'s shape, the worker in its own process, over HTTP.
os.environ.setdefault("MOLESIGNAL_LOCAL_WORKER_PROCESS", "false")
# Tests fire requests back to back in one org, far faster than the default quotas (20
# queries, 50 ingest requests per second) allow once a request takes a few ms; the tests of
# rate limiting set their own org's quotas through the API.
os.environ.setdefault("MOLESIGNAL_DEFAULT_QUERY_QPS", "1000")
os.environ.setdefault("MOLESIGNAL_DEFAULT_INGEST_QPS", "1000")


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.settings import get_settings, reset_settings
    from tests.support.passwords import remember_password_hashes

    reset_settings()
    remember_password_hashes()
    # The same durable emulator `make dev` runs, on a data directory of its own
    # (MOLESIGNAL_DATA_DIR=:memory: runs the suite on moto's in-memory services instead).
    # Without fsync (10-20 % faster here): what survives a killed process is the same, and
    # test_durability runs the real `make dev` command with its fsync'd default.
    in_memory = get_settings().data_dir.strip() == ":memory:"
    local = LocalSystem(
        registry.REGISTRY,
        port=0,
        emulator_port=0,
        run_pollers=False,
        run_scheduler=False,
        data_dir=None if in_memory else tmp_path_factory.mktemp("data"),
        fsync=False,
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def base_url(system: Any) -> str:
    return str(system.url)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


@pytest.fixture
def admin(client: httpx.Client) -> Session:
    ensure_setup(client)
    return login(client, ADMIN_USER, ADMIN_PASSWORD)


@pytest.fixture
def root(client: httpx.Client) -> Session:
    ensure_setup(client)
    return login(client, "root", ROOT_PASSWORD)


@pytest.fixture
def use_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set settings (``MOLESIGNAL_<NAME>``) for one test: ``use_env(query_timeout_s=2)``.

    The gateway and the handlers run in the test process, so they see the values at once.
    """
    from molesignal.settings import reset_settings

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"MOLESIGNAL_{name.upper()}", str(value))
        reset_settings()

    yield set_env
    monkeypatch.undo()
    reset_settings()


# `make test` runs `pytest -n 2 --dist loadfile --no-loadscope-reorder`: files go to the two
# workers in this order, so the longest go first and no long file is left to run alone at the
# end (xdist's own order, most tests first, started the 3-test, 90 s topics restart file last
# and one worker idled ~2 min). Measured per-file seconds are in docs/performance.md.
SLOWEST_FILES_FIRST = (
    "tests/browser/test_console.py",
    "tests/integration/test_hostile_sql.py",
    "tests/integration/test_worker_process.py",
    "tests/integration/test_topics_restart.py",
    "tests/integration/test_live_queries.py",
    "tests/infra/test_stack.py",
    "tests/integration/test_sql_dml.py",
    "tests/integration/test_emulator_contract.py",
    "tests/integration/test_durability.py",
    "tests/integration/test_topics.py",
    "tests/integration/test_events_intake.py",
    "tests/integration/test_query.py",
    "tests/browser/test_console_alerts.py",
    "tests/browser/test_console_traces.py",
    "tests/integration/test_alert_rules.py",
    "tests/integration/test_ingest_faults.py",
    "tests/integration/test_consistency.py",
    "tests/integration/test_compaction.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The known-slow files first (in the order above), then the rest by most tests first."""
    per_file: dict[str, int] = {}
    for item in items:
        name = item.nodeid.split("::", 1)[0]
        per_file[name] = per_file.get(name, 0) + 1

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = item.nodeid.split("::", 1)[0]
        if name in SLOWEST_FILES_FIRST:
            return (SLOWEST_FILES_FIRST.index(name), 0)
        return (len(SLOWEST_FILES_FIRST), -per_file[name])

    items.sort(key=rank)  # stable: a file's own tests keep their order
