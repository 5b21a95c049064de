"""The OTLP/HTTP receiver (spec 002): decode, flatten, split out and seal session content,
then enqueue plaintext rows through the same path as every other ingest.

Rows go to ``otel_logs``, ``otel_metrics`` and ``otel_spans``. For each row that carries
content, the content columns are removed, sealed with the org's data key (AES-256-GCM,
bound to the record id, the session id and the session's user) and stored as a row of ``otel_content`` holding only the
ciphertext and what is needed to find and authorise it (record id, session id, the
session's user, the source stream, the names of the sealed fields). The plaintext row
keeps ``content_ref`` pointing at it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from molesignal.auth.principal import Principal
from molesignal.ingest.service import Ingestor
from molesignal.lake.streams import CONTENT_STREAM, RESERVED_STREAMS
from molesignal.otlp.content import DEFAULT_POLICY, ContentBinding, ContentCipher, ContentPolicy, split_content
from molesignal.settings import get_settings

STREAMS = {"logs": "otel_logs", "metrics": "otel_metrics", "traces": "otel_spans"}
# Where the session's user shows up in Claude Code and OpenTelemetry attributes.
_USER_COLUMNS = (
    "attr_user_email",
    "resource_user_email",
    "attr_user_id",
    "resource_user_id",
    "attr_user_account_uuid",
    "resource_user_account_uuid",
    "attr_enduser_id",
    "resource_enduser_id",
)


@dataclass
class OtlpResult:
    counts: dict[str, int]
    session_ids: list[str]
    skipped: int
    request_id: str = ""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Why records were skipped, for OTLP's partial_success.error_message.
    skip_reason: str = ""

    def to_response(self) -> dict[str, Any]:
        return {
            "accepted": True,
            "counts": self.counts,
            "sessionIds": self.session_ids,
            "skipped": self.skipped,
            "requestId": self.request_id,
        }


def session_user(row: dict[str, Any]) -> str:
    for column in _USER_COLUMNS:
        value = row.get(column)
        if isinstance(value, str) and value:
            return value
    return ""


class OtlpReceiver:
    def __init__(self, ingestor: Ingestor | None = None, cipher: ContentCipher | None = None) -> None:
        self.ingestor = ingestor or Ingestor()
        self._cipher = cipher

    @property
    def cipher(self) -> ContentCipher:
        if self._cipher is None:
            self._cipher = shared_cipher()
        return self._cipher

    def receive(
        self,
        principal: Principal,
        signal: str,
        body: bytes,
        content_type: str | None,
        content_encoding: str | None,
        policy: ContentPolicy = DEFAULT_POLICY,
    ) -> OtlpResult:
        from molesignal.otlp.decode import decode_request
        from molesignal.otlp.flatten import flatten

        request = decode_request(signal, body, content_type, content_encoding)  # type: ignore[call-overload]
        flattened = flatten(request)
        items: list[tuple[int, str, Any]] = []
        index = 0
        for stream_key, rows in flattened.rows.items():
            stream = STREAMS.get(stream_key, stream_key)
            for row in rows:
                plain, content = split_content(row, policy)
                if content:
                    record_id = secrets.token_hex(12)
                    plain["content_ref"] = record_id
                    items.append(
                        (index, CONTENT_STREAM, self._sealed(principal.org_id, record_id, stream, plain, content))
                    )
                    index += 1
                items.append((index, stream, plain))
                index += 1
        result = self.ingestor.submit(principal, items, reserved=RESERVED_STREAMS) if items else None
        rejected = result.rejected if result else 0
        reasons = []
        if flattened.skipped:
            reasons.append(f"{flattened.skipped} malformed")
        if result and result.rejections:
            reasons.append(f"{rejected} refused at ingest, first: {result.rejections[0].reason}")
        return OtlpResult(
            counts=dict(flattened.counts),
            session_ids=list(flattened.session_ids),
            skipped=flattened.skipped + rejected,
            request_id=result.request_id if result else "",
            skip_reason="; ".join(reasons),
        )

    def _sealed(
        self, org_id: str, record_id: str, stream: str, plain: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        session = plain.get("session_id")
        binding = ContentBinding(record_id, "" if session is None else str(session), session_user(plain))
        blob = self.cipher.encrypt_json(org_id, content, aad_context=binding.aad_context())
        return {
            "_timestamp": plain.get("_timestamp"),
            "record_id": record_id,
            "source_stream": stream,
            "session_id": binding.session_id or None,
            "session_user": binding.session_user,
            "fields": plain.get("content_fields"),
            "key_id": blob.key_id,
            "sealed": blob.to_json(),
        }


_cipher: ContentCipher | None = None


def shared_cipher() -> ContentCipher:
    """One cipher per warm function: its data-key cache is what keeps KMS calls rare."""
    global _cipher
    alias = get_settings().kms_alias("content")
    if _cipher is None or _cipher.kms_key_id != alias:
        _cipher = ContentCipher(alias)
    return _cipher
