"""DynamoDB's hot operations served by moto's own handler, without moto's web framework.

moto answers a DynamoDB call through its domain dispatcher (which lists moto's modules on
disk per request), Flask, a model-driven request parser and a model-driven response
serialiser; of the emulator's CPU per call, only a small part was DynamoDB's work
(docs/adr/0027-emulator-request-cost.md). Here a request of an operation in ``OPERATIONS``
is parsed once with orjson, given to the same ``DynamoHandler`` method moto's server calls
(so validation, expressions, conditions, transactions and errors are moto's), and the result
is written with orjson after the output shape's rules (members the model lists, ``None``
left out, numbers cast, blobs base64), as moto's serialiser writes it.

``answer`` returns None when it does not take a request, and the caller sends it down moto's
full path instead: an operation not in ``OPERATIONS``, a body that is not a JSON object,
a binary attribute (moto's parser decodes base64 first), a result the writer does not know.
Which path answered never changes the state or the journal: the caller holds the service's
lock and journals the request either way. ``tests/integration/test_dynamodb_fast_path.py``
runs the same boto3 calls down both paths and compares the answers.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson

# X-Amz-Target operation → DynamoHandler method.
OPERATIONS = {
    "GetItem": "get_item",
    "PutItem": "put_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "TransactWriteItems": "transact_write_items",
    "TransactGetItems": "transact_get_items",
}
_JSON = "application/x-amz-json-1.0"
_BINARY_MARKERS = (b'"B":', b'"BS":', b'"B" :', b'"BS" :')


class _Unwritable(Exception):
    """A result the writer does not know how to write as moto would: moto's serialiser writes it."""


Writer = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    raise _Unwritable(type(value).__name__)


def _integer(value: Any) -> Any:
    return int(value)


def _float(value: Any) -> Any:
    return float(value)


def _blob(value: Any) -> Any:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).strip().decode()


class _Writers:
    """One writer per botocore shape, built on first use (shapes are recursive: AttributeValue)."""

    def __init__(self) -> None:
        self._made: dict[str, Writer] = {}

    def of(self, shape: Any) -> Writer:
        name = f"{shape.type_name}:{shape.name}"
        found = self._made.get(name)
        if found is not None:
            return found
        kind = shape.type_name
        if kind == "structure":
            if shape.is_document_type:
                return _identity
            members: list[tuple[str, str, Writer]] = []

            def structure(value: Any) -> Any:
                if not isinstance(value, dict):
                    raise _Unwritable("structure of " + type(value).__name__)
                out = {}
                for key, wire_name, writer in members:
                    member = value.get(key)
                    if member is not None:
                        out[wire_name] = writer(member)
                return out

            self._made[name] = structure  # before the members: a member may be this shape
            for key, member_shape in shape.members.items():
                members.append((key, member_shape.serialization.get("name", key), self.of(member_shape)))
            return structure
        if kind == "list":
            item = self.of(shape.member)

            def listing(value: Any) -> Any:
                return [item(v) if v is not None else None for v in value]

            self._made[name] = listing
            return listing
        if kind == "map":
            entry = self.of(shape.value)

            def mapping(value: Any) -> Any:
                return {k: entry(v) for k, v in value.items() if v is not None}

            self._made[name] = mapping
            return mapping
        simple = {
            "string": _string,
            "integer": _integer,
            "long": _integer,
            "float": _float,
            "double": _float,
            "boolean": _identity,
            "blob": _blob,
        }.get(kind)
        if simple is None:
            raise _Unwritable(kind)  # timestamps and the rest: not in the operations served here
        self._made[name] = simple
        return simple


