"""Changes to moto (5.2.x) that a long-lived local system needs; its answers stay the same.

1. **Every model object moto ever made stays in memory.** moto's ``BaseModel`` appends each
   instance to its class's ``instances_tracked`` list (for ``/moto-api/data.json`` and
   ``reset``), and nothing removes it: every DynamoDB ``Item`` ever written, every copy of
   one, every deleted S3 key. A `make dev` that ingested for a while grew by gigabytes.
   The lists become weak: an object stays listed while something else keeps it alive.

2. **A DynamoDB transaction copied every table it touched, whole.** ``transact_write_items``
   deep-copies each table named in the transaction to roll back to, so each transaction
   costs time in proportion to the table (0.5 s at 5,000 items, 3 s at 20,000), and the
   single table holds all of MoleSignal's metadata. The rollback copy becomes the items the
   transaction names, taken before it runs; moto's own rollback puts a marker where the table
   was, and the marker is replaced by the table with those items restored.

3. **A DynamoDB Query read the whole table, sorted.** ``Table.query`` on the table's own key
   takes every item of the table (``all_items`` sorts them all) and keeps those of the asked
   partition, so one Query of 51 items cost seconds once the table held a few hundred
   thousand (the traces list over 100,000 traces). During such a Query ``all_items`` answers
   the asked partition's items only; moto sorts and pages them as before.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import threading
import weakref
from collections.abc import Iterator
from typing import Any

PARSED_EXPRESSIONS_KEPT = 512

_IMMUTABLE = (str, int, float, bool, type(None))

_applied = False
_applied_lock = threading.Lock()
_rollback = threading.local()
_partition = threading.local()


class LiveInstances:
    """A list-like record of the instances of a class that are still alive."""

    def __init__(self, existing: Any = ()) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}
        for instance in existing:
            self.append(instance)

    def append(self, instance: Any) -> None:
        key = id(instance)
        refs = self._refs

        def forget(_ref: Any) -> None:
            refs.pop(key, None)

        # An object that cannot be weakly referenced goes unlisted (moto only reads the list
        # for introspection and reset).
        with contextlib.suppress(TypeError):
            refs[key] = weakref.ref(instance, forget)

    def __iter__(self) -> Iterator[Any]:
        alive = (ref() for ref in list(self._refs.values()))
        return iter([instance for instance in alive if instance is not None])

    def __len__(self) -> int:
        return len(self._refs)

    def clear(self) -> None:
        self._refs.clear()


_weakened_classes = -1  # how many model classes moto had when they were last made weak


def weaken_instance_trackers(*, force: bool = False) -> None:
    """Swap every moto model class's ``instances_tracked`` list for a weak one. Newly imported
    services bring new classes (the count of registered classes grows: cheap to check per
    request); moto's reset puts plain lists back on the same classes: ``force`` then."""
    global _weakened_classes
    from moto.core import base_backend

    model_data: dict[str, dict[str, Any]] = base_backend.model_data  # type: ignore[attr-defined]
    registered = sum(len(classes) for classes in list(model_data.values()))
    if registered == _weakened_classes and not force:
        return
    _weakened_classes = registered
    for classes in list(model_data.values()):
        for model in list(classes.values()):
            tracked = getattr(model, "instances_tracked", None)
            if type(tracked) is list:
                model.instances_tracked = LiveInstances(tracked)


class _TableMarker:
    """What moto's rollback copy of a table is, while our wrapper restores the real one."""


