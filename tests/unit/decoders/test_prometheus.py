"""Prometheus remote write 1.0 decoding, with requests built by our generated classes and,
independently, by prometheus-remote-writer (its own protobuf classes and python-snappy)."""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any

import cramjam
import pytest

from molesignal.errors import DomainError, Invalid, PayloadTooLarge, UnsupportedMediaType
from molesignal.ingest.decoders.prometheus import STALE_NAN_BITS, decode_remote_write, is_stale_nan
from molesignal.ingest.proto import prometheus_remote_pb2 as pb

PROTOBUF = "application/x-protobuf"
T0 = 1_700_000_000_123  # ms
STALE_NAN = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def _series(labels: dict[str, str], samples: list[tuple[float, int]]) -> pb.TimeSeries:
    return pb.TimeSeries(
        labels=[pb.Label(name=k, value=v) for k, v in labels.items()],
        samples=[pb.Sample(value=v, timestamp=t) for v, t in samples],
    )


def _snappy(request: Any) -> bytes:
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def _decode(body: bytes, encoding: str | None = "snappy") -> list[dict[str, Any]]:
    return decode_remote_write(body, PROTOBUF, encoding)


# ---- happy paths -----------------------------------------------------------------------------


def test_decode_remote_write_multiple_series_and_samples() -> None:
    request = pb.WriteRequest(
        timeseries=[
            _series({"__name__": "http_requests_total", "job": "api", "code": "200"}, [(10, T0), (12.5, T0 + 15_000)]),
            _series({"__name__": "up", "job": "node", "instance": "h1:9100"}, [(1, T0)]),
        ]
    )
    assert _decode(_snappy(request)) == [
        {"_timestamp": T0, "metric": "http_requests_total", "value": 10.0, "job": "api", "code": "200"},
        {"_timestamp": T0 + 15_000, "metric": "http_requests_total", "value": 12.5, "job": "api", "code": "200"},
        {"_timestamp": T0, "metric": "up", "value": 1.0, "job": "node", "instance": "h1:9100"},
    ]


def test_decode_remote_write_content_type_with_proto_parameter() -> None:
    body = _snappy(pb.WriteRequest(timeseries=[_series({"__name__": "up"}, [(1, T0)])]))
    for content_type in (
        "application/x-protobuf;proto=prometheus.WriteRequest",
        'Application/X-Protobuf; proto="prometheus.WriteRequest"',
        "",  # no Content-Type: remote write 1.0, as Prometheus' own receiver assumes
    ):
        assert decode_remote_write(body, content_type, "snappy") == [{"_timestamp": T0, "metric": "up", "value": 1.0}]


def test_decode_remote_write_renames_reserved_labels_drops_empty_ones_and_keeps_nameless_series() -> None:
    request = pb.WriteRequest(
        timeseries=[
            _series({"metric": "m", "value": "v", "_timestamp": "t", "value_special": "s", "empty": ""}, [(3, T0)]),
        ]
    )
    assert _decode(_snappy(request)) == [
        {
            "_timestamp": T0,
            "metric": "",
            "value": 3.0,
            "label_metric": "m",
            "label_value": "v",
            "label__timestamp": "t",
            "label_value_special": "s",
        }
    ]


def test_decode_remote_write_skips_staleness_markers() -> None:
    assert is_stale_nan(STALE_NAN)
    assert not is_stale_nan(math.nan)
    request = pb.WriteRequest(timeseries=[_series({"__name__": "up"}, [(1, T0), (STALE_NAN, T0 + 1), (0, T0 + 2)])])
    records = _decode(_snappy(request))
    assert [(r["_timestamp"], r["value"]) for r in records] == [(T0, 1.0), (T0 + 2, 0.0)]


def test_decode_remote_write_nan_and_infinities_become_none_with_value_special() -> None:
    request = pb.WriteRequest(
        timeseries=[_series({"__name__": "g"}, [(math.nan, T0), (math.inf, T0 + 1), (-math.inf, T0 + 2), (-0.0, 3)])]
    )
    records = _decode(_snappy(request))
    assert [(r["value"], r.get("value_special")) for r in records] == [
        (None, "NaN"),
        (None, "+Inf"),
        (None, "-Inf"),
        (-0.0, None),
    ]


def test_decode_remote_write_native_histograms_integer_and_float() -> None:
    integer = pb.Histogram(
        count_int=12,
        sum=34.5,
        schema=3,
        zero_threshold=1e-128,
        zero_count_int=2,
        positive_spans=[pb.BucketSpan(offset=0, length=2)],
        positive_deltas=[4, 2],
        timestamp=T0,
    )
    floating = pb.Histogram(count_float=7.5, sum=math.inf, schema=-2, zero_count_float=0.5, timestamp=T0 + 1)
    stale = pb.Histogram(count_int=0, sum=STALE_NAN, timestamp=T0 + 2)
    series = pb.TimeSeries(
        labels=[pb.Label(name="__name__", value="rpc_seconds"), pb.Label(name="job", value="api")],
        histograms=[integer, floating, stale],
    )
    assert _decode(_snappy(pb.WriteRequest(timeseries=[series]))) == [
        {
            "_timestamp": T0,
            "metric": "rpc_seconds",
            "histogram_count": 12,
            "histogram_sum": 34.5,
            "histogram_schema": 3,
            "histogram_zero_count": 2,
            "job": "api",
        },
        {
            "_timestamp": T0 + 1,
            "metric": "rpc_seconds",
            "histogram_count": 7.5,
            "histogram_sum": None,
            "histogram_sum_special": "+Inf",
            "histogram_schema": -2,
            "histogram_zero_count": 0.5,
            "job": "api",
        },
    ]


