"""SQS's JSON protocol (``X-Amz-Target: AmazonSQS.<Action>``, as botocore speaks it) over the
SQLite queue store, as a WSGI app."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from werkzeug.wrappers import Request

from molesignal.local.emulator.http_server import read_body
from molesignal.local.emulator.sqs_store import (
    ACCOUNT_ID,
    MAX_BATCH_ENTRIES,
    MAX_MESSAGE_BYTES,
    Outgoing,
    QueueStore,
    Received,
    Sent,
    SqsError,
    attributes_md5,
)

_JSON = "application/x-amz-json-1.0"
_BATCH_ID = re.compile(r"^[\w-]{1,80}$")


def _respond(
    start_response: Any,
    body: dict[str, Any],
    request_id: str,
    status: str = "200 OK",
    extra: tuple[str, str] | None = None,
) -> list[bytes]:
    """The answer, with the headers werkzeug's ``Response`` gave it (without building one: a
    received message's body is up to 1 MiB of JSON)."""
    try:
        text = orjson.dumps(body)
    except TypeError:  # a lone surrogate in a string: json escapes it, as before
        text = json.dumps(body).encode()
    headers = [("Content-Type", _JSON), ("Content-Length", str(len(text)))]
    if extra is not None:
        headers.append(extra)
    headers.append(("x-amzn-RequestId", request_id))
    start_response(status, headers)
    return [text]


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # orjson refuses lone surrogates that json reads: let json decide
        return json.loads(data)


def _error_entry(entry_id: str, error: SqsError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": True, "Code": error.code, "Message": error.message}


def _check_batch(entries: list[dict[str, Any]]) -> None:
    if not entries:
        raise SqsError(
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
            "AWS.SimpleQueueService.EmptyBatchRequest",
        )
    if len(entries) > MAX_BATCH_ENTRIES:
        raise SqsError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {len(entries)}.",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        )
    ids = [str(e.get("Id", "")) for e in entries]
    for entry_id in ids:
        if not _BATCH_ID.match(entry_id):
            raise SqsError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long.",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
            )
    duplicate = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if duplicate is not None:
        raise SqsError(
            "BatchEntryIdsNotDistinct",
            f"Id {duplicate} repeated.",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        )


def _outgoing(params: dict[str, Any]) -> Outgoing:
    delay = params.get("DelaySeconds")
    return Outgoing(
        body=str(params.get("MessageBody", "")),
        attributes=dict(params.get("MessageAttributes") or {}),
        system=dict(params.get("MessageSystemAttributes") or {}),
        delay_s=None if delay is None else int(delay),
        group_id=params.get("MessageGroupId"),
        dedup_id=params.get("MessageDeduplicationId"),
    )


def _sent(answer: Sent) -> dict[str, Any]:
    body: dict[str, Any] = {"MessageId": answer.message_id, "MD5OfMessageBody": answer.md5_of_body}
    if answer.md5_of_attributes:
        body["MD5OfMessageAttributes"] = answer.md5_of_attributes
    if answer.sequence_number:
        body["SequenceNumber"] = answer.sequence_number
    return body


