"""What the decoders share: media-type parsing, HTTP content codings and a decompression limit.

Every failure of a compression library becomes :class:`~molesignal.errors.Invalid`; a body
that would decompress to more than the limit becomes :class:`~molesignal.errors.PayloadTooLarge`
before anything that large is allocated.
"""

from __future__ import annotations

import zlib

from molesignal.errors import Invalid, PayloadTooLarge, UnsupportedMediaType

# A decompressed request body may be at most this large. API Gateway caps the compressed body
# at 10 MiB; snappy and gzip can expand that 20-1000x, which a Lambda must not try to hold.
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

# Content codings that mean "not encoded".
IDENTITY = frozenset({"", "identity"})


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """``'Application/JSON; charset="utf-8"'`` → ``('application/json', {'charset': 'utf-8'})``.

    The type is lower-cased; parameter names are lower-cased, values keep their case.
    An absent or empty header gives ``('', {})``.
    """
    if not content_type:
        return "", {}
    head, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    if rest:
        for part in rest.split(";"):
            name, sep, value = part.partition("=")
            if sep:
                params[name.strip().lower()] = value.strip().strip('"')
    return head.strip().lower(), params


def content_coding(content_encoding: str | None) -> str:
    """The single content coding of a ``Content-Encoding`` header, lower-cased; ``''`` if none.

    Stacked codings (``gzip, snappy``) are not supported by any client we decode for.
    """
    if not content_encoding:
        return ""
    coding = content_encoding.strip().lower()
    if "," in coding:
        raise UnsupportedMediaType(
            f"unsupported media type: Content-Encoding {content_encoding!r} stacks codings; send one coding",
            code="unsupported_content_encoding",
        )
    return "" if coding == "identity" else coding


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"payload too large: the decompressed body would exceed {limit} bytes", code="decompressed_too_large"
    )


def snappy_block(body: bytes | bytearray, what: str, *, limit: int = MAX_DECOMPRESSED_BYTES) -> bytearray:
    """Decompress snappy's block ("raw") format, the one Prometheus and Loki clients send.

    ``what`` names the payload for the error message ("protobuf", "JSON").
    """
    import cramjam

    message = f"invalid argument: body is not valid snappy-compressed {what}"
    try:
        size = int(cramjam.snappy.decompress_raw_len(body))
    except Exception as exc:  # cramjam.DecompressionError: no valid length header
        raise Invalid(f"{message} (bad length header)", code="invalid_snappy") from exc
    if size > limit:
        raise _too_large(limit)
    out = bytearray(size)
    try:
        written = int(cramjam.snappy.decompress_raw_into(body, out))
    except Exception as exc:  # cramjam.DecompressionError: truncated or corrupt
        raise Invalid(f"{message} ({exc})", code="invalid_snappy") from exc
    if written != size:
        raise Invalid(f"{message} (expected {size} bytes, got {written})", code="invalid_snappy")
    return out


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    """zlib/gzip/raw-deflate decompression with an output limit; gzip may have several members."""
    out = bytearray()
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        out += inflater.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise _too_large(limit)
        if not inflater.eof:
            raise zlib.error("compressed data is truncated")
        data = inflater.unused_data
        if not data or wbits != 31:  # only gzip concatenates members
            return bytes(out)


def gunzip(body: bytes, *, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    try:
        return _inflate(body, 31, limit)
    except zlib.error as exc:
        raise Invalid(f"invalid argument: body is not valid gzip ({exc})", code="invalid_gzip") from exc


def inflate(body: bytes, *, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """HTTP ``deflate``: zlib-wrapped per RFC 9110, but raw DEFLATE (what Go sends) is accepted too."""
    try:
        return _inflate(body, 15, limit)
    except zlib.error:
        pass
    try:
        return _inflate(body, -15, limit)
    except zlib.error as exc:
        raise Invalid(f"invalid argument: body is not valid deflate ({exc})", code="invalid_deflate") from exc


def require_body(body: bytes) -> None:
    if not body:
        raise Invalid("invalid argument: request body is required", code="empty_body")
