"""Deferred deletion of lake objects.

Compaction and retention take files out of the manifest at once, but never delete their
objects at once: a query planned a moment earlier may still be reading them. The objects
are recorded here instead and deleted by ``sweep`` once a grace period, longer than any
query may run, has passed.

Two kinds of item live in the org's ``ORG#<org>#LAKEGC`` partition, both indexed on gsi1
(``LAKEGC`` / ``<delete_after_us>#<org>#<sk>``) so one query finds everything due:

``GRACE#<delete_after_us>#<label>``
    Objects no manifest lists any more (inputs of a compaction, files past retention). It
    is written in the same transaction that removes their manifest entries, so an object
    is never unlisted without being scheduled for deletion. It also names those entries,
    and the sweep keeps any object whose entry exists again (which nothing should do).

``PENDING#<object key>``
    A compaction output being written. It is put *before* the object and deleted by the
    transaction that lists the object, so an output a crashed compactor left behind is
    found and removed without listing S3. Its ``state`` closes the race with a compactor
    re-running the same inputs (same deterministic name): the sweep first turns a stale
    ``pending`` into ``doomed`` (a conditional write); a commit requires ``pending`` and a
    reservation refuses ``doomed``, so once doomed the object can never become listed, and
    it is deleted one grace period later, before the item goes.

Every step is idempotent: deleting an object twice is harmless, and an item is deleted only
after its objects, so a sweep that dies half-way is simply repeated.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from molesignal import aws
from molesignal.clock import now_us as clock_now_us
from molesignal.observability import logger
from molesignal.storage.table import ConditionFailed, Item, Table

GC_INDEX_PARTITION = "LAKEGC"
DEFAULT_GRACE_S = 15 * 60  # far longer than a query may run (25 s embedded, Athena included)
DEFAULT_PENDING_TTL_S = 60 * 60  # longer than a compaction round can take (Lambda: 15 min max)
PENDING, DOOMED = "pending", "doomed"
_S3_DELETE_BATCH = 1000


def gc_partition(org_id: str) -> str:
    return f"ORG#{org_id}#LAKEGC"


def pending_sort_key(object_key: str) -> str:
    return f"PENDING#{object_key}"


def _index_key(org_id: str, sk: str, delete_after_us: int) -> dict[str, str]:
    return {"gsi1pk": GC_INDEX_PARTITION, "gsi1sk": f"{delete_after_us:020d}#{org_id}#{sk}"}


def _grace_op(
    table: Table,
    org_id: str,
    *,
    keys: list[str],
    entries: list[list[str]],
    delete_after_us: int,
    reason: str,
    label: str | None,
    bucket: str | None = None,
) -> dict[str, Any]:
    sk = f"GRACE#{delete_after_us:020d}#{label or secrets.token_hex(8)}"
    item = {
        "pk": gc_partition(org_id),
        "sk": sk,
        "kind": "lake_garbage",
        "org_id": org_id,
        **({"bucket": bucket} if bucket else {}),
        "keys": keys,
        "entries": entries,
        "reason": reason,
        "delete_after_us": delete_after_us,
        "created_at_us": clock_now_us(),
        **_index_key(org_id, sk, delete_after_us),
    }
    return {
        "Put": {"TableName": table.name, "Item": table.marshal(item), "ConditionExpression": "attribute_not_exists(pk)"}
    }


def grace_put(
    table: Table,
    org_id: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    delete_after_us: int,
    reason: str,
    label: str | None = None,
) -> dict[str, Any]:
    """A transaction operation scheduling the objects of the manifest ``entries`` it removes
    for deletion after ``delete_after_us``."""
    return _grace_op(
        table,
        org_id,
        keys=[str(e["key"]) for e in entries],
        # where each object was listed: the sweep re-checks, and never deletes a listed object
        entries=[[str(e["pk"]), str(e["sk"])] for e in entries],
        delete_after_us=delete_after_us,
        reason=reason,
        label=label,
    )


def grace_put_objects(
    table: Table,
    org_id: str,
    object_keys: Sequence[str],
    *,
    bucket: str,
    delete_after_us: int,
    reason: str,
    label: str | None = None,
) -> dict[str, Any]:
    """A transaction operation scheduling objects no manifest lists (a deleted row's stored
    files, in the blob bucket) for deletion after ``delete_after_us``."""
    return _grace_op(
        table,
        org_id,
        keys=list(object_keys),
        entries=[],
        delete_after_us=delete_after_us,
        reason=reason,
        label=label,
        bucket=bucket,
    )


class Blocked(Exception):
    """The output name is being swept as an abandoned object; try again after the sweep."""


def reserve_output(
    table: Table,
    org_id: str,
    object_key: str,
    *,
    manifest_pk: str,
    manifest_sk: str,
    ttl_s: float = DEFAULT_PENDING_TTL_S,
    now_us: int | None = None,
    bucket: str | None = None,
) -> None:
    """Record that ``object_key`` is about to be written (before writing it); ``bucket``
    when it is not a lake object (a table's stored file, in the blob bucket)."""
    moment = clock_now_us() if now_us is None else now_us
    delete_after = moment + int(ttl_s * 1_000_000)
    sk = pending_sort_key(object_key)
    item = {
        "pk": gc_partition(org_id),
        "sk": sk,
        "kind": "lake_pending",
        "org_id": org_id,
        "state": PENDING,
        "key": object_key,
        "manifest_pk": manifest_pk,
        "manifest_sk": manifest_sk,
        "delete_after_us": delete_after,
        "created_at_us": moment,
        **_index_key(org_id, sk, delete_after),
    }
    if bucket is not None:
        item["bucket"] = bucket
    try:
        table.put(
            item,
            condition="attribute_not_exists(pk) OR #state = :pending",
            names={"#state": "state"},
            values={":pending": PENDING},
        )
    except ConditionFailed as exc:
        raise Blocked(object_key) from exc


def release_output(table: Table, org_id: str, object_key: str) -> dict[str, Any]:
    """The transaction operation that turns a reserved output into a listed one."""
    return {
        "Delete": {
            "TableName": table.name,
            "Key": table.marshal({"pk": gc_partition(org_id), "sk": pending_sort_key(object_key)}),
            "ConditionExpression": "#state = :pending",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": table.marshal({":pending": PENDING}),
        }
    }


def abandon_outputs(table: Table, org_id: str, bucket: str, object_keys: Sequence[str]) -> None:
    """Best effort, for reserved objects whose commit will not come (their statement failed):
    each object, then its reservation. What fails here is left to the sweep, as after a crash."""
    s3 = aws.client("s3")
    for key in object_keys:
        try:
            s3.delete_object(Bucket=bucket, Key=key)
            table.delete(gc_partition(org_id), pending_sort_key(key))
        except Exception:
            logger.warning("abandoned object left to the sweep", extra={"key": key}, exc_info=True)


@dataclass
class SweepResult:
    objects_deleted: int = 0
    items_done: int = 0
    abandoned_outputs: int = 0
    truncated: bool = False

    def add(self, other: SweepResult) -> None:
        self.objects_deleted += other.objects_deleted
        self.items_done += other.items_done
        self.abandoned_outputs += other.abandoned_outputs
        self.truncated = self.truncated or other.truncated


def _due(table: Table, now_us: int, limit: int) -> tuple[list[tuple[str, str]], bool]:
    """(pk, sk) of items due by ``now_us``, oldest first — from the (eventually consistent) index."""
    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p AND gsi1sk <= :upto",
        "ExpressionAttributeValues": {":p": {"S": GC_INDEX_PARTITION}, ":upto": {"S": f"{now_us:020d}~"}},
        "ProjectionExpression": "pk, sk",
    }
    found: list[tuple[str, str]] = []
    while True:
        page = table.client.query(**kwargs)
        found.extend((raw["pk"]["S"], raw["sk"]["S"]) for raw in page.get("Items", []))
        if len(found) >= limit:
            return found[:limit], True
        if "LastEvaluatedKey" not in page:
            return found, False
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _delete_objects(bucket: str, object_keys: list[str]) -> int:
    s3 = aws.client("s3")
    for start in range(0, len(object_keys), _S3_DELETE_BATCH):
        chunk = object_keys[start : start + _S3_DELETE_BATCH]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        errors = response.get("Errors") or []
        if errors:
            raise RuntimeError(f"could not delete {len(errors)} lake objects, e.g. {errors[0]}")
    return len(object_keys)


