"""Who is calling, as the context the functions read: what the Lambda authorizer answers for
API Gateway, and what a function behind a function URL (no authorizer there) works out itself.

It never refuses: an unauthenticated or disallowed caller gets a context saying why, and the
owning function refuses in its own route family's envelope
(docs/adr/0002-authorizer-resolves-functions-enforce.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from molesignal.auth.credentials import credential_from_header
from molesignal.auth.sessions import Sessions
from molesignal.errors import Forbidden, Unauthorized
from molesignal.ipallow import Allowlists
from molesignal.storage.table import Table


def caller_context(headers: Mapping[str, str], source_ip: str, *, basic_allowed: bool) -> dict[str, str]:
    """The authorizer context for a request with these (lower-case) headers from ``source_ip``:
    the address the edge saw, never a client header (X-Forwarded-For is the client's word)."""
    table = Table()
    try:
        token = credential_from_header(headers.get("authorization"), basic_allowed=basic_allowed)
        principal = Sessions(table).authenticate(token)
    except Unauthorized as exc:
        return {"authenticated": "false", "error_code": exc.code, "error_message": exc.message}
    try:
        Allowlists(table).check(principal, source_ip)
    except Forbidden as exc:
        return {"authenticated": "false", "forbidden": "true", "error_code": exc.code, "error_message": exc.message}
    return {"authenticated": "true", **principal.to_context()}
