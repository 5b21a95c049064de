"""Secrets read from Secrets Manager and cached for a few minutes: the JWT signing key and
the trace family's internal service token."""

from __future__ import annotations

import threading
import time

from molesignal import aws
from molesignal.settings import get_settings

_cache: dict[str, tuple[float, bytes]] = {}
_lock = threading.Lock()


def secret_bytes(logical: str) -> bytes:
    """The value of the secret declared as ``logical`` in ``molesignal.resources``."""
    settings = get_settings()
    secret_id = settings.resource_name(logical)
    now = time.monotonic()
    cached = _cache.get(secret_id)
    if cached and now - cached[0] < settings.secret_cache_s:
        return cached[1]
    with _lock:
        value = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        key = str(value).encode()
        _cache[secret_id] = (now, key)
        return key


def signing_key() -> bytes:
    return secret_bytes("jwt-signing-key")


def forget_signing_key() -> None:
    _cache.clear()