def test_decode_remote_write_ignores_exemplars_and_metadata() -> None:
    series = _series({"__name__": "c_total"}, [(5, T0)])
    series.exemplars.add(labels=[pb.Label(name="trace_id", value="abc")], value=1.0, timestamp=T0)
    request = pb.WriteRequest(
        timeseries=[series],
        metadata=[pb.MetricMetadata(type=pb.MetricMetadata.COUNTER, metric_family_name="c_total", help="h")],
    )
    assert _decode(_snappy(request)) == [{"_timestamp": T0, "metric": "c_total", "value": 5.0}]


def test_decode_remote_write_empty_request_gives_no_records() -> None:
    assert _decode(_snappy(pb.WriteRequest())) == []


# ---- wire compatibility with an independent implementation ------------------------------------


def test_decode_remote_write_reads_prometheus_remote_writer_protobuf_classes() -> None:
    remote_pb2 = pytest.importorskip("prometheus_remote_writer.proto.remote_pb2")
    types_pb2 = pytest.importorskip("prometheus_remote_writer.proto.types_pb2")
    request = remote_pb2.WriteRequest()
    series = request.timeseries.add()
    series.labels.add(name="__name__", value="temperature_celsius")
    series.labels.add(name="room", value='küche "north"')
    series.samples.add(value=21.5, timestamp=T0)
    series.samples.add(value=STALE_NAN, timestamp=T0 + 1)
    series.histograms.append(types_pb2.Histogram(count_int=3, sum=1.5, schema=0, zero_count_int=1, timestamp=T0 + 2))
    request.metadata.add(type=types_pb2.MetricMetadata.GAUGE, metric_family_name="temperature_celsius")

    records = _decode(_snappy(request))

    assert records == [
        {"_timestamp": T0, "metric": "temperature_celsius", "value": 21.5, "room": 'küche "north"'},
        {
            "_timestamp": T0 + 2,
            "metric": "temperature_celsius",
            "histogram_count": 3,
            "histogram_sum": 1.5,
            "histogram_schema": 0,
            "histogram_zero_count": 1,
            "room": 'küche "north"',
        },
    ]


def test_decode_remote_write_reads_what_remote_writer_client_posts() -> None:
    client_module = pytest.importorskip("prometheus_remote_writer")
    sent: list[tuple[dict[str, str], bytes]] = []

    class Response:
        status_code = 204

        def raise_for_status(self) -> None:
            pass

    class Session:
        def post(self, url: str, headers: dict[str, str], data: bytes, **_: Any) -> Response:
            sent.append((dict(headers), data))
            return Response()

        def close(self) -> None:
            pass

    writer = client_module.RemoteWriter("http://prom.invalid/api/v1/write", session=Session())
    writer.send(
        [
            {"metric": {"__name__": "queue_depth", "queue": "emails"}, "values": [3, 4], "timestamps": [T0, T0 + 1000]},
            {"metric": {"__name__": "workers", "pool": "a"}, "values": [2.0], "timestamps": [T0]},
        ]
    )
    ((headers, body),) = sent

    records = decode_remote_write(body, headers["Content-Type"], headers["Content-Encoding"])

    assert records == [
        {"_timestamp": T0, "metric": "queue_depth", "value": 3.0, "queue": "emails"},
        {"_timestamp": T0 + 1000, "metric": "queue_depth", "value": 4.0, "queue": "emails"},
        {"_timestamp": T0, "metric": "workers", "value": 2.0, "pool": "a"},
    ]


# ---- Content-Encoding ------------------------------------------------------------------------


def test_decode_remote_write_without_content_encoding_takes_snappy_or_raw_protobuf() -> None:
    request = pb.WriteRequest(timeseries=[_series({"__name__": "up"}, [(1, T0)])])
    expected = [{"_timestamp": T0, "metric": "up", "value": 1.0}]
    assert _decode(_snappy(request), None) == expected
    assert _decode(request.SerializeToString(), None) == expected
    assert _decode(request.SerializeToString(), "identity") == expected