def sweep(
    table: Table,
    bucket: str,
    *,
    now_us: int | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    limit: int = 500,
) -> SweepResult:
    """Delete the objects whose time has come; at most ``limit`` items per call."""
    moment = clock_now_us() if now_us is None else now_us
    result = SweepResult()
    due, result.truncated = _due(table, moment, limit)
    for pk, sk in due:
        item = table.get(pk, sk)  # the index may be stale: act on the item as it is now
        if item is None or int(item["delete_after_us"]) > moment:
            continue
        if sk.startswith("GRACE#"):
            object_keys = list(item.get("keys") or ())
            listed = _still_listed(table, item)
            if listed:  # cannot happen by design; never turn a bug into lost data
                logger.error("garbage still listed in a manifest; kept", extra={"keys": sorted(listed)})
                object_keys = [k for k in object_keys if k not in listed]
            result.objects_deleted += _delete_objects(str(item.get("bucket") or bucket), object_keys)
            table.delete(pk, sk)
            result.items_done += 1
        elif item.get("state") == PENDING:
            result.abandoned_outputs += _doom(table, item, moment, grace_s)
        elif item.get("state") == DOOMED:
            result.objects_deleted += _delete_objects(str(item.get("bucket") or bucket), [str(item["key"])])
            if _delete_doomed(table, pk, sk):
                result.items_done += 1
    return result


