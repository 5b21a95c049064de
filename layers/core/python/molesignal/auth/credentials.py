"""The credential an ``Authorization`` header carries, in the schemes clients send.

* ``Bearer <jwt | ms_… | mtk_…>`` — every route.
* ``ApiKey <ms_…>`` — Elasticsearch clients configured with an API key. The Elastic form,
  base64 of ``id:key`` (what Beats and ``api_key=(id, key)`` send), is read too: the key
  part is the token and the id is not checked.
* ``Basic base64(user:password)`` — only where the caller says Basic is allowed (the ingest
  protocols: rsyslog and python-logging-loki speak nothing else). The password must be an
  API token; the user name is not checked, because the token alone names the org and its
  holder (docs/adr/0010-basic-auth-on-ingest.md). A user's login password is never accepted
  here: that would bypass login throttling and cost an argon2 hash per request.
"""

from __future__ import annotations

import base64
import binascii

from molesignal.auth.api_tokens import looks_like_api_token
from molesignal.errors import Unauthorized

_BEARER_ONLY = "unauthorized: send 'Authorization: Bearer <token>' (Basic and other schemes are refused)"
_BEARER_OR_BASIC = "unauthorized: send 'Authorization: Bearer <token>', or HTTP Basic with an API token as the password"


def _decoded_pair(value: str) -> tuple[str, str] | None:
    """``user:password`` from base64, or None when the value is not that."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = text.partition(":")
    return (user, password) if colon else None


def credential_from_header(value: str | None, *, basic_allowed: bool) -> str:
    """The bearer credential (a JWT or an API token) that ``value`` carries.

    Raises :class:`Unauthorized` (``missing_token``, ``invalid_scheme`` or ``invalid_token``).
    """
    value = (value or "").strip()
    if not value:
        raise Unauthorized("unauthorized: missing bearer token", code="missing_token")
    scheme, _, rest = value.partition(" ")
    scheme, rest = scheme.lower(), rest.strip()
    if scheme == "bearer" and rest:
        return rest
    if scheme == "apikey" and rest:
        if looks_like_api_token(rest):
            return rest
        pair = _decoded_pair(rest)
        if pair and looks_like_api_token(pair[1]):
            return pair[1]
        raise Unauthorized("unauthorized: the API key is not a MoleSignal API token", code="invalid_token")
    if scheme == "basic" and basic_allowed:
        pair = _decoded_pair(rest)
        if pair is None:
            raise Unauthorized("unauthorized: malformed Basic credentials", code="invalid_token")
        if not looks_like_api_token(pair[1]):
            raise Unauthorized(
                "unauthorized: Basic auth takes an API token (ms_… or mtk_…) as the password", code="invalid_token"
            )
        return pair[1]
    raise Unauthorized(_BEARER_OR_BASIC if basic_allowed else _BEARER_ONLY, code="invalid_scheme")