def test_decode_remote_write_snappy_header_with_uncompressed_body_is_invalid() -> None:
    # bad input: Content-Encoding says snappy but the body is uncompressed protobuf
    request = pb.WriteRequest(timeseries=[_series({"__name__": "up", "job": "x" * 40}, [(1, T0)])])
    with pytest.raises(Invalid) as caught:
        _decode(request.SerializeToString(), "snappy")
    assert caught.value.message.startswith("invalid argument: body is not valid snappy-compressed protobuf")


@pytest.mark.parametrize("encoding", ["gzip", "zstd", "deflate", "gzip, snappy"])
def test_decode_remote_write_other_content_encoding_is_unsupported(encoding: str) -> None:
    # bad input: a Content-Encoding other than snappy
    with pytest.raises(UnsupportedMediaType):
        _decode(b"\x00", encoding)


# ---- bad bodies ------------------------------------------------------------------------------


def test_decode_remote_write_truncated_snappy_is_invalid() -> None:
    # bad input: a valid snappy body with its last 4 bytes cut off
    request = pb.WriteRequest(timeseries=[_series({"__name__": "up", "job": "j" * 50}, [(1, T0)] * 5)])
    with pytest.raises(Invalid) as caught:
        _decode(_snappy(request)[:-4])
    assert caught.value.message.startswith("invalid argument: body is not valid snappy-compressed protobuf")
    assert caught.value.code == "invalid_snappy"


def test_decode_remote_write_random_bytes_as_protobuf_are_invalid() -> None:
    # bad input: 512 pseudo-random bytes, correctly snappy-compressed, that are not a WriteRequest
    garbage = b"\x0f" + hashlib.shake_256(b"seed 42").digest(511)  # field 1 / wire type 7 first: never valid protobuf
    with pytest.raises(Invalid) as caught:
        _decode(bytes(cramjam.snappy.compress_raw(garbage)))
    assert caught.value.code == "invalid_protobuf"
    assert "prometheus.WriteRequest" in caught.value.message


def test_decode_remote_write_random_bytes_without_encoding_are_invalid() -> None:
    # bad input: pseudo-random bytes, no Content-Encoding: neither snappy nor protobuf
    with pytest.raises(Invalid) as caught:
        _decode(b"\x0f" + hashlib.shake_256(b"seed 1").digest(100), None)
    assert "neither snappy-compressed nor uncompressed" in caught.value.message


def test_decode_remote_write_invalid_utf8_label_is_invalid() -> None:
    # bad input: a label value holding the bytes 0xff 0xfe (proto3 strings must be UTF-8)
    raw = pb.WriteRequest(timeseries=[_series({"job": "AB"}, [])]).SerializeToString().replace(b"AB", b"\xff\xfe")
    with pytest.raises(Invalid):
        _decode(bytes(cramjam.snappy.compress_raw(raw)))


def test_decode_remote_write_empty_body_is_invalid() -> None:
    # bad input: an empty body
    with pytest.raises(Invalid) as caught:
        _decode(b"")
    assert caught.value.message == "invalid argument: request body is required"


def test_decode_remote_write_snappy_length_over_the_limit_is_payload_too_large() -> None:
    # bad input: a 4-byte body whose snappy header claims 4 GiB - 1 of output
    with pytest.raises(PayloadTooLarge):
        _decode(b"\xff\xff\xff\xff\x0f\x00")


# ---- media types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",  # remote write 2.0
    ],
)
def test_decode_remote_write_wrong_content_type_is_unsupported(content_type: str) -> None:
    # bad input: a Content-Type other than remote write 1.0 protobuf
    body = _snappy(pb.WriteRequest(timeseries=[_series({"__name__": "up"}, [(1, T0)])]))
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_remote_write(body, content_type, "snappy")
    assert caught.value.message.startswith("unsupported media type:")


def _mutations(data: bytes) -> list[bytes]:
    """Every truncation of ``data`` and 256 deterministic single-byte corruptions."""
    noise = hashlib.shake_256(data).digest(512)
    flips = []
    for k in range(256):
        at = int.from_bytes(noise[2 * k : 2 * k + 2], "big") % len(data)
        flips.append(data[:at] + bytes([data[at] ^ (noise[k] | 1)]) + data[at + 1 :])
    return [data[:cut] for cut in range(len(data))] + flips


def test_decode_remote_write_corrupted_bodies_raise_only_domain_errors() -> None:
    # bad input: every truncation and many byte flips of a valid body, before and after compression
    series = _series({"__name__": "m", "job": "api"}, [(1.5, T0), (math.nan, T0 + 1)])
    series.histograms.add(count_int=3, sum=2.0, schema=1, zero_count_int=1, timestamp=T0)
    raw = pb.WriteRequest(timeseries=[series]).SerializeToString()
    bodies = [(body, "snappy") for body in _mutations(bytes(cramjam.snappy.compress_raw(raw)))]
    bodies += [(bytes(cramjam.snappy.compress_raw(body)), "snappy") for body in _mutations(raw)]
    bodies += [(body, None) for body in _mutations(raw)]
    for body, encoding in bodies:
        try:
            records = _decode(body, encoding)
        except DomainError:
            continue
        assert isinstance(records, list)
