"""The emulator's DynamoDB fast path (``dynamodb_fast``, ADR 0027) against moto's whole server
path: the same boto3 calls, over HTTP, once down each path, must give the same answers —
items, pages, counts, and the same errors with the same shapes (ConditionalCheckFailed,
TransactionCanceled with its CancellationReasons, ValidationException, ResourceNotFound) —
and leave the same items behind. Every DynamoDB operation and error ``molesignal`` uses
(``storage/table.py`` and its callers) is here, with some it does not use yet.

A change the fast path answered is journaled like any other and replayed by moto's own
path at the next start: the last test restarts a durable emulator from its journal and
finds the same items."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from molesignal.local.emulator import Emulator
from molesignal.local.emulator.dynamodb_fast import DynamoFastPath
from molesignal.provision import create_table_request
from molesignal.resources import RESOURCES

Call = Callable[[Any, str], Any]


def _client(url: str) -> Any:
    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    running = Emulator(port=0, data_dir=None, fsync=False)
    running.start()
    yield running
    running.stop()


class _Counted(DynamoFastPath):
    """The fast path, counting the requests it answered itself."""

    answered = 0

    def answer(self, environ: dict[str, Any], body: bytes) -> Any:
        found = super().answer(environ, body)
        if found is not None:
            _Counted.answered += 1
        return found


def _create(ddb: Any, table: str) -> None:
    ddb.create_table(**create_table_request(RESOURCES.table, table))  # the single table, as provisioned


def _key(pk: str, sk: str = "x") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


RICH = {
    "s": {"S": "text é ✓"},
    "n": {"N": "12345678901234567890.123456789"},
    "neg": {"N": "-0.5"},
    "t": {"BOOL": True},
    "null": {"NULL": True},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["1", "2.5"]},
    "m": {"M": {"deep": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}, {"BOOL": False}]}}}}},
    "l": {"L": []},
}


def _calls() -> list[tuple[str, Call]]:
    """Each call returns boto3's answer; an error is part of the answer."""
    calls: list[tuple[str, Call]] = []

    def add(name: str) -> Callable[[Call], Call]:
        def register(call: Call) -> Call:
            calls.append((name, call))
            return call

        return register

    @add("put plain")
    def _(ddb: Any, t: str) -> Any:
        return ddb.put_item(TableName=t, Item={**_key("A"), **RICH, "gsi1pk": {"S": "G"}, "gsi1sk": {"S": "2"}})

    @add("put if absent")
    def _(ddb: Any, t: str) -> Any:
        return ddb.put_item(
            TableName=t,
            Item={**_key("B"), "v": {"N": "1"}, "gsi1pk": {"S": "G"}, "gsi1sk": {"S": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )

    @add("put if absent, present: ConditionalCheckFailed")
    def _(ddb: Any, t: str) -> Any:
        return ddb.put_item(TableName=t, Item=_key("B"), ConditionExpression="attribute_not_exists(pk)")

    @add("put ALL_OLD")
    def _(ddb: Any, t: str) -> Any:
        return ddb.put_item(TableName=t, Item={**_key("C"), "v": {"S": "one"}}, ReturnValues="ALL_OLD")

    @add("put ALL_OLD over an item")
    def _(ddb: Any, t: str) -> Any:
        return ddb.put_item(TableName=t, Item={**_key("C"), "v": {"S": "two"}}, ReturnValues="ALL_OLD")

    @add("put with the old item on failure")
    def _(ddb: Any, t: str) -> Any:
        return ddb.put_item(
            TableName=t,
            Item=_key("C"),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    @add("get")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(TableName=t, Key=_key("A"), ConsistentRead=True)

    @add("get missing")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(TableName=t, Key=_key("nobody"))

    @add("get projected")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(
            TableName=t, Key=_key("A"), ProjectionExpression="#s, m.deep, ns", ExpressionAttributeNames={"#s": "s"}
        )

    @add("get with capacity")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(TableName=t, Key=_key("A"), ReturnConsumedCapacity="TOTAL")

    @add("get, empty key: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(TableName=t, Key=_key(""))

    @add("get, wrong key: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(TableName=t, Key={"pk": {"S": "A"}})

    @add("get, no table: ResourceNotFound")
    def _(ddb: Any, t: str) -> Any:
        return ddb.get_item(TableName=t + "-absent", Key=_key("A"))

    for expires in (120, 121):  # the first makes the window, the second counts in it

        @add(f"rate window: ADD and SET, ALL_NEW ({expires})")
        def _(ddb: Any, t: str, expires: int = expires) -> Any:
            return ddb.update_item(
                TableName=t,
                Key=_key("RATE", "w1"),
                UpdateExpression="ADD #n :one SET expires_at = :exp",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str(expires)}},
                ReturnValues="ALL_NEW",
            )

    @add("update UPDATED_OLD, nested and list_append")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(
            TableName=t,
            Key=_key("A"),
            UpdateExpression="SET m.deep.list = list_append(m.deep.list, :more), c = if_not_exists(c, :zero) REMOVE t",
            ExpressionAttributeValues={":more": {"L": [{"S": "y"}]}, ":zero": {"N": "0"}},
            ReturnValues="UPDATED_OLD",
        )

    @add("update UPDATED_NEW")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(
            TableName=t,
            Key=_key("B"),
            UpdateExpression="SET v = v + :d",
            ExpressionAttributeValues={":d": {"N": "2"}},
            ReturnValues="UPDATED_NEW",
        )

    @add("update if it exists, absent: ConditionalCheckFailed")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(
            TableName=t,
            Key=_key("nobody"),
            UpdateExpression="SET v = :v",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":v": {"N": "1"}},
        )

    @add("update with a failing comparison and ALL_OLD on failure")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(
            TableName=t,
            Key=_key("B"),
            UpdateExpression="SET v = :v",
            ConditionExpression="v < :v",
            ExpressionAttributeValues={":v": {"N": "0"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    @add("update, bad expression: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(TableName=t, Key=_key("B"), UpdateExpression="SET = :v")

    @add("update, unused value: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(
            TableName=t,
            Key=_key("B"),
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"N": "1"}, ":unused": {"N": "2"}},
        )

    @add("update, missing value: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.update_item(TableName=t, Key=_key("B"), UpdateExpression="SET v = :nothing")

    for n in range(7):

        @add(f"put page item {n}")
        def _(ddb: Any, t: str, n: int = n) -> Any:
            item = {**_key("P", f"s#{n:02d}"), "v": {"N": str(n)}, "gsi1pk": {"S": "G"}, "gsi1sk": {"S": f"p{n}"}}
            return ddb.put_item(TableName=t, Item=item)

    @add("query begins_with")
    def _(ddb: Any, t: str) -> Any:
        return ddb.query(
            TableName=t,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :sk)",
            ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"},
            ExpressionAttributeValues={":pk": {"S": "P"}, ":sk": {"S": "s#"}},
        )

    @add("query pages, backwards")
    def _(ddb: Any, t: str) -> Any:
        pages, start = [], None
        while True:
            extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = ddb.query(
                TableName=t,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "P"}},
                Limit=3,
                ScanIndexForward=False,
                ConsistentRead=True,
                **extra,
            )
            pages.append(page)
            start = page.get("LastEvaluatedKey")
            if not start:
                return pages

    @add("query between, filtered after the limit")
    def _(ddb: Any, t: str) -> Any:
        return ddb.query(
            TableName=t,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            FilterExpression="v >= :min",
            ExpressionAttributeValues={
                ":pk": {"S": "P"},
                ":lo": {"S": "s#01"},
                ":hi": {"S": "s#05"},
                ":min": {"N": "3"},
            },
            Limit=4,
        )

    @add("query at most, count")
    def _(ddb: Any, t: str) -> Any:
        return ddb.query(
            TableName=t,
            KeyConditionExpression="pk = :pk AND sk <= :hi",
            ExpressionAttributeValues={":pk": {"S": "P"}, ":hi": {"S": "s#03"}},
            Select="COUNT",
        )

    @add("query the index")
    def _(ddb: Any, t: str) -> Any:
        return ddb.query(
            TableName=t,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": {"S": "G"}},
            ReturnConsumedCapacity="INDEXES",
        )

    @add("query, unknown index: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.query(
            TableName=t,
            IndexName="nope",
            KeyConditionExpression="gsi1pk = :g",
            ExpressionAttributeValues={":g": {"S": "G"}},
        )

    @add("scan")
    def _(ddb: Any, t: str) -> Any:
        return ddb.scan(TableName=t, Limit=5)

    @add("scan filtered")
    def _(ddb: Any, t: str) -> Any:
        return ddb.scan(
            TableName=t,
            FilterExpression="attribute_exists(v) AND begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "P"}},
        )

    @add("batch get")
    def _(ddb: Any, t: str) -> Any:
        return ddb.batch_get_item(
            RequestItems={t: {"Keys": [_key("A"), _key("B"), _key("nobody")], "ProjectionExpression": "pk, sk, v"}}
        )

    @add("batch write")
    def _(ddb: Any, t: str) -> Any:
        return ddb.batch_write_item(
            RequestItems={
                t: [
                    {"PutRequest": {"Item": {**_key("W1"), "v": {"S": "w"}}}},
                    {"PutRequest": {"Item": {**_key("W2"), "v": {"S": "w"}}}},
                    {"DeleteRequest": {"Key": _key("C")}},
                ]
            }
        )

    @add("commit: put, update, delete, check")
    def _(ddb: Any, t: str) -> Any:
        return ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": t,
                        "Item": {**_key("M1"), "rows": {"N": "10"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": t,
                        "Key": _key("STATS"),
                        "UpdateExpression": "ADD #r :r SET updated = :u",
                        "ExpressionAttributeNames": {"#r": "rows"},
                        "ExpressionAttributeValues": {":r": {"N": "10"}, ":u": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": t, "Key": _key("W2"), "ConditionExpression": "attribute_exists(pk)"}},
                {
                    "ConditionCheck": {
                        "TableName": t,
                        "Key": _key("B"),
                        "ConditionExpression": "v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "3"}},
                    }
                },
            ],
            ReturnConsumedCapacity="TOTAL",
        )

    @add("commit cancelled: TransactionCanceled with reasons")
    def _(ddb: Any, t: str) -> Any:
        return ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": t,
                        "Item": {**_key("M1"), "rows": {"N": "1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": t,
                        "Key": _key("STATS"),
                        "UpdateExpression": "ADD #r :r",
                        "ExpressionAttributeNames": {"#r": "rows"},
                        "ExpressionAttributeValues": {":r": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": t,
                        "Key": _key("nobody"),
                        "ConditionExpression": "attribute_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )

    @add("commit cancelled with the old item")
    def _(ddb: Any, t: str) -> Any:
        return ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": t,
                        "Item": _key("M1"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            ]
        )

    @add("commit naming one item twice: ValidationException")
    def _(ddb: Any, t: str) -> Any:
        return ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": t, "Item": _key("Z")}},
                {"Delete": {"TableName": t, "Key": _key("Z")}},
            ]
        )

    @add("transact get")
    def _(ddb: Any, t: str) -> Any:
        return ddb.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": t, "Key": _key("M1")}},
                {"Get": {"TableName": t, "Key": _key("nobody")}},
            ]
        )

    @add("delete if it exists")
    def _(ddb: Any, t: str) -> Any:
        return ddb.delete_item(
            TableName=t, Key=_key("W1"), ConditionExpression="attribute_exists(pk)", ReturnValues="ALL_OLD"
        )

    @add("delete if it exists, absent: ConditionalCheckFailed")
    def _(ddb: Any, t: str) -> Any:
        return ddb.delete_item(TableName=t, Key=_key("W1"), ConditionExpression="attribute_exists(pk)")

    @add("binary attributes (moto's path) read back by the fast path")
    def _(ddb: Any, t: str) -> Any:
        ddb.put_item(TableName=t, Item={**_key("BIN"), "b": {"B": b"\x00\xffraw"}, "bs": {"BS": [b"a", b"b"]}})
        return [
            ddb.get_item(TableName=t, Key=_key("BIN")),
            ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "BIN"}}),
        ]

    @add("everything left")
    def _(ddb: Any, t: str) -> Any:
        items = ddb.scan(TableName=t, ConsistentRead=True)["Items"]
        return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    return calls