class DynamoFastPath:
    """Serves ``OPERATIONS`` with moto's ``DynamoHandler``; the caller holds DynamoDB's lock."""

    def __init__(self) -> None:
        self._writers = _Writers()
        self._outputs: dict[str, Writer] = {}
        self._guard = threading.Lock()

    def takes(self, environ: dict[str, Any]) -> bool:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        prefix, _, operation = target.partition(".")
        return prefix == "DynamoDB_20120810" and operation in OPERATIONS

    def answer(self, environ: dict[str, Any], body: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """(status, headers, body) of one request, or None: take moto's full path."""
        operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")[2]
        method_name = OPERATIONS.get(operation)
        if method_name is None or any(marker in body for marker in _BINARY_MARKERS):
            return None
        if "gzip" in str(environ.get("HTTP_CONTENT_ENCODING", "")):
            return None
        try:
            params = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return None
        if not isinstance(params, dict):
            return None
        handler = _handler(environ, params)
        from moto.core.exceptions import ServiceException
        from moto.core.responses import ActionResult
        from werkzeug.exceptions import HTTPException

        try:
            result = getattr(handler, method_name)()
        except HTTPException as error:  # moto's DynamoDB errors (JsonRESTError)
            headers = dict(error.get_headers() or [])
            return _finish(handler, int(error.code or 400), headers, str(error.description or ""))
        except ServiceException as error:
            status, headers, text = handler.serialized(ActionResult(error))
            return _finish(handler, int(status), dict(headers), str(text))
        try:
            text = orjson.dumps(self._output(operation)(result.result)).decode()
        except (_Unwritable, TypeError, ValueError, binascii.Error):
            status, headers, text = handler.serialized(result)  # moto's own writer, same result
            return _finish(handler, int(status), dict(headers), str(text))
        return _finish(handler, 200, {"Content-Type": _JSON}, text)

    def _output(self, operation: str) -> Writer:
        found = self._outputs.get(operation)
        if found is None:
            from moto.core.utils import get_service_model

            with self._guard:
                shape = get_service_model("dynamodb").operation_model(operation).output_shape
                found = self._writers.of(shape) if shape is not None else (lambda _value: {})
                self._outputs[operation] = found
        return found


def _handler(environ: dict[str, Any], params: dict[str, Any]) -> Any:
    """A ``DynamoHandler`` set up as moto's ``setup_class`` leaves it for a JSON request."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.models import mark_account_as_visited
    from moto.utilities.utils import get_partition
    from werkzeug.datastructures import EnvironHeaders

    handler = DynamoHandler()
    headers = EnvironHeaders(environ)
    host = str(environ.get("HTTP_HOST", ""))
    full_url = f"http://{host}{environ.get('RAW_URI') or environ.get('PATH_INFO', '/')}"
    handler.headers = headers
    handler.querystring = {}
    handler.data = {}
    handler.uri_match = {}
    handler.method = str(environ.get("REQUEST_METHOD", "POST"))
    handler.uri = full_url
    handler.path = str(environ.get("PATH_INFO", "/"))
    handler.response_headers = {"server": "amazon.com"}
    handler.region = handler.get_region_from_url(SimpleNamespace(headers=headers), full_url)
    handler.partition = get_partition(handler.region)
    handler.params = params
    handler.body = params
    handler.access_key = handler.get_access_key()
    handler.current_account = handler.get_current_account()
    mark_account_as_visited(
        account_id=handler.current_account, access_key=handler.access_key, service="dynamodb", region=handler.region
    )
    return handler


def _finish(handler: Any, status: int, headers: dict[str, Any], text: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """moto's response headers: its own, a request id, and the CRC-32 botocore checks."""
    body = text.encode()
    merged = {**handler.response_headers, **headers}
    merged["x-amzn-requestid"] = os.urandom(26).hex()  # 52 characters, as moto's (random.choice per character)
    merged["x-amz-crc32"] = str(binascii.crc32(body))
    merged["Content-Length"] = str(len(body))
    reason = {200: "OK", 400: "BAD REQUEST", 500: "INTERNAL SERVER ERROR"}.get(status, "")
    return f"{status} {reason}".rstrip(), [(k, str(v)) for k, v in merged.items()], body
