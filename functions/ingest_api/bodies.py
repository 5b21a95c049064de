"""Reading request bodies: content types and Content-Encoding, with a cap on what gzip may inflate to."""

from __future__ import annotations

import zlib

from fastapi import Request

from molesignal.errors import Invalid, PayloadTooLarge, UnsupportedMediaType

MAX_INFLATED = 64 * 1024 * 1024
JSON_TYPES = ("application/json", "application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media(request: Request, accepted: tuple[str, ...], what: str) -> None:
    kind = media_type(request)
    if kind not in accepted and not any(kind.endswith(a.split("/")[-1]) for a in accepted if "+" in a):
        raise UnsupportedMediaType(f"unsupported media type: {what} takes {', '.join(accepted)}, not {kind or 'none'}")


async def read_body(request: Request, *, gzip_allowed: bool = True) -> bytes:
    body = await request.body()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip" and gzip_allowed:
        return inflate(body)
    raise UnsupportedMediaType(f"unsupported media type: Content-Encoding {encoding!r} is not accepted here")


def inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = inflater.decompress(body, MAX_INFLATED + 1)
    except zlib.error as exc:
        raise Invalid("invalid argument: body is not valid gzip", code="malformed_body") from exc
    if len(out) > MAX_INFLATED or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"payload too large: the body inflates to more than {MAX_INFLATED} bytes")
    if not inflater.eof:
        raise Invalid("invalid argument: gzip body is truncated", code="malformed_body")
    return out
