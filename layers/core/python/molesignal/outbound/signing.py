"""HMAC-SHA256 request signatures with a timestamp, so a receiver can check who sent a body and
that it is recent (a replayed request carries an old timestamp).

``X-MoleSignal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``; the same
``t`` is also sent alone as ``X-MoleSignal-Timestamp``. A receiver recomputes the HMAC over the
raw body with its copy of the secret, compares in constant time, and refuses a ``t`` older
than its tolerance (five minutes is usual).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-MoleSignal-Signature"
TIMESTAMP_HEADER = "X-MoleSignal-Timestamp"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_headers(secret: str, body: bytes, *, now_s: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if now_s is None else now_s
    return {SIGNATURE_HEADER: signature(secret, timestamp, body), TIMESTAMP_HEADER: str(timestamp)}


def verify(
    secret: str, header: str, body: bytes, *, now_s: float | None = None, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """What a receiver does: the signature matches and its timestamp is recent."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now_s is None else now_s) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
