"""Typed domain errors. No HTTP here: the web layer maps each class to a status once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class. ``code`` is a stable machine-readable identifier."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details  # what the error envelope carries besides the message (per-field reasons)
        if code is not None:
            self.code = code


class Invalid(DomainError):
    code = "invalid_argument"


class Unprocessable(Invalid):
    """Well-formed input that fails validation (spec 001 answers 422 for these)."""

    code = "validation_failed"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Gone(DomainError):
    """The resource existed and has expired (an export past its lifetime)."""

    code = "gone"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class RateLimited(DomainError):
    """A rate quota (ingest QPS, query QPS, login attempts) is exhausted."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = max(1, int(retry_after_s))


class StorageQuotaExceeded(DomainError):
    code = "storage_quota_exceeded"


class Unavailable(DomainError):
    """The org's ingestion is paused (by an admin or licence policy); reads keep working."""

    code = "unavailable"
