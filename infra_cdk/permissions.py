"""What each function may touch, as plain data: the least-privilege table of the stack.

Every function name from ``registry.REGISTRY`` (HTTP groups, the authorizer, workers and
schedules) is looked up here; a function without an entry gets ``DEFAULT`` (the single
table only), so a new function starts with the narrowest useful grant and fails closed
(AccessDenied) until its needs are written down here. Logical names are the ones in
``molesignal.resources``. A queue worker's right to consume its own queue comes from its
event source mapping and is not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from molesignal.resources import RESOURCES

TableAccess = Literal["none", "read", "read_write"]


@dataclass(frozen=True)
class Needs:
    table: TableAccess = "read_write"
    secrets: tuple[str, ...] = ()  # GetSecretValue
    read_buckets: tuple[str, ...] = ()  # GetObject, ListBucket
    put_buckets: tuple[str, ...] = ()  # PutObject
    delete_buckets: tuple[str, ...] = ()  # DeleteObject
    send_queues: tuple[str, ...] = ()  # SendMessage, GetQueueUrl, GetQueueAttributes
    consume_queues: tuple[str, ...] = ()  # ReceiveMessage, DeleteMessage, ...; a DLQ is "<queue>-dlq"
    watch_buckets: tuple[str, ...] = ()  # ListBucket on the bucket itself (HeadBucket), no object
    watch_queues: tuple[str, ...] = ()  # GetQueueUrl, GetQueueAttributes (depth), no message
    # Athena queries in the stack's workgroup; Glue tables of its database; the results prefix
    # of the exports bucket. Athena reads the lake with the caller's rights: add read_buckets.
    athena: bool = False
    encrypt_keys: tuple[str, ...] = ()  # kms:GenerateDataKey (envelope encryption)
    decrypt_keys: tuple[str, ...] = ()  # kms:Decrypt
    sign_keys: tuple[str, ...] = ()  # kms:Sign, kms:GetPublicKey (asymmetric keys)
    public_keys: tuple[str, ...] = ()  # kms:GetPublicKey


DEFAULT = Needs()

NEEDS: dict[str, Needs] = {
    # Verifies access JWTs (signing key) and API tokens (table; records last use).
    "authorizer": Needs(secrets=("jwt-signing-key",)),
    # Mints access and refresh JWTs.
    "auth_api": Needs(secrets=("jwt-signing-key",)),
    # Orgs, users, quotas, audit: table only. Revoking sessions needs no signing key.
    "admin_api": Needs(),
    # Health, /metrics (reads counters from the table), OpenAPI, the catch-all; cluster
    # health probes every bucket and queue without touching their contents.
    "platform_api": Needs(
        watch_buckets=tuple(b.logical for b in RESOURCES.buckets),
        watch_queues=tuple(name for q in RESOURCES.queues for name in (q.logical, q.dlq_logical)),
    ),
    # Deletes expired sessions, throttle counters and rate windows.
    "housekeeping_worker": Needs(),
    # Answers 202 and enqueues; payloads too large for SQS go to the lake bucket (claim
    # check). Root's DLQ routes read the DLQ's depth and move its messages back.
    "ingest_api": Needs(put_buckets=("lake",), send_queues=("ingest",), consume_queues=("ingest-dlq",)),
    # Lands records as Parquet, reads and then deletes claim-checked payloads, and merges the
    # small files of the hours it just wrote to (reads them, writes the merge; ADR 0011).
    # Consuming its own queue comes with its event source mapping.
    "ingest_worker": Needs(read_buckets=("lake",), put_buckets=("lake",), delete_buckets=("lake",)),
    # Reads small lake files, writes their merge, deletes replaced objects after the grace period
    # (its garbage sweep also deletes the files of deleted SQL-table rows from the blob bucket).
    "compaction_worker": Needs(read_buckets=("lake",), put_buckets=("lake",), delete_buckets=("lake", "blobs")),
    # Removes expired manifest entries (table) and deletes their objects after the grace period.
    "retention_worker": Needs(delete_buckets=("lake", "blobs")),
    # SQL over the lake: DuckDB reads the manifest's files itself; Athena reads them with this
    # role's rights, keeps one Glue table per stream and writes results under athena-results/.
    # SQL tables (spec 004): DML writes new files copy-on-write and deletes a failed statement's
    # own outputs; FILE columns store, serve and abandon uploads in the blob bucket.
    "query_api": Needs(
        read_buckets=("lake", "blobs"),
        put_buckets=("lake", "blobs"),
        delete_buckets=("lake", "blobs"),
        athena=True,
    ),
    # OTLP receiver: like ingest_api (claim check, enqueue), plus per-org content data keys
    # from the content KMS key. The session-content read decrypts them and queries the
    # content stream like query_api does (Athena when the scan outgrows the function).
    "otlp_api": Needs(
        read_buckets=("lake",),
        put_buckets=("lake",),
        send_queues=("ingest",),
        athena=True,
        encrypt_keys=("content",),
        decrypt_keys=("content",),
    ),
    # Audit events (spec 001): answers 202 and enqueues to the FIFO events queue; batches too
    # large for SQS are claim-checked in the lake bucket. Reading events queries the lake.
    # Exports: creates jobs (table, exports queue) and presigns downloads (a GET on the
    # exports bucket, signed with this role's rights).
    # Verification and proofs read the lake directly; checkpoints carry the signing key's public half.
    "events_api": Needs(
        read_buckets=("lake", "exports"),
        put_buckets=("lake",),
        send_queues=("events", "exports"),
        athena=True,
        public_keys=("events-signing",),
    ),
    # Streams query results from the lake into export files.
    "export_worker": Needs(read_buckets=("lake",), put_buckets=("exports",)),
    # Chains each org's events and lands them as audit_events rows; deletes claim checks.
    "events_worker": Needs(
        read_buckets=("lake",), put_buckets=("lake",), delete_buckets=("lake",), sign_keys=("events-signing",)
    ),
    # Signs each org's chain head when it has moved since the last checkpoint.
    "checkpoint_worker": Needs(sign_keys=("events-signing",)),
}


def needs_of(function_name: str) -> Needs:
    return NEEDS.get(function_name, DEFAULT)
