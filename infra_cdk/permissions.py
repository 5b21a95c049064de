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
    tier_buckets: tuple[str, ...] = ()  # Get/PutObjectTagging, RestoreObject (storage tiers, pins)
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
    seal_keys: tuple[str, ...] = ()  # kms:Encrypt, kms:Decrypt (small secrets sealed by KMS itself)
    send_email: bool = False  # ses:SendEmail from the configured alert sender identity only
    publish_alerts: bool = False  # sns:Publish to topics named with the alert topic prefix
    # s3:PutObject(Acl) in buckets outside the stack that their owners name (log streams); the
    # owner's bucket policy decides whether the write is allowed.
    customer_buckets: bool = False
    # execute-api:ManageConnections on the WebSocket API: post live-query frames to connections
    # (PostToConnection) and close them (DeleteConnection).
    live_connections: bool = False


DEFAULT = Needs()

NEEDS: dict[str, Needs] = {
    # Verifies access JWTs (signing key) and API tokens (table; records last use).
    "authorizer": Needs(secrets=("jwt-signing-key",)),
    # Mints access and refresh JWTs.
    "auth_api": Needs(secrets=("jwt-signing-key",)),
    # Orgs, users, quotas, audit: table only. Revoking sessions needs no signing key.
    "admin_api": Needs(),
    # Topics: definitions, messages and group offsets are items of the table (ADR 0020).
    "topics_api": Needs(),
    # Health, /metrics (reads counters from the table), OpenAPI, the catch-all; cluster
    # health probes every bucket and queue without touching their contents.
    "platform_api": Needs(
        watch_buckets=tuple(b.logical for b in RESOURCES.buckets),
        watch_queues=tuple(name for q in RESOURCES.queues for name in (q.logical, q.dlq_logical)),
    ),
    # Deletes expired sessions, throttle counters and rate windows.
    "housekeeping_worker": Needs(),
    # Publishes the outbox's committed changes to topics (table), reading the rows of large
    # changes from the lake bucket's outbox/ objects and deleting them once published.
    "outbox_worker": Needs(read_buckets=("lake",), delete_buckets=("lake",)),
    # Answers 202 and enqueues; payloads too large for SQS go to the lake bucket (claim
    # check). Root's DLQ routes read the DLQ's depth and move its messages back.
    # Quota rejections raise a platform event on the alert queue (every function that calls the
    # limiter: ingest_api, query_api, otlp_api, events_api).
    "ingest_api": Needs(
        put_buckets=("lake",), send_queues=("ingest", "alert-delivery"), consume_queues=("ingest-dlq",)
    ),
    # Lands records as Parquet, reads and then deletes claim-checked payloads, and merges the
    # small files of the hours it just wrote to (reads them, writes the merge; ADR 0011).
    # Consuming its own queue comes with its event source mapping. Evaluating realtime alert
    # rules on the rows it lands, it enqueues their notifications.
    # Posts each landed batch's rows to live-tail subscribers (docs/live.md).
    "ingest_worker": Needs(
        read_buckets=("lake",),
        put_buckets=("lake",),
        delete_buckets=("lake",),
        send_queues=("alert-delivery",),
        live_connections=True,
    ),
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
        send_queues=("alert-delivery",),
        live_connections=True,  # committed SQL-table changes go to live subscribers
    ),
    # Live queries (GET /v1/ws): verifies JWTs, runs each subscription's initial SELECT (as
    # query_api reads: DuckDB over the lake), answers and closes connections.
    "live_ws": Needs(secrets=("jwt-signing-key",), read_buckets=("lake", "blobs"), live_connections=True),
    # OTLP receiver: like ingest_api (claim check, enqueue), plus per-org content data keys
    # from the content KMS key. The session-content read decrypts them and queries the
    # content stream like query_api does (Athena when the scan outgrows the function).
    "otlp_api": Needs(
        read_buckets=("lake",),
        put_buckets=("lake",),
        send_queues=("ingest", "alert-delivery"),
        athena=True,
        encrypt_keys=("content",),
        decrypt_keys=("content",),
    ),
    # Audit events (spec 001): answers 202 and enqueues to the FIFO events queue; batches too
    # large for SQS are claim-checked in the lake bucket. Reading events queries the lake.
    # Exports: creates jobs (table, exports queue) and presigns downloads (a GET on the
    # exports bucket, signed with this role's rights).
    # Verification and proofs read the lake directly; checkpoints carry the signing key's public half.
    # Log streams: seals their secrets (and opens them for a test delivery), queues an S3
    # stream's test delivery, and moves an org's dead letters from the fan-out DLQ back.
    "events_api": Needs(
        read_buckets=("lake", "exports"),
        put_buckets=("lake",),
        send_queues=("events", "exports", "alert-delivery", "fanout"),
        consume_queues=("fanout-dlq",),
        athena=True,
        public_keys=("events-signing",),
        seal_keys=("destinations",),
    ),
    # Streams query results from the lake into export files; a scheduled export's file is then
    # copied to the customer's bucket or announced to a webhook (opening its sealed secret).
    "export_worker": Needs(
        read_buckets=("lake", "exports"),
        put_buckets=("exports",),
        decrypt_keys=("destinations",),
        customer_buckets=True,
    ),
    # Creates the export jobs of due schedules: plans their SQL (the manifest in the table) and
    # queues them on the exports queue.
    "export_scheduler": Needs(send_queues=("exports",)),
    # Chains each org's events and lands them as audit_events rows; deletes claim checks.
    # Realtime alert rules on audit_events run on the rows it lands and enqueue notifications;
    # then it queues each landed batch for the org's log streams (large chunks claim-checked),
    # and posts the chained events to live-tail subscribers of audit_events (docs/live.md).
    "events_worker": Needs(
        read_buckets=("lake",),
        put_buckets=("lake",),
        delete_buckets=("lake",),
        send_queues=("alert-delivery", "fanout"),
        sign_keys=("events-signing",),
        live_connections=True,
    ),
    # Delivers to log streams: reads (then deletes) claim-checked chunks, opens the streams'
    # sealed secrets, writes to customers' buckets, and sends a refused delivery to the DLQ.
    "fanout_worker": Needs(
        read_buckets=("lake",),
        delete_buckets=("lake",),
        send_queues=("fanout-dlq",),
        decrypt_keys=("destinations",),
        customer_buckets=True,
    ),
    # Signs each org's chain head when it has moved since the last checkpoint.
    "checkpoint_worker": Needs(sign_keys=("events-signing",)),
    # Test-run traces (spec 003): content-addressed blobs and event chunks in the blob bucket,
    # pins as object tags, cold restores; the internal token for the live feed; replays queued.
    "traces_api": Needs(
        secrets=("trace-internal-token",),
        read_buckets=("blobs",),
        put_buckets=("blobs",),
        delete_buckets=("blobs",),
        tier_buckets=("blobs",),
        send_queues=("replays",),
    ),
    # Reads queued replays and the org's runner (table), calls the runner over HTTPS, and
    # queues the check of an accepted replay's upload deadline.
    "replay_worker": Needs(send_queues=("replays",)),
    # Rewrites aged trace objects in colder classes (what the lifecycle rules do on AWS) and
    # finishes restores: reads, copies in place, reads tags.
    "trace_tiering_worker": Needs(read_buckets=("blobs",), put_buckets=("blobs",), tier_buckets=("blobs",)),
    # Alert destinations (secrets sealed and opened with the alerts key) and their test sends;
    # dead deliveries: the DLQ's depth and redrive (back onto the delivery queue).
    "alerts_api": Needs(
        seal_keys=("alerts",),
        decrypt_keys=("alerts",),
        send_email=True,
        publish_alerts=True,
        send_queues=("alert-delivery",),
        consume_queues=("alert-delivery-dlq",),
    ),
    # Sends notifications (opens destination secrets; SES, SNS, HTTP), moves a delivery that
    # failed its last attempt to the DLQ itself, and enqueues the alerts of quota events.
    "alert_delivery_worker": Needs(
        decrypt_keys=("alerts",),
        send_email=True,
        publish_alerts=True,
        send_queues=("alert-delivery", "alert-delivery-dlq"),
    ),
    # Runs scheduled rules' queries (like query_api: DuckDB, or Athena for large scans),
    # enqueues notifications, and reads every DLQ's depth for root's alerts.
    "alert_evaluation_worker": Needs(
        read_buckets=("lake",),
        athena=True,
        send_queues=("alert-delivery",),
        watch_queues=tuple(queue.dlq_logical for queue in RESOURCES.queues),
    ),
}


def needs_of(function_name: str) -> Needs:
    return NEEDS.get(function_name, DEFAULT)