class _CopyForRollback:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: during a transaction
    a whole-table copy is a marker; everything else is copied as before."""

    def __init__(self, real: Any, table_type: type) -> None:
        self._real = real
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_rollback, "active", False) and isinstance(value, self._table_type):
            return _TableMarker()
        return self._real.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _targets(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, a copy of the item or None) for each item the transaction names."""
    saved = []
    for entry in transact_items:
        for op in entry.values():
            if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
                continue
            table = backend.tables[op["TableName"]]
            try:
                if "Item" in op:
                    keys = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        keys[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    keys = op["Key"]
                hash_key, range_key = backend.get_keys_value(table, keys)
                current = table.get_item(hash_key, range_key)
            except Exception:  # noqa: S112 - a malformed op fails in moto before it changes anything
                continue
            saved.append((table, hash_key, range_key, copy.deepcopy(current) if current is not None else None))
    return saved


def _restore(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is not None:
            if item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item


def _cheap_rollback_transactions() -> None:
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table

    backend_type = dynamodb_models.DynamoDBBackend
    original = backend_type.transact_write_items
    dynamodb_models.copy = _CopyForRollback(copy, Table)  # type: ignore[attr-defined,assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        tables = dict(self.tables)
        saved = _targets(self, transact_items)
        _rollback.active = True
        try:
            return original(self, transact_items)
        except BaseException:
            for name, table in tables.items():
                if isinstance(self.tables.get(name), _TableMarker):
                    self.tables[name] = table
            _restore(saved)
            raise
        finally:
            _rollback.active = False

    backend_type.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _partition_queries() -> None:
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        # Only a Query on the table's own key, with a range key: an index query reads across
        # partitions, and without a range key a partition is one item.
        if index_name or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        _partition.asked = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _partition.asked = None

    def all_items(self: Any) -> Any:
        asked = getattr(_partition, "asked", None)
        if asked is None or asked[0] is not self:
            return original_all_items(self)
        # .get: self.items is a defaultdict, and a Query must not create a partition.
        return list(self.items.get(asked[1], {}).values())

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _modules_listed_once() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]


def _update_expressions_parsed_once() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    original = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    parsed: dict[str, Any] = {}

    def make(cls: Any, expression_str: Any) -> Any:
        if cls is not UpdateExpressionParser or not isinstance(expression_str, str):
            return original(cls, expression_str)
        found = parsed.get(expression_str)
        if found is None:
            found = original(cls, expression_str)  # raises for a malformed one: never kept
            if len(parsed) >= PARSED_EXPRESSIONS_KEPT:
                parsed.clear()
            parsed[expression_str] = found
        return found

    UpdateExpressionParser.make = classmethod(make)  # type: ignore[method-assign,assignment]


def _validator_tables_built_once() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    tables: dict[type, tuple[tuple[type, ...], tuple[tuple[type, Any], ...]] | None] = {}

    def table(self: Any) -> tuple[tuple[type, ...], tuple[tuple[type, Any], ...]] | None:
        """(node kinds, (kind, function) pairs) of the traverser's class, or None when its
        ``_processing_map`` is not made of its own methods (then it is asked each time)."""
        kind = type(self)
        if kind not in tables:
            mapping = self._processing_map()
            own = all(getattr(f, "__self__", None) is self for f in mapping.values())
            tables[kind] = (tuple(mapping), tuple((k, f.__func__) for k, f in mapping.items())) if own else None
        return tables[kind]

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        found = table(self)
        return found[0] if found is not None else tuple(self._processing_map())

    def process(self: Any, node: Any) -> Any:
        found = table(self)
        if found is None:
            for class_key, processor in self._processing_map().items():
                if isinstance(node, class_key):
                    return processor(node)
            return None
        for class_key, function in found[1]:
            if isinstance(node, class_key):
                return function(self, node)
        return None

    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed  # type: ignore[method-assign]
    DepthFirstTraverser.process = process  # type: ignore[method-assign]


def _plain_node(kind: type, node_type: type) -> bool:
    """A parse node class that ``copy.deepcopy`` copies by its ``__dict__`` alone."""
    return (
        issubclass(kind, node_type)
        and getattr(kind, "__deepcopy__", None) is None
        and kind.__reduce_ex__ is object.__reduce_ex__
        and kind.__reduce__ is object.__reduce__
        and kind.__getstate__ is object.__getstate__  # type: ignore[attr-defined]
        and getattr(kind, "__setstate__", None) is None
        and "__slots__" not in vars(kind)
    )


def _copy_tree(value: Any, memo: dict[int, Any], plain: Any) -> Any:
    """``copy.deepcopy`` of a tree of moto's parse nodes (``type``, ``children``, ``parent``),
    made without deepcopy's generic dispatch per object: same objects shared, same parent links,
    immutable leaves kept; anything else a node holds goes through ``copy.deepcopy``."""
    if isinstance(value, _IMMUTABLE):
        return value
    found = memo.get(id(value))
    if found is not None:
        return found
    kind = type(value)
    if kind is list:
        twin_list: list[Any] = []
        memo[id(value)] = twin_list
        twin_list.extend(_copy_tree(item, memo, plain) for item in value)
        return twin_list
    if not plain(kind):
        return copy.deepcopy(value, memo)
    twin = object.__new__(kind)
    memo[id(value)] = twin
    memo.setdefault(id(memo), []).append(value)  # as deepcopy does: originals outlive the copy
    twin.__dict__.update({name: _copy_tree(item, memo, plain) for name, item in value.__dict__.items()})
    return twin


def _validators_copy_trees_directly() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    real = copy.deepcopy
    plain_kinds: dict[type, bool] = {}

    def plain(kind: type) -> bool:
        found = plain_kinds.get(kind)
        if found is None:
            found = plain_kinds[kind] = _plain_node(kind, Node)
        return found

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if plain(type(value)):
            return _copy_tree(value, {} if memo is None else memo, plain)
        return real(value, memo)

    validators.deepcopy = deepcopy  # type: ignore[attr-defined,assignment]


def _conditions_parsed_once() -> None:
    import orjson
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser.parse
    parsed: dict[bytes, tuple[Any, list[str], list[str]]] = {}

    def parse(self: Any) -> Any:
        try:
            key = orjson.dumps(
                [self.condition_expression, self.expression_attribute_names, self.expression_attribute_values],
                option=orjson.OPT_SORT_KEYS,
            )
        except TypeError:  # bytes of a binary value, or anything else not plain JSON
            return original(self)
        found = parsed.get(key)
        if found is None:
            private = type(self)(*orjson.loads(key))  # the tree must hold no request's dictionaries
            tree = original(private)  # raises for a malformed condition: never kept
            found = (tree, list(private.expr_attr_names_found), list(private.expr_attr_values_found))
            if len(parsed) >= PARSED_EXPRESSIONS_KEPT:
                parsed.clear()
            parsed[key] = found
        tree, names_found, values_found = found
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return tree

    ConditionExpressionParser.parse = parse  # type: ignore[method-assign]


def _value_size(value: Any, dynamo_type: type) -> int:
    """``DynamoType.size()`` of ``value``, by its rules, in its order of cases."""
    kind, raw = value.type, value.value
    if kind == "N":
        return len(str(raw))
    if kind in ("SS", "NS", "BS"):
        sub = kind[0]
        return sum(_value_size(dynamo_type({sub: member}), dynamo_type) for member in raw)
    if kind == "L":
        return sum(_value_size(member, dynamo_type) if type(member) is dynamo_type else member.size() for member in raw)
    if kind == "M":
        return sum(
            _bytesize(key)
            + (_value_size(member, dynamo_type) if type(member) is dynamo_type else dynamo_type(member).size())
            for key, member in raw.items()
        )
    if isinstance(raw, bool):
        return 1
    return _bytesize(raw)


def _bytesize(text: Any) -> int:
    return len(text if isinstance(text, bytes) else text.encode("utf-8"))


def _item_sizes_without_copies() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    def size(entry: Any) -> int:
        return _value_size(entry, DynamoType) if type(entry) is DynamoType else _bytesize(str(entry))

    def __setitem__(self: Any, key: str, value: Any) -> None:
        current = sum(size(k) for k in self) + sum(size(v) for v in self.values())
        if current + _bytesize(key) + size(value) > 405000:  # moto's limit
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = __setitem__  # type: ignore[method-assign,assignment]


def apply() -> None:
    global _applied
    with _applied_lock:
        if not _applied:
            _cheap_rollback_transactions()
            _partition_queries()
            _modules_listed_once()
            _update_expressions_parsed_once()
            _validator_tables_built_once()
            _validators_copy_trees_directly()
            _conditions_parsed_once()
            _item_sizes_without_copies()
            _applied = True
    weaken_instance_trackers()
