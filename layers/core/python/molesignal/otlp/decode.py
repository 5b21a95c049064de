"""OTLP/HTTP request bodies → the official ``Export{Logs,Metrics,Trace}ServiceRequest`` messages.

The classes come from ``opentelemetry-proto`` (the OpenTelemetry project's generated code);
they are imported when a request is decoded, never when this module is imported.

Media types (``Content-Type``, parameters such as ``charset`` ignored):

* ``application/x-protobuf`` (also ``application/protobuf``): the binary protobuf encoding,
  what the SDKs send for ``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf``. Callers that must
  refuse it (spec 002 admits OTLP/JSON only) pass ``allow_protobuf=False``.
* ``application/json``: OTLP/JSON, the protobuf JSON mapping with OTLP's deviations
  (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). Field names are
  lowerCamelCase, and the original snake_case names are accepted too, as receivers must;
  ``traceId``/``spanId``/``parentSpanId`` (on spans, links, log records and exemplars) are
  hex, not base64 — they are turned into bytes before the mapping is applied, and base64 ids
  (sent by exporters that use the plain protobuf mapping) are accepted where they are not
  valid hex; enums are integers or their names; 64-bit integers are decimal strings or
  numbers; unknown fields are ignored, as the spec requires.
* Anything else, or no ``Content-Type`` at all: :class:`~molesignal.errors.UnsupportedMediaType`.

``Content-Encoding`` may be absent/``identity``, ``gzip`` (what the SDKs and the Collector
send) or ``deflate``; the decompressed body is capped (64 MiB by default, then
:class:`~molesignal.errors.PayloadTooLarge`). Other codings are unsupported media types.

Failures:

* A body that is not protobuf, not JSON, not a JSON object, or whose envelope (the
  ``resource*``/``scope*`` arrays and objects) does not follow the schema: one
  :class:`~molesignal.errors.Invalid` for the request (HTTP 400).
* In OTLP/JSON, a single record (a log record, a span, or a metric with all its data points)
  that does not follow the schema does not fail the request: it is decoded as an *empty*
  record, which :mod:`molesignal.otlp.flatten` skips and counts, so "individually malformed
  records are skipped, never fatal" holds end to end. An id that is neither hex nor base64
  becomes a 1-byte id, which flatten treats as malformed (a span is skipped; a log record is
  kept without the id). Protobuf has no such granularity: its wire format either parses or
  does not.

OTLP/JSON is decoded by a schema-driven walk that turns the JSON into constructor arguments
for the generated classes (tables built from the message descriptors, a shortcut for scalar
attributes), about ten times faster than ``json_format.ParseDict``; ``ParseDict``, one record
at a time, stays as the fallback and as the reference the tests compare the walk against.

An empty body (before or after decompression) is a valid, empty request in both encodings:
zero bytes are the protobuf encoding of an empty message, and an exporter's empty export is
answered with zero counts rather than an error it would log (400 is not retried by OTLP
exporters, so nothing is gained by refusing it).
"""

from __future__ import annotations

import base64
import binascii
import copy
import importlib
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

import orjson

from molesignal.errors import Invalid, UnsupportedMediaType
from molesignal.ingest.decoders._common import MAX_DECOMPRESSED_BYTES, content_coding, gunzip, inflate, media_type

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

Signal = Literal["logs", "metrics", "traces"]
SIGNALS: tuple[Signal, ...] = ("logs", "metrics", "traces")

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
PROTOBUF_TYPES = frozenset({PROTOBUF, "application/protobuf"})
_UNSUPPORTED = "unsupported media type: OTLP/HTTP takes application/x-protobuf or application/json"
_JSON_ONLY = (
    "unsupported media type: this receiver takes OTLP/JSON only (Content-Type: application/json); "
    "set OTEL_EXPORTER_OTLP_PROTOCOL=http/json"
)

