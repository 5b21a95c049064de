"""Reading sealed session content: org admins and the session's own user only, and every
read — allowed or refused — is written to the audit log."""

from __future__ import annotations

from typing import Any

from molesignal import audit
from molesignal.auth.principal import Principal
from molesignal.errors import NotFound
from molesignal.lake.streams import CONTENT_STREAM
from molesignal.otlp.content import ContentDecryptionError, EncryptedBlob
from molesignal.otlp.receiver import shared_cipher
from molesignal.query.errors import PermissionDenied, TableNotFound
from molesignal.query.service import QueryRequest, QueryService
from molesignal.tenancy import Tenancy

MAX_RECORDS = 10_000


def _identities(service: QueryService, principal: Principal) -> set[str]:
    user = Tenancy(service.table).get_user(principal.org_id, principal.user_id)
    return {str(v).lower() for v in (user.get("username"), user.get("email"), user.get("user_id")) if v}


def read_session_content(
    service: QueryService, principal: Principal, session_id: str, *, source_ip: str
) -> list[dict[str, Any]]:
    sql = f"SELECT * FROM {CONTENT_STREAM} WHERE session_id = $1 ORDER BY _timestamp LIMIT {MAX_RECORDS}"  # noqa: S608
    try:
        outcome = service.run(principal, QueryRequest(sql=sql, params=[session_id]), use_cache=False)
    except TableNotFound as exc:
        raise NotFound(f"not found: no content for session {session_id!r}") from exc
    names = [c.name for c in outcome.columns]
    rows = [dict(zip(names, row, strict=True)) for row in outcome.rows]
    if not rows:
        raise NotFound(f"not found: no content for session {session_id!r}")
    if not principal.is_admin:
        mine = _identities(service, principal)
        if any(str(r.get("session_user") or "").lower() not in mine for r in rows):
            audit.record_by(
                service.table,
                principal,
                "content.read",
                target=session_id,
                outcome="denied",
                source_ip=source_ip,
            )
            raise PermissionDenied(
                "PERMISSION_DENIED: session content is readable by org admins and the session's user"
            )
    cipher = shared_cipher()
    out: list[dict[str, Any]] = []
    failed = 0
    for row in rows:
        entry: dict[str, Any] = {
            "record_id": row["record_id"],
            "timestamp": row["_timestamp"],
            "source_stream": row.get("source_stream"),
        }
        try:
            blob = EncryptedBlob.from_json(str(row["sealed"]))
            entry["content"] = cipher.decrypt_json(principal.org_id, blob, aad_context=str(row["record_id"]))
        except ContentDecryptionError:
            failed += 1
            entry["error"] = "this record could not be decrypted"
        out.append(entry)
    audit.record_by(
        service.table,
        principal,
        "content.read",
        target=session_id,
        source_ip=source_ip,
        details={"records": len(out), "undecryptable": failed},
    )
    return out