def _still_listed(table: Table, item: Item) -> set[str]:
    """Object keys of ``item`` whose manifest entry exists (again)."""
    entries = [(str(pk), str(sk)) for pk, sk in item.get("entries") or ()]
    by_entry = dict(zip(entries, item.get("keys") or (), strict=False))
    listed: set[str] = set()
    for start in range(0, len(entries), 100):
        request: dict[str, Any] = {
            table.name: {
                "Keys": [table.marshal({"pk": pk, "sk": sk}) for pk, sk in entries[start : start + 100]],
                "ProjectionExpression": "pk, sk",
                "ConsistentRead": True,
            }
        }
        while request:
            response = table.client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table.name, []):
                listed.add(str(by_entry[(raw["pk"]["S"], raw["sk"]["S"])]))
            request = response.get("UnprocessedKeys") or {}
    return listed


def _delete_doomed(table: Table, pk: str, sk: str) -> bool:
    client = table.client
    try:
        client.delete_item(
            TableName=table.name,
            Key=table.marshal({"pk": pk, "sk": sk}),
            ConditionExpression="#state = :doomed",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=table.marshal({":doomed": DOOMED}),
        )
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _doom(table: Table, item: Item, now_us: int, grace_s: float) -> int:
    """A reservation older than its TTL: its compactor died or lost. 1 if its object must go."""
    pk, sk = str(item["pk"]), str(item["sk"])
    delete_after = now_us + int(grace_s * 1_000_000)
    try:
        table.update(
            pk,
            sk,
            "SET #state = :doomed, delete_after_us = :after, gsi1sk = :index",
            names={"#state": "state"},
            values={
                ":doomed": DOOMED,
                ":after": delete_after,
                ":index": _index_key(str(item["org_id"]), sk, delete_after)["gsi1sk"],
                ":pending": PENDING,
                ":seen": int(item["delete_after_us"]),
            },
            condition="#state = :pending AND delete_after_us = :seen",
        )
    except ConditionFailed:
        return 0  # refreshed by a compactor re-running it, or already handled
    # No commit can list the object from now on. If one did before, the object is live.
    if table.get(str(item["manifest_pk"]), str(item["manifest_sk"])) is not None:
        _delete_doomed(table, pk, sk)
        return 0
    return 1


def new_delete_after(grace_s: float, now_us: int | None = None) -> int:
    return (clock_now_us() if now_us is None else now_us) + int(grace_s * 1_000_000)
