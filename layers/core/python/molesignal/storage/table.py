"""A thin, typed wrapper over the DynamoDB client for the single table.

The low-level client is used (not ``boto3.resource``) because resources cost cold-start
time; items go in and out as plain Python values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from molesignal import aws
from molesignal.errors import Invalid
from molesignal.settings import get_settings

Item = dict[str, Any]


class ConditionFailed(Exception):
    """A conditional write did not hold."""


@dataclass(frozen=True)
class Filter:
    """A DynamoDB filter expression with its placeholders (names ``#x``, values ``:x``)."""

    expression: str
    names: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)


def _serializer() -> Any:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


def _deserializer() -> Any:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    return value


class Table:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or get_settings().resource_name("table")
        self._ser = _serializer()
        self._de = _deserializer()

    @property
    def client(self) -> Any:
        return aws.client("dynamodb")

    def marshal(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(_dynamo(v)) for k, v in item.items() if v is not None}

    def unmarshal(self, raw: Mapping[str, Any]) -> Item:
        return {k: _plain(self._de.deserialize(v)) for k, v in raw.items()}

    def _values(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: self._ser.serialize(_dynamo(v)) for k, v in (values or {}).items()}

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> Item | None:
        raw = self.client.get_item(
            TableName=self.name, Key=self.marshal({"pk": pk, "sk": sk}), ConsistentRead=consistent
        ).get("Item")
        return self.unmarshal(raw) if raw else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            self.client.put_item(**self.put_op(item, condition=condition, names=names, values=values)["Put"])
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise ConditionFailed(str(exc)) from exc

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        condition: str | None = None,
    ) -> Item:
        operation = self.update_op(pk, sk, expression, condition=condition, names=names, values=values)["Update"]
        try:
            response = self.client.update_item(**operation, ReturnValues="ALL_NEW")
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise ConditionFailed(str(exc)) from exc
        return self.unmarshal(response.get("Attributes", {}))

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": self.marshal({"pk": pk, "sk": sk})}
        kwargs.update(self._expression(condition, names, values))
        try:
            self.client.delete_item(**kwargs)
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise ConditionFailed(str(exc)) from exc

    def transact_put(self, items: Iterable[tuple[Mapping[str, Any], str | None]]) -> None:
        """Put several items atomically; each may carry a condition expression."""
        self.transact([self.put_op(item, condition=condition) for item, condition in items])

    def transact(self, operations: Iterable[dict[str, Any]]) -> None:
        """Apply ``*_op`` operations atomically: all of them, or none if any condition fails."""
        try:
            self.client.transact_write_items(TransactItems=list(operations))
        except self.client.exceptions.TransactionCanceledException as exc:
            raise ConditionFailed(str(exc)) from exc

    def _expression(
        self, condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if condition:
            out["ConditionExpression"] = condition
        if names:
            out["ExpressionAttributeNames"] = dict(names)
        if values:
            out["ExpressionAttributeValues"] = self._values(values)
        return out

    def put_op(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "Put": {"TableName": self.name, "Item": self.marshal(item), **self._expression(condition, names, values)}
        }

    def update_op(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = self.marshal({"pk": pk, "sk": sk})
        extra = self._expression(condition, names, values)
        return {"Update": {"TableName": self.name, "Key": key, "UpdateExpression": expression, **extra}}

    def delete_op(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = self.marshal({"pk": pk, "sk": sk})
        return {"Delete": {"TableName": self.name, "Key": key, **self._expression(condition, names, values)}}

    def check_op(
        self,
        pk: str,
        sk: str,
        condition: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = self.marshal({"pk": pk, "sk": sk})
        return {"ConditionCheck": {"TableName": self.name, "Key": key, **self._expression(condition, names, values)}}

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        sk_at_most: str | None = None,
        index: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        forward: bool = True,
        consistent: bool = False,
        sk_between: tuple[str, str] | None = None,
        where: Filter | None = None,
    ) -> tuple[list[Item], str | None]:
        """One page of a partition, optionally narrowed to a sort-key prefix, an upper bound or an
        inclusive sort-key range, and filtered by ``where`` (applied after ``limit``, as DynamoDB does).

        The cursor is an opaque URL-safe token wrapping DynamoDB's LastEvaluatedKey.
        """
        pk_name, sk_name = ("gsi1pk", "gsi1sk") if index == "gsi1" else ("pk", "sk")
        condition = "#pk = :pk"
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": pk}
        if sk_prefix and sk_at_most:
            raise ValueError("a query takes a sort-key prefix or an upper bound, not both")
        if sk_prefix:
            condition += " AND begins_with(#sk, :sk)"
            names["#sk"] = sk_name
            values[":sk"] = sk_prefix
        elif sk_between:
            condition += " AND #sk BETWEEN :sklo AND :skhi"
            names["#sk"] = sk_name
            values[":sklo"], values[":skhi"] = sk_between
        elif sk_at_most:
            condition += " AND #sk <= :sk"
            names["#sk"] = sk_name
            values[":sk"] = sk_at_most
        if where is not None and where.expression:
            names.update(where.names)
            values.update(where.values)
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": self._values(values),
            "ScanIndexForward": forward,
        }
        if where is not None and where.expression:
            kwargs["FilterExpression"] = where.expression
        if consistent:
            kwargs["ConsistentRead"] = True  # base table only: a GSI is never strongly consistent
        if index:
            kwargs["IndexName"] = index
        if limit:
            kwargs["Limit"] = limit
        if cursor:
            start = decode_cursor(cursor)
            # A cursor only continues the partition it came from; anything else is forged.
            if start.get(pk_name) != {"S": pk}:
                raise Invalid("invalid argument: cursor does not belong to this listing")
            kwargs["ExclusiveStartKey"] = start
        response = self.client.query(**kwargs)
        items = [self.unmarshal(raw) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, encode_cursor(last) if last else None

    def query_all(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        index: str | None = None,
        consistent: bool = False,
        sk_between: tuple[str, str] | None = None,
    ) -> list[Item]:
        items: list[Item] = []
        cursor: str | None = None
        while True:
            page, cursor = self.query(
                pk, sk_prefix=sk_prefix, index=index, cursor=cursor, consistent=consistent, sk_between=sk_between
            )
            items.extend(page)
            if not cursor:
                return items


def encode_cursor(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise Invalid("invalid argument: cursor is malformed") from exc
    if not isinstance(key, dict) or not all(isinstance(v, dict) for v in key.values()):
        raise Invalid("invalid argument: cursor is malformed")
    return key
