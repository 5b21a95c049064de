"""Prometheus remote write 1.0 (``prometheus.WriteRequest``) → one record per sample.

The body is a snappy block-compressed protobuf ``WriteRequest`` (schema vendored in
``molesignal/ingest/proto/prometheus_remote.proto``).

Headers, and how strict we are about them:

* ``Content-Type`` must be ``application/x-protobuf``, optionally with
  ``proto=prometheus.WriteRequest``; any other type, or another ``proto=`` (remote write 2.0's
  ``io.prometheus.write.v2.Request``), is UnsupportedMediaType. An absent Content-Type is taken
  as remote write 1.0, as Prometheus' own receiver does.
* ``Content-Encoding: snappy`` (what Prometheus, Agent, Alloy, vmagent and OTel send): the body
  must be snappy; if it is not, the request is Invalid. We never guess past an explicit header.
* ``Content-Encoding`` absent (or ``identity``): the body is tried as snappy first (Prometheus'
  own receiver assumes snappy here) and, only if that fails to give a WriteRequest, as
  uncompressed protobuf, for hand-rolled clients that skip compression.
* Any other coding (gzip, zstd, ...) is UnsupportedMediaType.

Records:

* Float samples: ``{"_timestamp": <int ms>, "metric": <__name__>, "value": <float>, **labels}``.
  A series without ``__name__`` is kept with ``metric == ""``. Labels with an empty value are
  dropped (in Prometheus an empty label value is the same as no label).
* Labels that would overwrite a field of ours (``metric``, ``value``, ``value_special``,
  ``_timestamp``, ``histogram_*``) are renamed ``label_<name>``.
* Staleness markers (the NaN with bit pattern ``0x7ff0000000000002``) are skipped: they mean
  "series ended", not a value. Any other NaN and ±Inf, which JSON cannot carry, are stored as
  ``"value": None`` with ``"value_special": "NaN" | "+Inf" | "-Inf"``.
* Native histograms: one record per histogram with ``histogram_count``, ``histogram_sum``,
  ``histogram_schema`` and ``histogram_zero_count`` (and ``metric``, ``_timestamp``, labels);
  a non-finite sum is None plus ``histogram_sum_special``. Buckets (spans, deltas, counts,
  custom values) are NOT stored yet. Stale histograms (sum is the staleness NaN) are skipped.
* Exemplars and metric metadata (``WriteRequest.metadata``: type, help, unit) are ignored.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

from molesignal.errors import Invalid, UnsupportedMediaType
from molesignal.ingest.decoders._common import (
    MAX_DECOMPRESSED_BYTES,
    content_coding,
    media_type,
    require_body,
    snappy_block,
)

if TYPE_CHECKING:
    from molesignal.ingest.proto.prometheus_remote_pb2 import Histogram, WriteRequest

PROTOBUF = "application/x-protobuf"
WRITE_REQUEST_V1 = "prometheus.WriteRequest"
STALE_NAN_BITS = 0x7FF0000000000002
_STALE_NAN_BYTES = struct.pack("<Q", STALE_NAN_BITS)
_DOUBLE = struct.Struct("<d")
_RESERVED = frozenset(
    {
        "_timestamp",
        "metric",
        "value",
        "value_special",
        "histogram_count",
        "histogram_sum",
        "histogram_sum_special",
        "histogram_schema",
        "histogram_zero_count",
    }
)


def is_stale_nan(value: float) -> bool:
    """True for Prometheus' staleness marker, a NaN with one specific bit pattern."""
    return math.isnan(value) and _DOUBLE.pack(value) == _STALE_NAN_BYTES


