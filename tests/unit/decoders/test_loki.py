"""Loki push decoding: protobuf+snappy as Promtail/Alloy send it, JSON as the Python clients send it."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import zlib
from typing import Any

import cramjam
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from molesignal.errors import DomainError, Invalid, PayloadTooLarge, UnsupportedMediaType
from molesignal.ingest.decoders.loki import LabelSyntaxError, decode_push, parse_labels
from molesignal.ingest.proto import loki_push_pb2 as pb

PROTOBUF = "application/x-protobuf"
T0 = 1_700_000_000_123_456_789  # ns


def _entry(ns: int, line: bytes, metadata: dict[str, str] | None = None) -> pb.EntryAdapter:
    return pb.EntryAdapter(
        timestamp=Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000),
        line=line,
        structuredMetadata=[pb.LabelPairAdapter(name=k, value=v) for k, v in (metadata or {}).items()],
    )


def _push(*streams: tuple[str, list[pb.EntryAdapter]]) -> bytes:
    request = pb.PushRequest(streams=[pb.StreamAdapter(labels=labels, entries=entries) for labels, entries in streams])
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


# ---- protobuf --------------------------------------------------------------------------------


def test_decode_push_protobuf_multiple_streams_and_entries() -> None:
    body = _push(
        ('{job="api", level="info"}', [_entry(T0, b"first"), _entry(T0 + 1, b"second")]),
        ('{job="worker"}', [_entry(T0 + 2, "dritte Zeile ü".encode())]),
    )
    assert decode_push(body, PROTOBUF, None) == [
        {"_timestamp": T0, "message": "first", "job": "api", "level": "info"},
        {"_timestamp": T0 + 1, "message": "second", "job": "api", "level": "info"},
        {"_timestamp": T0 + 2, "message": "dritte Zeile ü", "job": "worker"},
    ]


def test_decode_push_protobuf_label_escaping() -> None:
    labels = r'{job="api", msg="a \"quoted\" value", path="C:\\temp", multi="l1\nl2\tx", u="\u00e9\x41"}'
    (record,) = decode_push(_push((labels, [_entry(T0, b"x")])), PROTOBUF, "snappy")
    assert record["msg"] == 'a "quoted" value'
    assert record["path"] == "C:\\temp"
    assert record["multi"] == "l1\nl2\tx"
    assert record["u"] == "éA"


def test_decode_push_protobuf_structured_metadata_and_reserved_names() -> None:
    body = _push(
        (
            '{job="api", message="label text", _timestamp="label ts"}',
            [_entry(T0, b"line", {"trace_id": "abc", "job": "from-metadata", "message": "md"})],
        )
    )
    (record,) = decode_push(body, PROTOBUF, None)
    assert record == {
        "_timestamp": T0,
        "message": "line",
        "label_message": "md",  # structured metadata wins over the stream label of the same name
        "label__timestamp": "label ts",
        "job": "from-metadata",
        "trace_id": "abc",
    }


def test_decode_push_protobuf_line_with_invalid_utf8_is_kept_with_replacement() -> None:
    (record,) = decode_push(_push(('{job="x"}', [_entry(T0, b"bin \xff\xfe end")])), PROTOBUF, None)
    assert record["message"] == "bin \ufffd\ufffd end"


def test_decode_push_protobuf_without_content_type_or_with_gzip_around_snappy() -> None:
    body = _push(('{job="x"}', [_entry(T0, b"hello")]))
    expected = [{"_timestamp": T0, "message": "hello", "job": "x"}]
    assert decode_push(body, "", None) == expected
    assert decode_push(gzip.compress(body), PROTOBUF, "gzip") == expected


def test_decode_push_protobuf_empty_request_gives_no_records() -> None:
    assert decode_push(_push(), PROTOBUF, None) == []


def test_decode_push_protobuf_truncated_snappy_is_invalid() -> None:
    # bad input: a valid snappy body with its last 5 bytes cut off
    body = _push(('{job="x"}', [_entry(T0, b"hello world " * 20)]))
    with pytest.raises(Invalid) as caught:
        decode_push(body[:-5], PROTOBUF, None)
    assert caught.value.message.startswith("invalid argument: body is not valid snappy-compressed protobuf")


def test_decode_push_protobuf_uncompressed_body_is_invalid() -> None:
    # bad input: protobuf sent without the snappy compression Loki requires
    raw = pb.PushRequest(streams=[pb.StreamAdapter(labels='{job="x"}', entries=[_entry(T0, b"x")])])
    with pytest.raises(Invalid):
        decode_push(raw.SerializeToString(), PROTOBUF, None)


def test_decode_push_protobuf_random_bytes_are_invalid() -> None:
    # bad input: 512 pseudo-random bytes, correctly snappy-compressed, that are not a PushRequest
    garbage = b"\x0f" + hashlib.shake_256(b"seed 7").digest(511)  # starts with field 1 / wire type 7: never valid
    with pytest.raises(Invalid) as caught:
        decode_push(bytes(cramjam.snappy.compress_raw(garbage)), PROTOBUF, None)
    assert "logproto.PushRequest" in caught.value.message


def test_decode_push_protobuf_bad_label_syntax_names_the_stream() -> None:
    # bad input: the second stream's labels use a regex matcher and an unterminated string
    body = _push(('{job="ok"}', [_entry(T0, b"x")]), ('{job=~"a.*", x="open', [_entry(T0, b"y")]))
    with pytest.raises(Invalid) as caught:
        decode_push(body, PROTOBUF, None)
    assert caught.value.message.startswith("invalid argument: stream 1: labels")


def test_decode_push_protobuf_invalid_utf8_in_labels_is_invalid() -> None:
    # bad input: a stream label string holding the bytes 0xff 0xfe (proto3 strings must be UTF-8)
    inner = pb.StreamAdapter(labels="{}").SerializeToString().replace(b"{}", b"\xff\xfe")
    body = bytes(cramjam.snappy.compress_raw(b"\x0a" + bytes([len(inner)]) + inner))
    with pytest.raises(Invalid):
        decode_push(body, PROTOBUF, None)


def test_decode_push_snappy_length_header_over_the_limit_is_payload_too_large() -> None:
    # bad input: a snappy block whose header claims 1 MiB, decoded with a 64 KiB limit
    body = bytes(cramjam.snappy.compress_raw(b"a" * (1 << 20)))
    with pytest.raises(PayloadTooLarge):
        decode_push(body, PROTOBUF, None, max_decompressed_bytes=64 * 1024)


# ---- JSON ------------------------------------------------------------------------------------


def _capture_loki_logger_handler_request(compressed: bool) -> tuple[dict[str, str], bytes]:
    """What loki-logger-handler POSTs for two streams, one entry with structured metadata."""
    from loki_logger_handler.loki_request import LokiRequest
    from loki_logger_handler.stream import Stream
    from loki_logger_handler.streams import Streams

    sent: list[tuple[dict[str, str], bytes]] = []

    class Response:
        status_code = 204

        def raise_for_status(self) -> None:
            pass

        def close(self) -> None:
            pass

    class Session:
        def post(self, url: str, data: bytes, auth: Any, headers: dict[str, str]) -> Response:
            sent.append((dict(headers), data))
            return Response()

    api = Stream({"application": "shop", "environment": "prod"})
    api.append_value({"timestamp": 1_700_000_000.5, "message": "started"})
    worker = Stream({"application": "worker"})
    worker.append_value({"timestamp": 1_700_000_001, "message": "job done"}, {"trace_id": "t-1", "attempt": 2})
    request = LokiRequest("http://loki.invalid/loki/api/v1/push", compressed=compressed)
    request.session = Session()  # type: ignore[assignment]
    request.send(Streams([api, worker]).serialize())
    ((headers, data),) = sent
    return headers, data if isinstance(data, bytes) else data.encode()


@pytest.mark.parametrize("compressed", [False, True])
def test_decode_push_json_from_loki_logger_handler_plain_and_gzip(compressed: bool) -> None:
    headers, body = _capture_loki_logger_handler_request(compressed)
    assert headers.get("Content-Encoding") == ("gzip" if compressed else None)

    records = decode_push(body, headers["Content-Type"], headers.get("Content-Encoding"))

    assert len(records) == 2
    first, second = records
    assert first["_timestamp"] == 1_700_000_000_500_000_000
    assert (first["application"], first["environment"]) == ("shop", "prod")
    assert json.loads(first["message"])["message"] == "started"  # the handler sends JSON lines
    assert second["_timestamp"] == 1_700_000_001_000_000_000
    assert second["application"] == "worker"
    assert (second["trace_id"], second["attempt"]) == ("t-1", "2")


def test_decode_push_json_from_python_logging_loki() -> None:
    from logging_loki.emitter import LokiEmitterV1

    emitter = LokiEmitterV1("http://loki.invalid/loki/api/v1/push", tags={"service": "billing"})
    record = logging.LogRecord("app.db", logging.WARNING, __file__, 1, "slow query", None, None)
    body = json.dumps(emitter.build_payload(record, "slow query took 3s")).encode()

    (decoded,) = decode_push(body, "application/json", None)

    assert decoded["message"] == "slow query took 3s"
    assert decoded["service"] == "billing"
    assert decoded["severity"] == "warning"
    assert decoded["logger"] == "app.db"
    assert isinstance(decoded["_timestamp"], int) and decoded["_timestamp"] > 1_600_000_000 * 10**9


def test_decode_push_json_structured_metadata_renames_and_deflate() -> None:
    push = {
        "streams": [
            {
                "stream": {"job": "api", "message": "label"},
                "values": [[str(T0), "plain"], [str(T0 + 5), "with md", {"trace_id": "abc", "_timestamp": "x"}]],
            },
            {"stream": {"job": "other"}, "values": [[T0 + 9, "integer timestamp"]]},
            {"stream": {"job": "empty"}, "values": []},
            {"stream": {"job": "no values"}},
        ]
    }
    body = zlib.compress(json.dumps(push).encode())
    assert decode_push(body, "application/json; charset=utf-8", "deflate") == [
        {"_timestamp": T0, "message": "plain", "job": "api", "label_message": "label"},
        {
            "_timestamp": T0 + 5,
            "message": "with md",
            "job": "api",
            "label_message": "label",
            "trace_id": "abc",
            "label__timestamp": "x",
        },
        {"_timestamp": T0 + 9, "message": "integer timestamp", "job": "other"},
    ]


@pytest.mark.parametrize(
    "bad_ts", ["abc", "17e17", "-5", "", "1.5", 1.5, None, True, "99999999999999999999", "9" * 5000]
)
def test_decode_push_json_bad_timestamp_names_stream_and_entry(bad_ts: Any) -> None:
    # bad input: the second entry of the second stream has a timestamp that is not integer nanoseconds
    push = {
        "streams": [
            {"stream": {"job": "a"}, "values": [[str(T0), "ok"]]},
            {"stream": {"job": "b"}, "values": [[str(T0), "ok"], [bad_ts, "bad"]]},
        ]
    }
    with pytest.raises(Invalid) as caught:
        decode_push(json.dumps(push).encode(), "application/json", None)
    assert caught.value.message.startswith("invalid argument: streams[1].values[1]: timestamp")
    assert caught.value.code == "invalid_timestamp"


@pytest.mark.parametrize(
    ("push", "fragment"),
    [
        ([], 'body must be a JSON object {"streams": [...]}'),
        ({"streams": {"a": 1}}, 'body must be a JSON object {"streams": [...]}'),
        ({"streams": ["x"]}, "streams[0] must be an object"),
        ({"streams": [{"stream": {"job": 1}, "values": []}]}, "streams[0].stream['job'] must be a string"),
        ({"streams": [{"stream": {}, "values": [[str(T0)]]}]}, "streams[0].values[0] must be"),
        ({"streams": [{"stream": {}, "values": {"a": 1}}]}, "streams[0].values must be an array"),
        ({"streams": [{"stream": {}, "values": [[str(T0), 42]]}]}, "the log line must be a string"),
        ({"streams": [{"stream": {}, "values": [[str(T0), "l", ["md"]]]}]}, "values[0][2] must be an object"),
        ({"streams": [{"labels": '{job="x"}', "entries": [{"ts": "2024-01-01T00:00:00Z", "line": "l"}]}]}, "legacy"),
    ],
)
def test_decode_push_json_wrong_shapes_are_invalid(push: Any, fragment: str) -> None:
    # bad input: JSON that is valid but not a v1 push request (see each case)
    with pytest.raises(Invalid) as caught:
        decode_push(json.dumps(push).encode(), "application/json", None)
    assert fragment in caught.value.message


def test_decode_push_json_syntax_error_or_bad_utf8_is_invalid() -> None:
    # bad input: truncated JSON, then JSON containing the non-UTF-8 byte 0xff
    for body in (b'{"streams": [', b'{"streams": [{"stream": {"a": "\xff"}}]}'):
        with pytest.raises(Invalid) as caught:
            decode_push(body, "application/json", None)
        assert caught.value.message.startswith("invalid argument: body is not valid JSON")


def test_decode_push_gzip_header_on_plain_body_is_invalid() -> None:
    # bad input: Content-Encoding says gzip but the body is plain JSON
    with pytest.raises(Invalid) as caught:
        decode_push(b'{"streams": []}', "application/json", "gzip")
    assert caught.value.message.startswith("invalid argument: body is not valid gzip")


def test_decode_push_gzip_bomb_is_payload_too_large() -> None:
    # bad input: 1 MiB of zeros gzip-compressed to ~1 KiB, decoded with a 64 KiB limit
    with pytest.raises(PayloadTooLarge):
        decode_push(gzip.compress(b"\0" * (1 << 20)), "application/json", "gzip", max_decompressed_bytes=64 * 1024)


# ---- media types and empty bodies ------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-ndjson", "application/xml; charset=utf-8"])
def test_decode_push_wrong_content_type_is_unsupported(content_type: str) -> None:
    # bad input: a Content-Type that is neither JSON nor protobuf
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_push(b'{"streams": []}', content_type, None)
    assert caught.value.message == (
        "unsupported media type: Loki push takes application/json or application/x-protobuf"
    )


def test_decode_push_unknown_content_encoding_is_unsupported() -> None:
    # bad input: Content-Encoding br, which Loki does not take
    with pytest.raises(UnsupportedMediaType):
        decode_push(b"...", PROTOBUF, "br")


@pytest.mark.parametrize("content_type", [PROTOBUF, "application/json"])
def test_decode_push_empty_body_is_invalid(content_type: str) -> None:
    # bad input: an empty body
    with pytest.raises(Invalid) as caught:
        decode_push(b"", content_type, None)
    assert caught.value.message == "invalid argument: request body is required"


# ---- the label parser on its own -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("{}", {}),
        ('{job="api"}', {"job": "api"}),
        (' { job = "api" , level="info", } ', {"job": "api", "level": "info"}),
        ('{a="", b="x"}', {"a": "", "b": "x"}),
        ('{msg="a \\"quoted\\" value"}', {"msg": 'a "quoted" value'}),
        ('{p="back\\\\slash", n="1\\n2"}', {"p": "back\\slash", "n": "1\n2"}),
        ('{e="\\t\\r\\a\\x7f\\101\\u263a\\U0001F600"}', {"e": "\t\r\a\x7fA\u263a\U0001f600"}),
        ('{raw=`no \\escapes "here"`}', {"raw": 'no \\escapes "here"'}),
        ('{"service.name"="checkout"}', {"service.name": "checkout"}),
        ('{u="ünïcödé, commas, {braces} and = signs"}', {"u": "ünïcödé, commas, {braces} and = signs"}),
    ],
)
def test_parse_labels_accepts_prometheus_syntax(text: str, expected: dict[str, str]) -> None:
    assert parse_labels(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'job="api"',  # no braces
        '{job="api"',  # unterminated set
        '{job="api}',  # unterminated string
        "{job=api}",  # unquoted value
        '{job!="api"}',  # matcher other than =
        '{job=~"api"}',
        '{1job="api"}',  # name starts with a digit
        '{job="a" level="b"}',  # missing comma
        '{job="\\q"}',  # unknown escape
        '{job="\\777"}',  # octal escape out of byte range
        '{job="\\ud800"}',  # surrogate code point
        '{job="a"} trailing',
    ],
)
def test_parse_labels_rejects_malformed_label_strings(text: str) -> None:
    # bad input: each case is a label string that is not valid Prometheus label syntax
    with pytest.raises(LabelSyntaxError):
        parse_labels(text)


def _mutations(data: bytes) -> list[bytes]:
    """Every truncation of ``data`` and 256 deterministic single-byte corruptions."""
    noise = hashlib.shake_256(data).digest(512)
    flips = []
    for k in range(256):
        at = int.from_bytes(noise[2 * k : 2 * k + 2], "big") % len(data)
        flips.append(data[:at] + bytes([data[at] ^ (noise[k] | 1)]) + data[at + 1 :])
    return [data[:cut] for cut in range(len(data))] + flips


def test_decode_push_corrupted_bodies_raise_only_domain_errors() -> None:
    # bad input: every truncation and many byte flips of valid protobuf, snappy, JSON and gzip bodies
    request = pb.PushRequest(
        streams=[pb.StreamAdapter(labels='{job="api", msg="q\\"x"}', entries=[_entry(T0, b"line", {"k": "v"})])]
    )
    raw = request.SerializeToString()
    push = {"streams": [{"stream": {"job": "api"}, "values": [[str(T0), "line", {"k": "v"}]]}]}
    text = json.dumps(push).encode()
    cases = [(body, PROTOBUF, None) for body in _mutations(bytes(cramjam.snappy.compress_raw(raw)))]
    cases += [(bytes(cramjam.snappy.compress_raw(body)), PROTOBUF, None) for body in _mutations(raw)]
    cases += [(body, "application/json", None) for body in _mutations(text)]
    cases += [(body, "application/json", "gzip") for body in _mutations(gzip.compress(text))]
    for body, content_type, encoding in cases:
        try:
            records = decode_push(body, content_type, encoding)
        except DomainError:
            continue
        assert isinstance(records, list)
