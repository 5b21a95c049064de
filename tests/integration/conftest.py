from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest


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
    provision()
    try:
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
def use_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set MOLESIGNAL_* variables for one test; the handlers and workers run in this process
    and see them."""
    from molesignal.settings import reset_settings

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"MOLESIGNAL_{name.upper()}", str(value))
        reset_settings()

    yield set_env
    monkeypatch.undo()
    reset_settings()