def _special(value: float) -> str | None:
    """Which value JSON cannot carry this is ("NaN", "+Inf" or "-Inf"), or None if it is finite."""
    if math.isfinite(value):
        return None
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def decode_remote_write(
    body: bytes,
    content_type: str,
    content_encoding: str | None,
    *,
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES,
) -> list[dict[str, Any]]:
    """Decode a remote-write 1.0 body into records; Invalid / UnsupportedMediaType / PayloadTooLarge on bad input."""
    kind, params = media_type(content_type)
    if kind not in (PROTOBUF, ""):
        raise UnsupportedMediaType(
            "unsupported media type: Prometheus remote write takes application/x-protobuf",
            code="unsupported_media_type",
        )
    proto = params.get("proto", WRITE_REQUEST_V1)
    if proto != WRITE_REQUEST_V1:
        raise UnsupportedMediaType(
            f"unsupported media type: remote write message proto={proto} is not supported; "
            f"send remote write 1.0 (proto={WRITE_REQUEST_V1})",
            code="unsupported_media_type",
        )
    coding = content_coding(content_encoding)
    if coding not in ("", "snappy"):
        raise UnsupportedMediaType(
            f"unsupported media type: Content-Encoding {content_encoding!r}; Prometheus remote write takes snappy",
            code="unsupported_content_encoding",
        )
    require_body(body)
    if coding == "snappy":
        request = _parse(snappy_block(body, "protobuf", limit=max_decompressed_bytes))
    else:
        request = _parse_unlabelled(body, max_decompressed_bytes)
    return _records(request)


def _parse(data: bytes | bytearray) -> WriteRequest:
    from google.protobuf.message import DecodeError

    from molesignal.ingest.proto.prometheus_remote_pb2 import WriteRequest

    request = WriteRequest()
    try:
        request.ParseFromString(data)
    except (DecodeError, ValueError, TypeError) as exc:
        raise Invalid(
            f"invalid argument: body is not valid snappy-compressed protobuf: not a prometheus.WriteRequest ({exc})",
            code="invalid_protobuf",
        ) from exc
    return request


def _parse_unlabelled(body: bytes, limit: int) -> WriteRequest:
    """No Content-Encoding: snappy if it decodes to a WriteRequest, else uncompressed protobuf."""
    try:
        return _parse(snappy_block(body, "protobuf", limit=limit))
    except Invalid:
        pass
    try:
        return _parse(body)
    except Invalid as exc:
        raise Invalid(
            "invalid argument: body is neither snappy-compressed nor uncompressed prometheus.WriteRequest protobuf",
            code="invalid_protobuf",
        ) from exc


def _histogram_record(histogram: Histogram, name: str) -> dict[str, Any] | None:
    total = histogram.sum
    if is_stale_nan(total):
        return None
    count: float | int | None = (
        histogram.count_float if histogram.WhichOneof("count") == "count_float" else histogram.count_int
    )
    zero_count: float | int | None = (
        histogram.zero_count_float
        if histogram.WhichOneof("zero_count") == "zero_count_float"
        else histogram.zero_count_int
    )
    if isinstance(count, float) and _special(count) is not None:
        count = None  # JSON cannot carry NaN/Inf
    if isinstance(zero_count, float) and _special(zero_count) is not None:
        zero_count = None
    record: dict[str, Any] = {
        "_timestamp": histogram.timestamp,
        "metric": name,
        "histogram_count": count,
        "histogram_sum": total,
        "histogram_schema": histogram.schema,
        "histogram_zero_count": zero_count,
    }
    special = _special(total)
    if special is not None:
        record["histogram_sum"] = None
        record["histogram_sum_special"] = special
    return record


def _records(request: WriteRequest) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    append = records.append
    reserved = _RESERVED
    stale = _STALE_NAN_BYTES
    pack = _DOUBLE.pack
    isfinite, isnan = math.isfinite, math.isnan
    for series in request.timeseries:
        name = ""
        labels: dict[str, str] = {}
        for label in series.labels:
            key, text = label.name, label.value
            if key == "__name__":
                name = text
            elif text:
                labels[f"label_{key}" if key in reserved else key] = text
        for sample in series.samples:
            value = sample.value
            if isfinite(value):
                record: dict[str, Any] = {"_timestamp": sample.timestamp, "metric": name, "value": value}
            elif pack(value) == stale:
                continue  # staleness marker: the series ended, no value
            else:
                record = {
                    "_timestamp": sample.timestamp,
                    "metric": name,
                    "value": None,
                    "value_special": "NaN" if isnan(value) else ("+Inf" if value > 0 else "-Inf"),
                }
            record.update(labels)
            append(record)
        for histogram in series.histograms:
            histogram_record = _histogram_record(histogram, name)
            if histogram_record is not None:
                histogram_record.update(labels)
                append(histogram_record)
    return records
