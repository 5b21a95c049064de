"""Helpers shared by the decoders, and the promise that importing them stays cheap."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zlib

import pytest

from molesignal.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from molesignal.ingest.decoders._common import content_coding, gunzip, inflate, media_type


def test_media_type_lowercases_the_type_and_parses_parameters() -> None:
    assert media_type(None) == ("", {})
    assert media_type("") == ("", {})
    assert media_type("Application/JSON") == ("application/json", {})
    assert media_type('application/x-protobuf; Proto="prometheus.WriteRequest" ;charset=UTF-8') == (
        "application/x-protobuf",
        {"proto": "prometheus.WriteRequest", "charset": "UTF-8"},
    )


def test_content_coding_normalises_and_refuses_stacked_codings() -> None:
    assert content_coding(None) == ""
    assert content_coding(" Identity ") == ""
    assert content_coding("GZIP") == "gzip"
    # bad input: two stacked codings
    with pytest.raises(UnsupportedMediaType):
        content_coding("gzip, snappy")


def test_gunzip_reads_concatenated_members_and_enforces_the_limit() -> None:
    assert gunzip(gzip.compress(b"abc") + gzip.compress(b"def")) == b"abcdef"
    # bad input: 10 KiB of output against a 1 KiB limit
    with pytest.raises(PayloadTooLarge):
        gunzip(gzip.compress(b"x" * 10_240), limit=1024)
    assert gunzip(gzip.compress(b"x" * 1024), limit=1024) == b"x" * 1024


def test_gunzip_truncated_or_garbage_is_invalid() -> None:
    # bad input: a gzip stream cut in half, then bytes that are not gzip at all
    body = gzip.compress(b"hello world" * 100)
    for bad in (body[: len(body) // 2], b"not gzip at all"):
        with pytest.raises(Invalid) as caught:
            gunzip(bad)
        assert caught.value.message.startswith("invalid argument: body is not valid gzip")


def test_inflate_accepts_zlib_and_raw_deflate() -> None:
    raw = zlib.compressobj(wbits=-15)
    raw_deflate = raw.compress(b"payload") + raw.flush()
    assert inflate(zlib.compress(b"payload")) == b"payload"
    assert inflate(raw_deflate) == b"payload"
    # bad input: bytes that are neither zlib nor raw deflate
    with pytest.raises(Invalid):
        inflate(b"\xff\xff\xff\xff")


def test_importing_the_decoders_does_not_import_protobuf_or_cramjam() -> None:
    code = (
        "import sys\n"
        "import molesignal.ingest.decoders, molesignal.ingest.decoders.es_bulk\n"
        "import molesignal.ingest.decoders.loki, molesignal.ingest.decoders.prometheus\n"
        "heavy = [m for m in ('google.protobuf', 'cramjam') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("implementation", ["upb", "python"])
def test_generated_modules_coexist_with_another_prompb_copy(implementation: str) -> None:
    # prometheus-remote-writer registers `prometheus.*` in the default descriptor pool; our vendored
    # copy lives in its own proto package, so both load in one process, with either protobuf backend.
    pytest.importorskip("prometheus_remote_writer")
    code = (
        "import cramjam, prometheus_remote_writer\n"
        "from google.protobuf.internal import api_implementation\n"
        "from prometheus_remote_writer.proto.remote_pb2 import WriteRequest\n"
        "from molesignal.ingest.decoders.loki import decode_push\n"
        "from molesignal.ingest.decoders.prometheus import decode_remote_write\n"
        "from molesignal.ingest.proto import loki_push_pb2\n"
        "r = WriteRequest()\n"
        "s = r.timeseries.add()\n"
        "s.labels.add(name='__name__', value='up')\n"
        "s.samples.add(value=1.0, timestamp=5)\n"
        "body = bytes(cramjam.snappy.compress_raw(r.SerializeToString()))\n"
        "assert decode_remote_write(body, 'application/x-protobuf', 'snappy') == "
        "[{'_timestamp': 5, 'metric': 'up', 'value': 1.0}]\n"
        "p = loki_push_pb2.PushRequest()\n"
        "p.streams.add(labels='{a=\"b\"}').entries.add(line=b'x')\n"
        "body = bytes(cramjam.snappy.compress_raw(p.SerializeToString()))\n"
        "assert decode_push(body, 'application/x-protobuf', None) == [{'_timestamp': 0, 'message': 'x', 'a': 'b'}]\n"
        "print(api_implementation.Type())\n"
    )
    env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": implementation}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == implementation
