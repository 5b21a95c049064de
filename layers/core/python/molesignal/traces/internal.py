"""The internal service token (``x-internal-token``) that lets internal services stream events
into running traces. Its value lives in Secrets Manager (``trace-internal-token`` in
``molesignal.resources``), read through the same few-minutes cache as the JWT key."""

from __future__ import annotations

import hmac

from molesignal.auth.signing_key import secret_bytes
from molesignal.errors import Unauthorized

HEADER = "x-internal-token"


def check_internal_token(presented: str | None) -> None:
    if not presented:
        raise Unauthorized(f"unauthorized: send {HEADER}", code="missing_internal_token")
    expected = secret_bytes("trace-internal-token")
    if not hmac.compare_digest(expected, presented.encode()):
        raise Unauthorized(f"unauthorized: {HEADER} is not valid", code="invalid_internal_token")
