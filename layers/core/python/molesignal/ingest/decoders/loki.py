"""Loki push requests (``POST /loki/api/v1/push``) → one record per log entry.

Two encodings, as Loki takes them:

* ``application/json``: ``{"streams": [{"stream": {"job": "api"}, "values": [["<unix ns>",
  "<line>"], ["<unix ns>", "<line>", {"<structured metadata>": "..."}]]}]}``. The body may be
  ``Content-Encoding: gzip`` (``deflate`` and ``snappy`` are accepted too).
* ``application/x-protobuf`` (Promtail's and Alloy's default): a snappy block-compressed
  ``logproto.PushRequest`` (schema vendored in ``molesignal/ingest/proto/loki_push.proto``),
  whose stream labels are a string in Prometheus syntax (``{job="api", msg="a \\"b\\""}``).
  Snappy is implied, as in Loki: ``Content-Encoding`` may be absent or ``snappy``; ``gzip``
  or ``deflate`` wrap the snappy block. An absent ``Content-Type`` means protobuf, as in Loki.

A record is ``{"_timestamp": <int ns>, "message": <line>, **labels, **structured_metadata}``;
a label (or metadata pair) named ``message`` or ``_timestamp`` becomes ``label_message`` /
``label__timestamp``, and structured metadata wins over a stream label of the same name.
Log lines that are not valid UTF-8 (Go clients send whatever bytes they read) are kept with
U+FFFD replacement characters rather than failing the request. The legacy ``/api/prom/push``
JSON shape (``labels``/``entries``) is refused with a message saying so.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from molesignal.errors import Invalid, UnsupportedMediaType
from molesignal.ingest.decoders._common import (
    MAX_DECOMPRESSED_BYTES,
    content_coding,
    gunzip,
    inflate,
    media_type,
    require_body,
    snappy_block,
)

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
_UNSUPPORTED = "unsupported media type: Loki push takes application/json or application/x-protobuf"
_RENAMED = {"message": "label_message", "_timestamp": "label__timestamp"}
_INT64_MAX = 2**63 - 1


def decode_push(
    body: bytes,
    content_type: str,
    content_encoding: str | None,
    *,
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES,
) -> list[dict[str, Any]]:
    """Decode a Loki push body into records; Invalid / UnsupportedMediaType / PayloadTooLarge on bad input."""
    kind, _ = media_type(content_type)
    if kind not in (JSON, PROTOBUF, ""):
        raise UnsupportedMediaType(_UNSUPPORTED, code="unsupported_media_type")
    coding = content_coding(content_encoding)
    if coding not in ("", "gzip", "deflate", "snappy"):
        raise UnsupportedMediaType(
            f"unsupported media type: Content-Encoding {content_encoding!r}; Loki push takes gzip, deflate or snappy",
            code="unsupported_content_encoding",
        )
    require_body(body)
    limit = max_decompressed_bytes
    data: bytes | bytearray = body
    if coding == "gzip":
        data = gunzip(body, limit=limit)
    elif coding == "deflate":
        data = inflate(body, limit=limit)
    elif coding == "snappy" and kind == JSON:
        data = snappy_block(body, "JSON", limit=limit)
    if kind == JSON:
        return _decode_json(data)
    return _decode_protobuf(snappy_block(data, "protobuf", limit=limit))


# ---- labels in Prometheus syntax -------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')
_ESCAPE = re.compile(r"""\\(?:([abfnrtv\\"'])|x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([0-7]{3}))""")
_SIMPLE_ESCAPES = {
    "a": b"\a",
    "b": b"\b",
    "f": b"\f",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "v": b"\v",
    "\\": b"\\",
    '"': b'"',
    "'": b"'",
}


class LabelSyntaxError(ValueError):
    """A label string that is not ``{name="value", ...}``; the message says where and why."""


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The Go-syntax string literal starting at ``text[start]`` (a ``"`` or a backquote) and the offset after it."""
    if text[start] == "`":  # raw string: no escapes
        end = text.find("`", start + 1)
        if end == -1:
            raise LabelSyntaxError(f"unterminated raw string starting at offset {start}")
        return text[start + 1 : end], end + 1
    end = text.find('"', start + 1)
    if end != -1 and text.find("\\", start + 1, end) == -1:  # the usual case: no escapes
        return text[start + 1 : end], end + 1
    return _unescape(text, start)


def _unescape(text: str, start: int) -> tuple[str, int]:
    """The slow path of _quoted: a double-quoted string with escapes (Go's strconv.Unquote rules)."""
    out = bytearray()
    pos = start + 1
    while True:
        stop = _QUOTE_OR_BACKSLASH.search(text, pos)
        if stop is None:
            raise LabelSyntaxError(f"unterminated quoted string starting at offset {start}")
        at = stop.start()
        out += text[pos:at].encode("utf-8", "surrogatepass")
        if text[at] == '"':
            return out.decode("utf-8", "replace"), at + 1
        escape = _ESCAPE.match(text, at)
        if escape is None:
            raise LabelSyntaxError(f"invalid escape sequence {text[at : at + 2]!r} at offset {at}")
        simple, hex2, hex4, hex8, octal = escape.groups()
        if simple is not None:
            out += _SIMPLE_ESCAPES[simple]
        elif hex2 is not None or octal is not None:
            byte = int(hex2, 16) if hex2 is not None else int(octal, 8)
            if byte > 255:
                raise LabelSyntaxError(f"octal escape \\{octal} at offset {at} is out of range")
            out.append(byte)
        else:
            code_point = int(hex4 or hex8, 16)
            if code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
                raise LabelSyntaxError(f"escape {escape.group(0)} at offset {at} is not a valid code point")
            out += chr(code_point).encode()
        pos = escape.end()


def _skip_space(text: str, pos: int) -> int:
    size = len(text)
    while pos < size and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _label_name(text: str, pos: int) -> tuple[str, int]:
    if text[pos] in '"`':
        return _quoted(text, pos)
    found = _NAME.match(text, pos)
    if found is None:
        raise LabelSyntaxError(f"expected a label name at offset {pos}, found {text[pos : pos + 10]!r}")
    return found.group(0), found.end()


def parse_labels(text: str) -> dict[str, str]:
    """``'{job="api", msg="say \\"hi\\""}'`` → ``{'job': 'api', 'msg': 'say "hi"'}``.

    The syntax of Prometheus' ``labels.String()`` and Loki's stream selectors: names are
    ``[A-Za-z_][A-Za-z0-9_]*`` (or a quoted string, Prometheus 3's UTF-8 names); values are Go
    string literals, double-quoted with Go's escapes (``\\" \\\\ \\n \\t \\xHH \\uHHHH`` ...) or
    backquoted raw strings. Only ``=`` is allowed, a trailing comma is tolerated, and an empty
    string or ``{}`` is an empty label set. Raises LabelSyntaxError.
    """
    labels: dict[str, str] = {}
    size = len(text)
    pos = _skip_space(text, 0)
    if pos == size:
        return labels
    if text[pos] != "{":
        raise LabelSyntaxError(f"expected '{{' at offset {pos}")
    pos = _skip_space(text, pos + 1)
    while True:
        if pos >= size:
            raise LabelSyntaxError("missing closing '}'")
        char = text[pos]
        if char == "}":
            pos += 1
            break
        name, pos = _label_name(text, pos)
        pos = _skip_space(text, pos)
        if pos >= size or text[pos] != "=" or text.startswith("=~", pos):
            raise LabelSyntaxError(f"expected '=' after label name {name!r} at offset {pos}")
        pos = _skip_space(text, pos + 1)
        if pos >= size or text[pos] not in '"`':
            raise LabelSyntaxError(f"expected a quoted value for label {name!r} at offset {pos}")
        labels[name], pos = _quoted(text, pos)
        pos = _skip_space(text, pos)
        if pos < size and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
        elif pos >= size or text[pos] != "}":
            raise LabelSyntaxError(f"expected ',' or '}}' after the value of label {name!r} at offset {pos}")
    if _skip_space(text, pos) != size:
        raise LabelSyntaxError(f"unexpected text after '}}' at offset {pos}")
    return labels


def _renamed(labels: dict[str, str]) -> dict[str, str]:
    if "message" in labels or "_timestamp" in labels:
        return {_RENAMED.get(name, name): value for name, value in labels.items()}
    return labels


# ---- protobuf --------------------------------------------------------------------------------


def _decode_protobuf(data: bytearray) -> list[dict[str, Any]]:
    from google.protobuf.message import DecodeError

    from molesignal.ingest.proto.loki_push_pb2 import PushRequest

    request = PushRequest()
    try:
        request.ParseFromString(data)
    except (DecodeError, ValueError, TypeError) as exc:
        raise Invalid(
            f"invalid argument: body is not a valid snappy-compressed logproto.PushRequest protobuf ({exc})",
            code="invalid_protobuf",
        ) from exc

    records: list[dict[str, Any]] = []
    append = records.append
    for s, stream in enumerate(request.streams):
        try:
            labels = _renamed(parse_labels(stream.labels))
        except LabelSyntaxError as exc:
            raise Invalid(
                f"invalid argument: stream {s}: labels {stream.labels[:200]!r} are not valid: {exc}",
                code="invalid_labels",
            ) from exc
        for entry in stream.entries:
            ts = entry.timestamp
            record: dict[str, Any] = {
                "_timestamp": ts.seconds * 1_000_000_000 + ts.nanos,
                "message": entry.line.decode("utf-8", "replace"),
            }
            record.update(labels)
            if entry.structuredMetadata:
                for pair in entry.structuredMetadata:
                    record[_RENAMED.get(pair.name, pair.name)] = pair.value
            append(record)
    return records


# ---- JSON ------------------------------------------------------------------------------------


def _bad(message: str, code: str = "invalid_push_request") -> Invalid:
    return Invalid(f"invalid argument: {message}", code=code)


def _json_timestamp(value: Any, s: int, e: int) -> int:
    if isinstance(value, str):
        if 0 < len(value) <= 19 and value.isascii() and value.isdigit() and int(value) <= _INT64_MAX:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _INT64_MAX:
        return value
    raise _bad(
        f"streams[{s}].values[{e}]: timestamp {str(value)[:40]!r} is not a Unix time in nanoseconds "
        '(a string of digits, e.g. "1700000000000000000")',
        code="invalid_timestamp",
    )


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object of string values")
    for name, item in value.items():
        if not isinstance(item, str):
            raise _bad(f"{where}[{name!r}] must be a string, not {type(item).__name__}")
    return _renamed(value)


def _decode_json(data: bytes | bytearray) -> list[dict[str, Any]]:
    try:
        request = orjson.loads(data)
    except ValueError as exc:  # orjson.JSONDecodeError, also for bad UTF-8
        raise _bad(f"body is not valid JSON ({exc})", code="invalid_json") from exc
    if not isinstance(request, dict) or not isinstance(request.get("streams", []), list):
        raise _bad('body must be a JSON object {"streams": [...]}')

    records: list[dict[str, Any]] = []
    append = records.append
    for s, stream in enumerate(request.get("streams") or ()):
        if not isinstance(stream, dict):
            raise _bad(f"streams[{s}] must be an object")
        if "values" not in stream and "entries" in stream:
            raise _bad(
                f"streams[{s}] uses the legacy labels/entries format; "
                'send {"stream": {labels}, "values": [["<unix ns>", "<line>"]]}'
            )
        labels = _string_map(stream.get("stream") or {}, f"streams[{s}].stream")
        values = stream.get("values")
        if values is None:
            continue
        if not isinstance(values, list):
            raise _bad(f"streams[{s}].values must be an array")
        for e, value in enumerate(values):
            if not isinstance(value, list) or not 2 <= len(value) <= 3:
                raise _bad(f'streams[{s}].values[{e}] must be ["<unix ns>", "<line>"] or with a metadata object')
            line = value[1]
            if not isinstance(line, str):
                raise _bad(f"streams[{s}].values[{e}]: the log line must be a string, not {type(line).__name__}")
            record: dict[str, Any] = {"_timestamp": _json_timestamp(value[0], s, e), "message": line}
            record.update(labels)
            if len(value) == 3 and value[2]:
                record.update(_string_map(value[2], f"streams[{s}].values[{e}][2]"))
            append(record)
    return records