# Module and class of each signal's request, and the JSON names (camelCase, snake_case) of the
# three levels of its envelope: resource blocks, scope blocks, records.
_REQUESTS: dict[str, tuple[str, str]] = {
    "logs": ("opentelemetry.proto.collector.logs.v1.logs_service_pb2", "ExportLogsServiceRequest"),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2", "ExportMetricsServiceRequest"),
    "traces": ("opentelemetry.proto.collector.trace.v1.trace_service_pb2", "ExportTraceServiceRequest"),
}
_LEVELS: dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str]]] = {
    "logs": (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records")),
    "metrics": (("resourceMetrics", "resource_metrics"), ("scopeMetrics", "scope_metrics"), ("metrics", "metrics")),
    "traces": (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans", "spans")),
}

_HEX = frozenset(string.hexdigits)
_INVALID_ID = b"\x00"  # 1 byte: never a valid trace (16) or span (8) id
_TRACE_SPAN = ("traceId", "trace_id", "spanId", "span_id")
_SPAN_IDS = (*_TRACE_SPAN, "parentSpanId", "parent_span_id")
_POINT_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram")


def is_protobuf(content_type: str | None) -> bool:
    """Whether a request body is (declared as) OTLP protobuf, so its answer must be protobuf too."""
    return media_type(content_type)[0] in PROTOBUF_TYPES


@overload
def decode_request(
    signal: Literal["logs"],
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    allow_protobuf: bool = ...,
    max_decompressed_bytes: int = ...,
) -> ExportLogsServiceRequest: ...


@overload
def decode_request(
    signal: Literal["metrics"],
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    allow_protobuf: bool = ...,
    max_decompressed_bytes: int = ...,
) -> ExportMetricsServiceRequest: ...


@overload
def decode_request(
    signal: Literal["traces"],
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    allow_protobuf: bool = ...,
    max_decompressed_bytes: int = ...,
) -> ExportTraceServiceRequest: ...


def decode_request(
    signal: Signal,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    allow_protobuf: bool = True,
    max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES,
) -> Message:
    """Decode one OTLP/HTTP export body; Invalid / UnsupportedMediaType / PayloadTooLarge on bad input."""
    if signal not in _REQUESTS:
        raise ValueError(f"unknown OTLP signal {signal!r}; expected one of {SIGNALS}")
    kind, _ = media_type(content_type)
    if kind in PROTOBUF_TYPES:
        if not allow_protobuf:
            raise UnsupportedMediaType(_JSON_ONLY, code="unsupported_media_type")
    elif kind != JSON:
        raise UnsupportedMediaType(_JSON_ONLY if not allow_protobuf else _UNSUPPORTED, code="unsupported_media_type")
    coding = content_coding(content_encoding)
    if coding not in ("", "gzip", "deflate"):
        raise UnsupportedMediaType(
            f"unsupported media type: Content-Encoding {content_encoding!r}; OTLP/HTTP takes gzip or deflate",
            code="unsupported_content_encoding",
        )
    data = body
    if body and coding == "gzip":
        data = gunzip(body, limit=max_decompressed_bytes)
    elif body and coding == "deflate":
        data = inflate(body, limit=max_decompressed_bytes)
    request_class = request_type(signal)
    if not data:
        return request_class()
    if kind == JSON:
        return _decode_json(signal, request_class, data)
    return _decode_protobuf(signal, request_class, data)


def request_type(signal: Signal) -> type[Message]:
    """The generated request class of ``signal`` (imports opentelemetry-proto on first use)."""
    module_name, class_name = _REQUESTS[signal]
    cls: type[Message] = getattr(importlib.import_module(module_name), class_name)
    return cls


# ---- protobuf --------------------------------------------------------------------------------


def _decode_protobuf(signal: str, request_class: type[Message], data: bytes) -> Message:
    from google.protobuf.message import DecodeError

    request = request_class()
    try:
        request.ParseFromString(data)
    except (DecodeError, ValueError, TypeError, RecursionError) as exc:
        name = _REQUESTS[signal][1]
        raise Invalid(
            f"invalid argument: body is not a valid OTLP {name} protobuf ({exc})", code="invalid_protobuf"
        ) from exc
    return request


# ---- OTLP/JSON -------------------------------------------------------------------------------


def _decode_json(signal: str, request_class: type[Message], data: bytes) -> Message:
    try:
        document = orjson.loads(data)
    except ValueError as exc:  # orjson.JSONDecodeError, also for invalid UTF-8
        raise Invalid(f"invalid argument: body is not valid JSON ({exc})", code="invalid_json") from exc
    if not isinstance(document, dict):
        raise _bad(f"body must be a JSON object, not {_json_type(document)}")
    try:
        return _json_fast(signal, request_class, document)
    except _FastPathFailed:
        return _json_reference(signal, request_class, document)


class _FastPathFailed(Exception):
    """The converted request did not construct; decode again the slow, per-record way."""


_CONVERSION_ERRORS = (ValueError, TypeError, OverflowError, RecursionError)


def _json_fast(signal: str, request_class: type[Message], document: dict[str, Any]) -> Message:
    """OTLP/JSON → protobuf by converting the JSON into constructor arguments, built in one call.

    A schema-driven walk (tables from the message descriptors) does what ``json_format`` does,
    several times faster: upb builds the nested messages from plain dicts in C.
    """
    resource_keys, scope_keys, record_keys = _LEVELS[signal]
    resource_d = request_class.DESCRIPTOR.fields_by_name[resource_keys[1]].message_type
    scope_d = resource_d.fields_by_name[scope_keys[1]].message_type
    convert_record = _message_converter(scope_d.fields_by_name[record_keys[1]].message_type)
    resources: list[dict[str, Any]] = []
    for r, resource_json in enumerate(_array(document, resource_keys, "")):
        where_r = f"{resource_keys[0]}[{r}]"
        resource = _envelope(resource_json, scope_keys, resource_d, where_r)
        scopes: list[dict[str, Any]] = []
        for s, scope_json in enumerate(_array(resource_json, scope_keys, where_r + ".")):
            where_s = f"{where_r}.{scope_keys[0]}[{s}]"
            scope = _envelope(scope_json, record_keys, scope_d, where_s)
            records: list[dict[str, Any]] = []
            append = records.append
            for record_json in _array(scope_json, record_keys, where_s + "."):
                try:
                    append(convert_record(record_json, 3))
                except _CONVERSION_ERRORS:
                    append({})  # empty: flatten skips and counts it
            scope[record_keys[1]] = records
            scopes.append(scope)
        resource[scope_keys[1]] = scopes
        resources.append(resource)
    try:
        return request_class(**{resource_keys[1]: resources})
    except (ValueError, TypeError, RecursionError) as exc:  # not expected: the walk checks what upb checks
        raise _FastPathFailed from exc


def _envelope(obj: Any, nested: tuple[str, str], descriptor: Any, where: str) -> dict[str, Any]:
    """A resource or scope block without its nested array (walked separately)."""
    if not isinstance(obj, dict):
        raise _bad(f"{where} must be an object, not {_json_type(obj)}")
    envelope = {key: value for key, value in obj.items() if key not in nested}
    try:
        converted: dict[str, Any] = _message_converter(descriptor)(envelope, 2)
    except _CONVERSION_ERRORS as exc:
        raise _bad(f"{where} is not valid OTLP/JSON ({exc})") from exc
    return converted


# Schema-driven converters: JSON value → the value a generated class's constructor takes.
_Converter = Callable[[Any, int], Any]
_MAX_DEPTH = 100  # message nesting, as json_format and upb's decoder allow
_CONVERTERS: dict[str, _Converter] = {}
_ID_FIELDS = frozenset({"trace_id", "span_id", "parent_span_id"})
_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def _message_converter(descriptor: Any) -> _Converter:
    found = _CONVERTERS.get(descriptor.full_name)
    if found is not None:
        return found
    table: dict[str, tuple[str, _Converter]] = {}

    def convert(value: Any, depth: int) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {descriptor.name}, got {_json_type(value)}")
        if depth > _MAX_DEPTH:
            raise ValueError("message nesting is too deep")
        out: dict[str, Any] = {}
        for key, item in value.items():
            entry = table.get(key)
            if entry is not None and item is not None:  # unknown fields are ignored; null means default
                out[entry[0]] = entry[1](item, depth + 1)
        return out

    _CONVERTERS[descriptor.full_name] = convert  # before the fields: AnyValue nests itself
    for fd in descriptor.fields:
        converter = _field_converter(fd)
        table[fd.name] = table[fd.json_name] = (fd.name, converter)
    return convert


def _field_converter(fd: Any) -> _Converter:
    from google.protobuf.descriptor import FieldDescriptor as F

    kind = fd.type
    single: _Converter
    if kind == F.TYPE_MESSAGE:
        single = _message_converter(fd.message_type)
    elif kind == F.TYPE_BYTES:
        single = _id_value if fd.name in _ID_FIELDS else _bytes_value
    elif kind == F.TYPE_STRING:
        single = _string_value
    elif kind == F.TYPE_BOOL:
        single = _bool_value
    elif kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        single = _float_value
    elif kind == F.TYPE_ENUM:
        single = _enum_converter(fd.enum_type)
    else:
        single = _int_converter(_int_range(kind))
    if not fd.is_repeated:
        return single
    if kind == F.TYPE_MESSAGE and fd.message_type.full_name == _KEY_VALUE:
        return _attributes_converter(single)

    def repeated(value: Any, depth: int) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError(f"{fd.json_name} must be an array")
        return [single(item, depth) for item in value]

    return repeated


_KEY_VALUE = "opentelemetry.proto.common.v1.KeyValue"
_INT64 = _INT_RANGES["int64"]


def _attributes_converter(key_value: _Converter) -> _Converter:
    """Repeated KeyValue (most of an OTLP payload) with a shortcut for scalar values.

    ``{"key": k, "value": {"stringValue" | "boolValue" | "intValue" | "doubleValue": v}}`` is
    converted inline; anything else goes through the generic converter, so results are the same.
    """

    def convert(value: Any, depth: int) -> list[Any]:
        if not isinstance(value, list):
            raise TypeError("attributes must be an array")
        out: list[Any] = []
        append = out.append
        for kv in value:
            if type(kv) is dict and len(kv) == 2:
                key, item = kv.get("key"), kv.get("value")
                if type(key) is str and type(item) is dict and len(item) == 1:
                    ((name, scalar),) = item.items()
                    converted = _scalar_any_value(name, scalar)
                    if converted is not None:
                        append({"key": key, "value": converted})
                        continue
            append(key_value(kv, depth))
        return out

    return convert


_SCALAR_FIELDS = {
    "stringValue": "string_value",
    "string_value": "string_value",
    "boolValue": "bool_value",
    "bool_value": "bool_value",
    "intValue": "int_value",
    "int_value": "int_value",
    "doubleValue": "double_value",
    "double_value": "double_value",
}


def _scalar_any_value(name: str, scalar: Any) -> dict[str, Any] | None:
    """A scalar AnyValue's constructor form, or None when the generic converter must decide."""
    field = _SCALAR_FIELDS.get(name)
    kind = type(scalar)
    if field == "string_value":
        return {field: scalar} if kind is str else None
    if field == "bool_value":
        return {field: scalar} if kind is bool else None
    if field == "double_value":
        return {field: float(scalar)} if kind is float or kind is int else None
    if field == "int_value":
        if kind is str and len(scalar) < 19 and scalar.isdigit():
            return {field: int(scalar)}
        if kind is int and _INT64[0] <= scalar <= _INT64[1]:
            return {field: scalar}
    return None


def _int_range(kind: int) -> tuple[int, int]:
    from google.protobuf.descriptor import FieldDescriptor as F

    if kind in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return _INT_RANGES["int32"]
    if kind in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return _INT_RANGES["uint32"]
    if kind in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return _INT_RANGES["uint64"]
    return _INT_RANGES["int64"]


def _int_converter(bounds: tuple[int, int]) -> _Converter:
    low, high = bounds

    def convert(value: Any, depth: int) -> int:
        if isinstance(value, bool):
            raise TypeError("a boolean is not an integer")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str):  # 64-bit integers arrive as decimal strings
            try:
                number = int(value)
            except ValueError:
                number = _integral(float(value))
        elif isinstance(value, float):
            number = _integral(value)
        else:
            raise TypeError(f"expected an integer, got {_json_type(value)}")
        if not low <= number <= high:
            raise ValueError(f"integer {number} is out of range")
        return number

    return convert


def _integral(value: float) -> int:
    if not value.is_integer():
        raise ValueError(f"{value} is not an integer")
    return int(value)


def _float_value(value: Any, depth: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a number, got {_json_type(value)}")
    return float(value)  # also "NaN", "Infinity", "-Infinity"


def _string_value(value: Any, depth: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_json_type(value)}")
    return value


def _bool_value(value: Any, depth: int) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {_json_type(value)}")
    return value


def _enum_converter(enum: Any) -> _Converter:
    numbers: dict[str, int] = {name: value.number for name, value in enum.values_by_name.items()}
    low, high = _INT_RANGES["int32"]

    def convert(value: Any, depth: int) -> int:
        if isinstance(value, str):
            number = numbers.get(value)
            if number is None:
                raise ValueError(f"{value!r} is not a value of {enum.full_name}")
            return number
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value  # OTLP enums are open: unknown numbers are kept
        raise TypeError(f"expected an enum name or number, got {_json_type(value)}")

    return convert


def _base64_bytes(value: str) -> bytes | None:
    padded = value + "=" * (-len(value) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _bytes_value(value: Any, depth: int) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {_json_type(value)}")
    decoded = _base64_bytes(value)
    if decoded is None:
        raise ValueError("not valid base64")
    return decoded


def _id_value(value: Any, depth: int) -> bytes:
    """A trace/span id: hex (OTLP/JSON), else base64, else a 1-byte id that no check accepts."""
    if not isinstance(value, str):
        raise TypeError(f"expected a hex id, got {_json_type(value)}")
    if len(value) % 2 == 0 and _HEX.issuperset(value):
        return bytes.fromhex(value)
    decoded = _base64_bytes(value)
    return _INVALID_ID if decoded is None else decoded


# ---- OTLP/JSON through json_format: the reference, and the fallback ---------------------------


def _json_reference(signal: str, request_class: type[Message], document: dict[str, Any]) -> Message:
    """The same decoding with ``json_format.ParseDict``, one record at a time (several times slower)."""
    from google.protobuf import json_format

    resource_keys, scope_keys, record_keys = _LEVELS[signal]
    fix_ids = _ID_FIXERS[signal]
    parse = json_format.ParseDict
    parse_errors = (json_format.ParseError, ValueError, TypeError, RecursionError)
    request = request_class()
    resources = getattr(request, resource_keys[1])
    for r, resource_json in enumerate(_array(document, resource_keys, "")):
        where_r = f"{resource_keys[0]}[{r}]"
        if not isinstance(resource_json, dict):
            raise _bad(f"{where_r} must be an object, not {_json_type(resource_json)}")
        resource = resources.add()
        _parse_envelope(parse, parse_errors, resource_json, scope_keys, resource, where_r)
        scopes = getattr(resource, scope_keys[1])
        for s, scope_json in enumerate(_array(resource_json, scope_keys, where_r + ".")):
            where_s = f"{where_r}.{scope_keys[0]}[{s}]"
            if not isinstance(scope_json, dict):
                raise _bad(f"{where_s} must be an object, not {_json_type(scope_json)}")
            scope = scopes.add()
            _parse_envelope(parse, parse_errors, scope_json, record_keys, scope, where_s)
            records = getattr(scope, record_keys[1])
            for record_json in _array(scope_json, record_keys, where_s + "."):
                record = records.add()
                if not isinstance(record_json, dict):
                    continue  # left empty: flatten skips and counts it
                try:
                    fixed = copy.deepcopy(record_json)  # the caller's document stays as it was
                    fix_ids(fixed)
                    parse(fixed, record, ignore_unknown_fields=True)
                except parse_errors:
                    record.Clear()  # a malformed record is skipped downstream, not fatal here
    return request


def _bad(message: str) -> Invalid:
    return Invalid(f"invalid argument: {message}", code="invalid_otlp_json")


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def _array(obj: dict[str, Any], keys: tuple[str, str], where: str) -> list[Any]:
    """The list under the camelCase or snake_case name (both, if a sender mixes them)."""
    found: list[Any] = []
    for key in dict.fromkeys(keys):
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise _bad(f"{where}{key} must be an array, not {_json_type(value)}")
        found.extend(value)
    return found


def _parse_envelope(
    parse: Callable[..., Any],
    parse_errors: tuple[type[BaseException], ...],
    obj: dict[str, Any],
    nested: tuple[str, str],
    target: Message,
    where: str,
) -> None:
    """Parse a resource or scope block without its nested array (walked separately)."""
    envelope = {key: value for key, value in obj.items() if key not in nested}
    if not envelope:
        return
    try:
        parse(envelope, target, ignore_unknown_fields=True)
    except parse_errors as exc:
        raise _bad(f"{where} is not valid OTLP/JSON ({exc})") from exc


def _id_bytes_b64(value: str) -> str:
    """A hex id as the base64 ``json_format`` expects (see :func:`_id_value` for the rules)."""
    return base64.b64encode(_id_value(value, 0)).decode() if value else value


def _fix(obj: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            obj[key] = _id_bytes_b64(value)


def _fix_log_record(record: dict[str, Any]) -> None:
    _fix(record, _TRACE_SPAN)


def _fix_span(span: dict[str, Any]) -> None:
    _fix(span, _SPAN_IDS)
    links = span.get("links")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict):
                _fix(link, _TRACE_SPAN)


def _fix_metric(metric: dict[str, Any]) -> None:
    for kind in _POINT_KINDS:
        data = metric.get(kind)
        if not isinstance(data, dict):
            continue
        for key in ("dataPoints", "data_points"):
            points = data.get(key)
            if not isinstance(points, list):
                continue
            for point in points:
                exemplars = point.get("exemplars") if isinstance(point, dict) else None
                if isinstance(exemplars, list):
                    for exemplar in exemplars:
                        if isinstance(exemplar, dict):
                            _fix(exemplar, _TRACE_SPAN)


_ID_FIXERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "logs": _fix_log_record,
    "metrics": _fix_metric,
    "traces": _fix_span,
}
