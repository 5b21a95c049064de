"""The AWS resources MoleSignal needs, as plain data.

One definition feeds three consumers: ``molesignal.provision`` (emulator, ``make dev``,
tests), the CDK stack in ``infra_cdk/``, and the settings' name derivation. Importing
it must stay free of boto3 and CDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: str = "S"  # DynamoDB scalar type


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute


@dataclass(frozen=True)
class TableDef:
    logical: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute
    indexes: tuple[GlobalIndex, ...] = ()
    ttl_attribute: str = "expires_at"


@dataclass(frozen=True)
class Tiering:
    """Storage classes by age for objects under ``prefix`` tagged ``tag_key=tag_auto``.

    The CDK stack turns this into lifecycle rules; objects tagged otherwise (a pinned
    trace's) never move. The emulator stores lifecycle rules but never applies them, so
    the trace tiering job applies the same numbers itself (molesignal.traces.tiers).
    """

    prefix: str
    tag_key: str
    tag_auto: str
    tag_pinned: str
    warm_after_days: int  # STANDARD_IA: S3 allows it from 30 days
    cold_after_days: int  # GLACIER (Flexible Retrieval): reads need a restore


@dataclass(frozen=True)
class BucketDef:
    logical: str
    purpose: str
    tiering: Tiering | None = None


@dataclass(frozen=True)
class QueueDef:
    logical: str
    visibility_timeout_s: int = 120
    max_receive_count: int = 5  # deliveries before a message is redriven to the DLQ
    dlq_retention_s: int = 14 * 24 * 3600
    # FIFO: messages of one group (an org) are delivered one batch at a time, in order; the
    # queue and its DLQ are then named "<name>.fifo", as SQS requires.
    fifo: bool = False

    @property
    def dlq_logical(self) -> str:
        return f"{self.logical}-dlq"


def fifo_logicals(resources: Resources) -> frozenset[str]:
    """Logical names (queues and their DLQs) of the FIFO queues."""
    return frozenset(name for q in resources.queues if q.fifo for name in (q.logical, q.dlq_logical))


@dataclass(frozen=True)
class SecretDef:
    logical: str
    description: str
    generate_bytes: int = 64


@dataclass(frozen=True)
class KeyDef:
    """A KMS key, addressed by its alias ``alias/<prefix>-<logical>``."""

    logical: str
    description: str
    usage: str = "ENCRYPT_DECRYPT"  # or SIGN_VERIFY
    spec: str = "SYMMETRIC_DEFAULT"  # or ECC_NIST_P256 for signing


@dataclass(frozen=True)
class Resources:
    table: TableDef
    buckets: tuple[BucketDef, ...] = field(default_factory=tuple)
    queues: tuple[QueueDef, ...] = field(default_factory=tuple)
    secrets: tuple[SecretDef, ...] = field(default_factory=tuple)
    keys: tuple[KeyDef, ...] = field(default_factory=tuple)


TABLE = TableDef(
    logical="table",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    indexes=(GlobalIndex("gsi1", KeyAttribute("gsi1pk"), KeyAttribute("gsi1sk")),),
)

RESOURCES = Resources(
    table=TABLE,
    buckets=(
        BucketDef("lake", "Parquet lake and claim-checked raw payloads"),
        BucketDef(
            "blobs",
            "content-addressed blobs (sha256) and test-run trace bundles",
            tiering=Tiering(
                prefix="traces/",
                tag_key="molesignal-tier",
                tag_auto="auto",
                tag_pinned="pinned",
                warm_after_days=30,
                cold_after_days=90,
            ),
        ),
        BucketDef("exports", "export files served through presigned links"),
    ),
    queues=(
        QueueDef("ingest", visibility_timeout_s=120, max_receive_count=5),
        # Audit events, grouped by org: the hash chain needs each org's batches in order.
        QueueDef("events", visibility_timeout_s=120, max_receive_count=5, fifo=True),
        QueueDef("exports", visibility_timeout_s=900, max_receive_count=3),
        # Layer 2 replays waiting for dispatch to the org's runner.
        QueueDef("replays", visibility_timeout_s=60, max_receive_count=3),
        # One message per notification and destination; the worker sets its own backoff.
        QueueDef("alert-delivery", visibility_timeout_s=180, max_receive_count=5),
        # One message per log stream and chunk of a chained batch; the worker backs off between
        # attempts (it sets the message's visibility), and the 8th failure goes to the DLQ.
        QueueDef("fanout", visibility_timeout_s=120, max_receive_count=8),
    ),
    secrets=(
        SecretDef("jwt-signing-key", "HMAC key that signs MoleSignal access and refresh JWTs"),
        SecretDef("trace-internal-token", "x-internal-token that internal services present to stream trace events"),
    ),
    keys=(
        KeyDef("content", "Wraps the per-org data keys that encrypt OTLP session content"),
        KeyDef(
            "events-signing",
            "Signs checkpoints of each org's audit-event hash chain (ECDSA P-256)",
            usage="SIGN_VERIFY",
            spec="ECC_NIST_P256",
        ),
        KeyDef("alerts", "Seals alert destination secrets: signing secrets, header values, Slack URLs"),
        KeyDef("destinations", "Seals the secrets of outbound destinations: signing secrets, API keys, tokens"),
    ),
)


def tiering_of(logical: str, resources: Resources = RESOURCES) -> Tiering:
    bucket = next(b for b in resources.buckets if b.logical == logical)
    if bucket.tiering is None:
        raise ValueError(f"bucket {logical!r} has no tiering")
    return bucket.tiering
