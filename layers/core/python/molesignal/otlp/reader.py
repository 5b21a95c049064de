"""Reading sealed session content: org admins and the session's own user only, and every
read — allowed, refused or failed — is written to the audit log.

The content stream is written only by the OTLP receiver, but rows may exist that it did
not write (planted before tenant routes were refused the stream). So no column of a row is
trusted for more than it proves: a row's ``session_user`` decides which user may *ask* for
it, and the AEAD binding (org, record, session, user) decides whether it *opens*; a row that
is malformed in any way is answered as undecryptable, never as an error of the whole read.
"""

from __future__ import annotations

from typing import Any

import orjson

from molesignal import audit
from molesignal.auth.principal import Principal
from molesignal.errors import NotFound
from molesignal.lake.streams import CONTENT_STREAM
from molesignal.otlp.content import (
    LEGACY_BLOB_VERSION,
    ContentBinding,
    ContentCipher,
    ContentDecryptionError,
    EncryptedBlob,
)
from molesignal.otlp.receiver import shared_cipher
from molesignal.query.errors import PermissionDenied, TableNotFound
from molesignal.query.service import QueryRequest, QueryService
from molesignal.tenancy import Tenancy

MAX_RECORDS = 10_000
UNDECRYPTABLE = "this record could not be decrypted"
LEGACY_ADMINS_ONLY = (
    "this record was sealed before records were bound to their session and user: only org admins can read it"
)


def _identities(service: QueryService, principal: Principal) -> set[str]:
    user = Tenancy(service.table).get_user(principal.org_id, principal.user_id)
    return {str(v).lower() for v in (user.get("username"), user.get("email"), user.get("user_id")) if v}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _opened(cipher: ContentCipher, principal: Principal, row: dict[str, Any]) -> dict[str, Any]:
    """One answer record: the content if the row's blob opens for its binding, else why not."""
    record_id = row.get("record_id")
    entry: dict[str, Any] = {
        "record_id": None if record_id is None else str(record_id),
        "timestamp": int(row["_timestamp"]),
        "source_stream": None if row.get("source_stream") is None else str(row["source_stream"]),
        "content": None,
        "error": UNDECRYPTABLE,
    }
    sealed = row.get("sealed")
    if record_id is None or not isinstance(sealed, str):
        return entry
    try:
        blob = EncryptedBlob.from_json(sealed)
        if blob.version == LEGACY_BLOB_VERSION and not principal.is_admin:
            # A version 1 blob binds only org and record: its row's session and user prove nothing.
            entry["error"] = LEGACY_ADMINS_ONLY
            return entry
        binding = ContentBinding(str(record_id), _text(row.get("session_id")), _text(row.get("session_user")))
        content = cipher.decrypt_json(principal.org_id, blob, aad_context=binding.aad_context(blob.version))
    except (ContentDecryptionError, orjson.JSONDecodeError):
        return entry
    if isinstance(content, dict):
        entry.update(content=content, error=None)
    return entry


def read_session_content(
    service: QueryService, principal: Principal, session_id: str, *, source_ip: str
) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM {CONTENT_STREAM} WHERE session_id = $1 ORDER BY _timestamp LIMIT {MAX_RECORDS}"  # noqa: S608
    try:
        outcome = service.run(principal, QueryRequest(sql=sql, params=[session_id]), reveal_sealed=True)
    except TableNotFound as exc:
        raise NotFound(f"not found: no content for session {session_id!r}") from exc
    names = [c.name for c in outcome.columns]
    rows = [dict(zip(names, row, strict=True)) for row in outcome.rows]
    if not rows:
        raise NotFound(f"not found: no content for session {session_id!r}")

    def record(outcome: str, details: dict[str, Any] | None = None) -> None:
        audit.record_by(
            service.table,
            principal,
            "content.read",
            target=session_id,
            outcome=outcome,
            source_ip=source_ip,
            details=details,
        )

    readable = rows
    if not principal.is_admin:
        # The session's user reads the records named for them; another user's are withheld.
        mine = _identities(service, principal)
        readable = [r for r in rows if _text(r.get("session_user")).lower() in mine]
        if not readable:
            record("denied")
            raise PermissionDenied(
                "PERMISSION_DENIED: session content is readable by org admins and the session's user"
            )
    cipher = shared_cipher()
    try:
        out = [_opened(cipher, principal, row) for row in readable]
    except Exception:
        record("error")  # e.g. KMS unavailable: the read did not happen, and the log says so
        raise
    details: dict[str, Any] = {"records": len(out), "undecryptable": sum(1 for e in out if e["content"] is None)}
    if len(readable) < len(rows):
        details["withheld"] = len(rows) - len(readable)
    record("success", details)
    return out