def _answer(call: Call, ddb: Any, table: str) -> Any:
    """boto3's answer without what differs by nature (request ids, lengths, CRCs), the table
    name made neutral."""
    try:
        found: Any = call(ddb, table)
    except ClientError as error:
        found = {"error": error.response}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "ResponseMetadata"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.loads(json.dumps(strip(found), default=repr).replace(table, "<table>"))


def _run(ddb: Any, table: str) -> list[tuple[str, Any]]:
    _create(ddb, table)
    return [(name, _answer(call, ddb, table)) for name, call in _calls()]


def test_the_fast_path_answers_every_call_as_motos_server_does(emulator: Emulator) -> None:
    services = emulator._moto
    assert services is not None
    ddb = _client(f"http://127.0.0.1:{emulator.port}")
    # Given the calls down moto's whole server path
    services.fast = None
    plain = _run(ddb, "parity-plain")
    # When the same calls take the fast path
    services.fast = _Counted()
    _Counted.answered = 0
    fast = _run(ddb, "parity-fast")
    # Then every answer is the same, errors included
    for (name, expected), (_, got) in zip(plain, fast, strict=True):
        assert got == expected, name
    assert _Counted.answered >= len(plain) - 2  # all but the binary put and the table's creation
    errors = {
        name: answer["error"]["Error"]["Code"]
        for name, answer in plain
        if isinstance(answer, dict) and "error" in answer
    }
    assert set(errors.values()) == {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
        "ValidationException",
        "ResourceNotFoundException",
    }
    cancelled = dict(fast)["commit cancelled: TransactionCanceled with reasons"]["error"]
    assert [r["Code"] for r in cancelled["CancellationReasons"]] == [
        "ConditionalCheckFailed",
        "None",
        "ConditionalCheckFailed",
    ]
    old = dict(fast)["put with the old item on failure"]["error"]
    assert old["Item"]["v"] == {"S": "two"}