def _wanted(names: list[str], available: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``available`` that ``names`` ask for (``All``, ``.*`` prefixes, exact names)."""
    if not names:
        return {}
    if "All" in names or ".*" in names:
        return dict(available)
    chosen = {}
    for key, value in available.items():
        for name in names:
            if name == key or (name.endswith(".*") and key.startswith(name[:-1])):
                chosen[key] = value
    return chosen


class SqsApi:
    def __init__(self, store: QueueStore) -> None:
        self.store = store
        self._handlers: dict[str, Callable[[dict[str, Any], Request, str], dict[str, Any]]] = {
            "CreateQueue": self._create_queue,
            "GetQueueUrl": self._get_queue_url,
            "ListQueues": self._list_queues,
            "DeleteQueue": self._delete_queue,
            "GetQueueAttributes": self._get_queue_attributes,
            "SetQueueAttributes": self._set_queue_attributes,
            "PurgeQueue": self._purge_queue,
            "ListQueueTags": self._list_queue_tags,
            "TagQueue": self._tag_queue,
            "UntagQueue": self._untag_queue,
            "ListDeadLetterSourceQueues": self._dead_letter_sources,
            "SendMessage": self._send_message,
            "SendMessageBatch": self._send_message_batch,
            "ReceiveMessage": self._receive_message,
            "DeleteMessage": self._delete_message,
            "DeleteMessageBatch": self._delete_message_batch,
            "ChangeMessageVisibility": self._change_visibility,
            "ChangeMessageVisibilityBatch": self._change_visibility_batch,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any, region: str = "us-east-1") -> Iterable[bytes]:
        request = Request(environ)
        request_id = str(uuid.uuid4())
        try:
            return _respond(start_response, self.handle(request, region), request_id)
        except SqsError as error:
            return _respond(
                start_response,
                {"__type": f"com.amazonaws.sqs#{error.shape}", "message": error.message},
                request_id,
                "400 BAD REQUEST",
                ("x-amzn-query-error", f"{error.code};Sender"),
            )

    def handle(self, request: Request, region: str) -> dict[str, Any]:
        target = str(request.environ.get("HTTP_X_AMZ_TARGET", ""))
        service, _, action = target.partition(".")
        if service != "AmazonSQS":
            raise SqsError(
                "UnsupportedOperation",
                "the local queue store speaks SQS's JSON protocol only (X-Amz-Target: AmazonSQS.<Action>)",
                "AWS.SimpleQueueService.UnsupportedOperation",
            )
        handler = self._handlers.get(action)
        if handler is None:
            raise SqsError(
                "UnsupportedOperation",
                f"{action} is not implemented by the local queue store (MOLESIGNAL_DATA_DIR)",
                "AWS.SimpleQueueService.UnsupportedOperation",
            )
        try:
            params = _loads(read_body(request.environ) or b"{}")
        except ValueError:
            raise SqsError("InvalidParameterValue", "The request body is not JSON.") from None
        if not isinstance(params, dict):
            raise SqsError("InvalidParameterValue", "The request body must be a JSON object.")
        try:
            return handler(params, request, region)
        except (TypeError, ValueError) as error:
            raise SqsError("InvalidParameterValue", f"A parameter has the wrong type: {error}") from None

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _url(request: Request, name: str) -> str:
        return f"{request.host_url.rstrip('/')}/{ACCOUNT_ID}/{name}"

    def _queue(self, params: dict[str, Any]) -> str:
        url = params.get("QueueUrl")
        if not url:
            raise SqsError("MissingParameter", "The request must contain the parameter QueueUrl.")
        name = str(url).rstrip("/").rsplit("/", 1)[-1]
        if not self.store.queue_exists(name):
            raise SqsError(
                "QueueDoesNotExist", "The specified queue does not exist.", "AWS.SimpleQueueService.NonExistentQueue"
            )
        return name

    # -- queues --------------------------------------------------------------------------

    def _create_queue(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        name = str(params.get("QueueName", ""))
        attributes = {str(k): str(v) for k, v in (params.get("Attributes") or {}).items()}
        self.store.create_queue(name, attributes, dict(params.get("tags") or {}))
        return {"QueueUrl": self._url(request, name)}

    def _get_queue_url(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        name = str(params.get("QueueName", ""))
        if not self.store.queue_exists(name):
            raise SqsError(
                "QueueDoesNotExist", "The specified queue does not exist.", "AWS.SimpleQueueService.NonExistentQueue"
            )
        return {"QueueUrl": self._url(request, name)}

    def _list_queues(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        names = self.store.list_queues(str(params.get("QueueNamePrefix", "")))
        limit = int(params.get("MaxResults") or 1000)
        start = int(params.get("NextToken") or 0)
        page = names[start : start + limit]
        body: dict[str, Any] = {}
        if page:
            body["QueueUrls"] = [self._url(request, n) for n in page]
        if "MaxResults" in params and start + limit < len(names):
            body["NextToken"] = str(start + limit)
        return body

    def _delete_queue(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        self.store.delete_queue(self._queue(params))
        return {}

    def _get_queue_attributes(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        attributes = self.store.get_attributes(self._queue(params), region)
        chosen = _wanted(list(params.get("AttributeNames") or []), attributes)
        return {"Attributes": chosen} if chosen else {}

    def _set_queue_attributes(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        attributes = {str(k): str(v) for k, v in (params.get("Attributes") or {}).items()}
        self.store.set_attributes(self._queue(params), attributes)
        return {}

    def _purge_queue(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        self.store.purge(self._queue(params))
        return {}

    def _list_queue_tags(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        tags = self.store.tags(self._queue(params))
        return {"Tags": tags} if tags else {}

    def _tag_queue(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        self.store.set_tags(self._queue(params), dict(params.get("Tags") or {}), [])
        return {}

    def _untag_queue(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        self.store.set_tags(self._queue(params), {}, list(params.get("TagKeys") or []))
        return {}

    def _dead_letter_sources(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        sources = self.store.dead_letter_sources(self._queue(params))
        return {"queueUrls": [self._url(request, n) for n in sources]}

    # -- messages ------------------------------------------------------------------------

    def _send_message(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        answer = self.store.send(self._queue(params), [_outgoing(params)])[0]
        if isinstance(answer, SqsError):
            raise answer
        return _sent(answer)

    def _send_message_batch(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        name = self._queue(params)
        entries = list(params.get("Entries") or [])
        _check_batch(entries)
        total = sum(len(str(e.get("MessageBody", "")).encode()) for e in entries)
        if total > MAX_MESSAGE_BYTES:
            raise SqsError(
                "BatchRequestTooLong",
                f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. You have sent {total} bytes.",
                "AWS.SimpleQueueService.BatchRequestTooLong",
            )
        answers = self.store.send(name, [_outgoing(e) for e in entries])
        successful, failed = [], []
        for entry, answer in zip(entries, answers, strict=True):
            if isinstance(answer, SqsError):
                failed.append(_error_entry(entry["Id"], answer))
            else:
                successful.append({"Id": entry["Id"], **_sent(answer)})
        return {"Successful": successful, "Failed": failed}

    def _receive_message(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        name = self._queue(params)
        visibility = params.get("VisibilityTimeout")
        wait = params.get("WaitTimeSeconds")
        received = self.store.receive(
            name,
            max_messages=int(params.get("MaxNumberOfMessages") or 1),
            visibility_s=None if visibility is None else int(visibility),
            wait_s=None if wait is None else float(wait),
            region=region,
        )
        system_names = list(params.get("AttributeNames") or []) + list(params.get("MessageSystemAttributeNames") or [])
        attribute_names = list(params.get("MessageAttributeNames") or [])
        messages = [self._message(m, system_names, attribute_names) for m in received]
        return {"Messages": messages} if messages else {}

    @staticmethod
    def _message(message: Received, system_names: list[str], attribute_names: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "MessageId": message.message_id,
            "ReceiptHandle": message.receipt,
            "MD5OfBody": message.md5_of_body,
            "Body": message.body,
        }
        system = _wanted(system_names, message.attributes)
        if system:
            body["Attributes"] = system
        attributes = _wanted(attribute_names, message.message_attributes)
        if attributes:
            body["MessageAttributes"] = attributes
            body["MD5OfMessageAttributes"] = attributes_md5(attributes)
        return body

    def _delete_message(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        answer = self.store.delete(self._queue(params), [str(params.get("ReceiptHandle", ""))])[0]
        if answer is not None:
            raise answer
        return {}

    def _delete_message_batch(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        name = self._queue(params)
        entries = list(params.get("Entries") or [])
        _check_batch(entries)
        answers = self.store.delete(name, [str(e.get("ReceiptHandle", "")) for e in entries])
        return _batch_answer(entries, answers)

    def _change_visibility(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        change = (str(params.get("ReceiptHandle", "")), int(params.get("VisibilityTimeout", 0)))
        answer = self.store.change_visibility(self._queue(params), [change])[0]
        if answer is not None:
            raise answer
        return {}

    def _change_visibility_batch(self, params: dict[str, Any], request: Request, region: str) -> dict[str, Any]:
        name = self._queue(params)
        entries = list(params.get("Entries") or [])
        _check_batch(entries)
        changes = [(str(e.get("ReceiptHandle", "")), int(e.get("VisibilityTimeout", 0))) for e in entries]
        return _batch_answer(entries, self.store.change_visibility(name, changes))


def _batch_answer(entries: list[dict[str, Any]], answers: list[SqsError | None]) -> dict[str, Any]:
    successful, failed = [], []
    for entry, answer in zip(entries, answers, strict=True):
        if answer is None:
            successful.append({"Id": entry["Id"]})
        else:
            failed.append(_error_entry(entry["Id"], answer))
    return {"Successful": successful, "Failed": failed}
