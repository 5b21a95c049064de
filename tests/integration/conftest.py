from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.dev import Dev


@contextmanager
def fresh_deployment() -> Iterator[str]:
    """A pristine deployment: new table, buckets, queues and signing key under a new prefix.

    The gateway's functions run in this process, so they see the switch at once; the
    original prefix comes back afterwards.
    """
    from molesignal.provision import provision
    from molesignal.settings import reset_settings

    previous = os.environ.get("MOLESIGNAL_RESOURCE_PREFIX")
    prefix = f"msfresh{uuid.uuid4().hex[:6]}"
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = prefix
    reset_settings()
    try:
        provision()  # inside the try: a provision that fails (a timeout under load) still restores the prefix
        yield prefix
    finally:
        if previous is None:
            os.environ.pop("MOLESIGNAL_RESOURCE_PREFIX", None)
        else:
            os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = previous
        reset_settings()


@pytest.fixture
def fresh_install(system: Any) -> Iterator[str]:
    with fresh_deployment() as prefix:
        yield prefix


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    """``python -m molesignal dev`` on a data directory of this test's own (not started yet)."""
    running = Dev(tmp_path / "data", tmp_path / "dev.log")
    yield running
    running.stop()
