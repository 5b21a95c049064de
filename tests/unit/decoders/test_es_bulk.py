"""Elasticsearch _bulk parsing, with bodies produced by the official Python client."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders
from elastic_transport._node._base import NodeApiResponse
from elasticsearch import Elasticsearch, helpers

from molesignal.errors import Invalid
from molesignal.ingest.decoders.es_bulk import BulkError, BulkItem, parse_bulk

# ---- the real client, captured at the HTTP boundary ------------------------------------------

_SENT: list[tuple[str, str, bytes]] = []


class _CaptureNode(BaseNode):
    """A transport node that records the request and answers like an Elasticsearch that took everything."""

    def perform_request(  # type: ignore[override]
        self, method: str, target: str, body: bytes | None = None, **_: Any
    ) -> NodeApiResponse:
        assert body is not None
        _SENT.append((method, target, body))
        sources = [line for line in body.split(b"\n")[1::2] if line]
        answer = {"took": 1, "errors": False, "items": [{"index": {"status": 201}} for _ in sources]}
        headers = HttpHeaders({"x-elastic-product": "Elasticsearch", "content-type": "application/json"})
        meta = ApiResponseMeta(status=200, http_version="1.1", headers=headers, duration=0.0, node=self.config)
        return NodeApiResponse(meta, orjson.dumps(answer))

    def close(self) -> None:
        pass


@pytest.fixture
def es() -> Elasticsearch:
    _SENT.clear()
    return Elasticsearch("http://localhost:9200", node_class=_CaptureNode)


def _sent() -> tuple[str | None, bytes]:
    """(default index from the URL, body) of the one request the client sent."""
    assert len(_SENT) == 1
    _, target, body = _SENT[0]
    path = target.split("?")[0].strip("/").split("/")
    return (path[0] if len(path) == 2 else None), body


# ---- happy paths -----------------------------------------------------------------------------


def test_parse_bulk_reads_what_helpers_bulk_sends(es: Elasticsearch) -> None:
    docs = [
        {"_index": "logs", "_id": "1", "msg": "hi", "n": 1},
        {"_op_type": "create", "msg": "ñandú", "nested": {"a": [1, 2]}},
        {"_id": 7, "msg": "numeric id"},
    ]
    assert helpers.bulk(es, docs, index="default-idx") == (3, [])
    default_index, body = _sent()
    assert default_index == "default-idx"

    items = parse_bulk(body, default_index)

    assert items == [
        BulkItem("index", "logs", "1", {"msg": "hi", "n": 1}),
        BulkItem("create", "default-idx", None, {"msg": "ñandú", "nested": {"a": [1, 2]}}),
        BulkItem("index", "default-idx", "7", {"msg": "numeric id"}),
    ]


def test_parse_bulk_keeps_index_create_delete_update_aligned(es: Elasticsearch) -> None:
    actions = [
        {"_index": "a", "_id": "1", "x": 1},
        {"_op_type": "delete", "_index": "a", "_id": "2"},
        {"_op_type": "update", "_index": "a", "_id": "3", "doc": {"x": 3}},
        {"_op_type": "create", "_index": "b", "_id": "4", "x": 4},
        {"_op_type": "delete", "_index": "a", "_id": "5"},
        {"_index": "c", "x": 6},
    ]
    operations: list[Any] = []
    for action in actions:
        header, source = helpers.expand_action(action)
        operations.append(header)
        if source is not None:
            operations.append(source)
    es.bulk(operations=operations)
    _, body = _sent()

    items = parse_bulk(body, None)

    assert [(i.action, i.index, i.doc_id) for i in items] == [
        ("index", "a", "1"),
        ("delete", "a", "2"),
        ("update", "a", "3"),
        ("create", "b", "4"),
        ("delete", "a", "5"),
        ("index", "c", None),
    ]
    assert [i.document for i in items] == [{"x": 1}, None, None, {"x": 4}, None, {"x": 6}]
    unsupported = [i.error for i in items if i.error]
    assert unsupported == [
        BulkError("illegal_argument_exception", "action [delete] is not supported by MoleSignal", 400),
        BulkError("illegal_argument_exception", "action [update] is not supported by MoleSignal", 400),
        BulkError("illegal_argument_exception", "action [delete] is not supported by MoleSignal", 400),
    ]


def test_parse_bulk_accepts_crlf_blank_lines_and_no_final_newline() -> None:
    body = b'\r\n{"index":{"_index":"a"}}\r\n{"x":1}\r\n\r\n   \n{"create":{}}\r\n{"y":2}'
    items = parse_bulk(body, "dflt")
    assert items == [BulkItem("index", "a", None, {"x": 1}), BulkItem("create", "dflt", None, {"y": 2})]


def test_parse_bulk_ignores_other_metadata_and_treats_empty_default_index_as_none() -> None:
    body = b'{"index":{"_index":"a","routing":"r","pipeline":"p","if_seq_no":3}}\n{"x":1}\n'
    assert parse_bulk(body, "") == [BulkItem("index", "a", None, {"x": 1})]


# ---- item-level errors: the rest of the body still parses -------------------------------------


def test_parse_bulk_missing_index_fails_only_that_item() -> None:
    # bad input: the first action has no _index and the URL gave no default index
    body = b'{"index":{}}\n{"x":1}\n{"index":{"_index":"a"}}\n{"x":2}\n'
    first, second = parse_bulk(body, None)
    assert first.error is not None
    assert first.error.type == "action_request_validation_exception"
    assert "index is missing" in first.error.reason
    assert first.error.status == 400
    assert first.document is None
    assert second == BulkItem("index", "a", None, {"x": 2})


def test_parse_bulk_malformed_source_line_mid_body_fails_only_that_item() -> None:
    # bad input: the second source line is truncated JSON, the third a JSON array, not an object
    body = (
        b'{"index":{"_index":"a","_id":"1"}}\n{"ok":1}\n'
        b'{"index":{"_index":"a","_id":"2"}}\n{"broken": \n'
        b'{"index":{"_index":"a","_id":"3"}}\n[1,2,3]\n'
        b'{"create":{"_index":"a","_id":"4"}}\n{"ok":4}\n'
    )
    items = parse_bulk(body, None)
    assert [i.doc_id for i in items] == ["1", "2", "3", "4"]
    assert items[0].document == {"ok": 1} and items[0].error is None
    assert items[3].document == {"ok": 4} and items[3].error is None
    for bad in items[1:3]:
        assert bad.document is None
        assert bad.error is not None
        assert bad.error.type == "document_parsing_exception"
        assert bad.error.reason.startswith("failed to parse")
        assert bad.error.status == 400
    assert items[2].error is not None and "JSON object" in items[2].error.reason


def test_parse_bulk_source_line_with_invalid_utf8_fails_only_that_item() -> None:
    # bad input: the source line contains the byte 0xff, which is not UTF-8
    body = b'{"index":{"_index":"a"}}\n{"x":"\xff"}\n{"index":{"_index":"a"}}\n{"x":"ok"}\n'
    bad, good = parse_bulk(body, None)
    assert bad.error is not None and bad.error.type == "document_parsing_exception"
    assert good == BulkItem("index", "a", None, {"x": "ok"})


def test_parse_bulk_empty_or_overlong_id_is_an_item_error() -> None:
    # bad input: an empty _id, then an _id of 513 bytes
    long_id = "x" * 513
    body = b'{"index":{"_index":"a","_id":""}}\n{"x":1}\n' + orjson.dumps({"index": {"_index": "a", "_id": long_id}})
    body += b'\n{"x":2}\n{"index":{"_index":"a","_id":"ok"}}\n{"x":3}\n'
    empty, long, ok = parse_bulk(body, None)
    assert empty.error is not None and "must not be empty" in empty.error.reason
    assert long.error is not None and "too long" in long.error.reason
    assert ok.error is None and ok.document == {"x": 3}


# ---- request-level errors --------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"\n", b"  \r\n \n"])
def test_parse_bulk_empty_body_is_invalid(body: bytes) -> None:
    # bad input: an empty or whitespace-only body
    with pytest.raises(Invalid) as caught:
        parse_bulk(body, "a")
    assert caught.value.message == "invalid argument: request body is required"


def test_parse_bulk_malformed_action_line_rejects_the_whole_request() -> None:
    # bad input: the action line of the second pair (line 3) is not JSON
    body = b'{"index":{"_index":"a"}}\n{"x":1}\n{"index":{"_index":\n{"x":2}\n'
    with pytest.raises(Invalid) as caught:
        parse_bulk(body, None)
    assert caught.value.message.startswith("invalid argument: Malformed action/metadata line [3]")
    assert caught.value.code == "x_content_parse_exception"


@pytest.mark.parametrize(
    ("action_line", "detail"),
    [
        (b'{"upsert":{"_index":"a"}}', "expected field [create], [delete], [index] or [update] but found [upsert]"),
        (b'{"index":"a"}', "expected START_OBJECT but found [VALUE_STRING]"),
        (b"[1]", "expected START_OBJECT but found [START_ARRAY]"),
        (b"{}", "expected exactly one action field"),
        (b'{"index":{},"create":{}}', "expected exactly one action field"),
        (b'{"index":{"_index":{"a":1}}}', "[_index] must be a string"),
    ],
)
def test_parse_bulk_structurally_bad_action_line_is_invalid(action_line: bytes, detail: str) -> None:
    # bad input: an action line that is JSON but not {"<index|create|delete|update>": {...}}
    body = b'{"index":{"_index":"a"}}\n{"x":1}\n' + action_line + b'\n{"x":2}\n'
    with pytest.raises(Invalid) as caught:
        parse_bulk(body, None)
    assert caught.value.message.startswith("invalid argument: Malformed action/metadata line [3], ")
    assert detail in caught.value.message
    assert caught.value.code == "illegal_argument_exception"


def test_parse_bulk_action_without_its_source_line_is_invalid() -> None:
    # bad input: the body ends right after an index action; its source line is missing
    with pytest.raises(Invalid) as caught:
        parse_bulk(b'{"index":{"_index":"a"}}\n{"x":1}\n{"index":{"_index":"a"}}\n', None)
    assert "line [3]" in caught.value.message and "no source line" in caught.value.message


def test_parse_bulk_delete_as_last_line_needs_no_source() -> None:
    items = parse_bulk(b'{"index":{"_index":"a"}}\n{"x":1}\n{"delete":{"_index":"a","_id":"9"}}', None)
    assert [(i.action, i.doc_id) for i in items] == [("index", None), ("delete", "9")]


def test_parse_bulk_corrupted_bodies_raise_only_invalid() -> None:
    # bad input: every truncation and many byte flips of a valid body with all four actions
    body = (
        b'{"index":{"_index":"a","_id":"1"}}\n{"x":1,"s":"\xc3\xa9"}\n{"delete":{"_index":"a","_id":"2"}}\n'
        b'{"update":{"_id":"3"}}\n{"doc":{"x":3}}\n{"create":{"_index":"b"}}\n{"y":[1,{"z":null}]}\n'
    )
    noise = hashlib.shake_256(body).digest(512)
    bodies = [body[:cut] for cut in range(len(body))]
    for k in range(256):
        at = int.from_bytes(noise[2 * k : 2 * k + 2], "big") % len(body)
        bodies.append(body[:at] + bytes([body[at] ^ (noise[k] | 1)]) + body[at + 1 :])
    for candidate in bodies:
        try:
            items = parse_bulk(candidate, None)
        except Invalid:
            continue
        assert all(isinstance(item, BulkItem) for item in items)