def test_a_journal_the_fast_path_wrote_replays_to_the_same_items(tmp_path: Path) -> None:
    from moto.backends import get_backend

    live = tmp_path / "live"
    first = Emulator(port=0, data_dir=live, fsync=False)
    first.start()
    try:
        ddb = _client(f"http://127.0.0.1:{first.port}")
        answers = _run(ddb, "replayed")
        before = answers[-1][1]
        # Given the data directory as a crash would leave it: journals, no snapshot at stop
        copy = tmp_path / "after-crash"
        shutil.copytree(live, copy, ignore=shutil.ignore_patterns("LOCK"))
    finally:
        first.stop()
    assert any((copy / "moto" / "dynamodb").glob("journal-*.log"))
    get_backend("dynamodb").reset()  # type: ignore[call-overload]
    # When an emulator starts on it (moto's own path replays each journaled request)
    second = Emulator(port=0, data_dir=copy, fsync=False)
    second.start()
    try:
        assert second.replayed.get("dynamodb", 0) > 0
        again = _client(f"http://127.0.0.1:{second.port}").scan(TableName="replayed", ConsistentRead=True)["Items"]
    finally:
        second.stop()
    # Then it holds the same items
    after = json.loads(json.dumps(sorted(again, key=lambda i: (i["pk"]["S"], i["sk"]["S"])), default=repr))
    assert after == before
