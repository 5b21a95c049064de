"""The one settings class. Nothing else in MoleSignal reads ``os.environ``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from molesignal import __version__


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOLESIGNAL_", extra="ignore", frozen=True)

    stage: str = "local"
    version: str = __version__
    build_date: str = "unknown"

    # AWS. AWS_ENDPOINT_URL is honoured by every client (moto, LocalStack, or unset for AWS).
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL", "MOLESIGNAL_AWS_ENDPOINT_URL")
    )
    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))

    # Physical resource names. Locally they derive from the prefix; CDK passes the real ones.
    resource_prefix: str = "molesignal"
    table_name: str = ""
    lake_bucket: str = ""
    blob_bucket: str = ""
    export_bucket: str = ""
    jwt_secret_id: str = ""

    # Local system.
    host: str = "127.0.0.1"
    port: int = 5080
    emulator_port: int = 4566
    # The built web console (default: console/dist in the checkout).
    console_dir: str = ""
    # Where the local system keeps its state (relative paths: from the working directory, which
    # is the checkout under `make dev`); ":memory:" keeps everything in memory, lost at exit.
    data_dir: str = ".molesignal"
    # Force each acknowledged write to disk (survives a power cut, not only a killed process).
    data_fsync: bool = True
    # Concurrent worker invocations per queue in the local system, as Lambda's event source
    # mapping runs several (docs/adr/0023-local-process-shape.md).
    local_queue_pollers: int = Field(default=2, ge=1, le=8)
    # The ingest worker's pollers run in a child process with its own GIL, as its own Lambda
    # would (docs/adr/0030-ingest-worker-process.md); false keeps them in the main process
    # (the test suite does, so that tests can change settings and drain the queue in-process).
    local_worker_process: bool = True
    # `make dev` prints one line per request (method, path, status, ms); false silences it.
    log_requests: bool = True
    # The level of the functions' own (JSON) logs on the `make dev` console.
    log_level: str = Field(default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

    # The SQL shell (``python -m molesignal sql``): where it connects and how it signs in (a
    # token, or a user and password), and where it keeps its history and last namespace.
    sql_url: str = ""  # default: the local gateway, http://{host}:{port}
    sql_token: str = ""
    sql_user: str = ""
    sql_password: str = ""
    sql_home: str = ""  # default: ~/.molesignal

    # Live queries (GET /v1/ws, docs/live.md): the WebSocket API's management endpoint, where
    # writers post changes (https://{api}.execute-api.{region}.amazonaws.com/{stage}; locally
    # the gateway's own URL, which the local system sets). Empty: no WebSocket API, no fan-out.
    live_connections_url: str = ""
    live_max_initial_rows: int = Field(default=1000, ge=1, le=10_000)
    # A writer caches whether an org's changes are watched (topics, live subscriptions) this
    # long; a new topic source or an org's first subscription answers after it (docs/topics.md).
    watch_cache_s: float = Field(default=1.0, ge=0, le=10)
    # How long a live connection's session is taken as valid before a writer checks it again.
    live_session_check_s: float = Field(default=30.0, ge=0, le=600)
    # Outbox items older than this are published by the sweeper (outbox_worker), not waited for.
    outbox_sweep_after_s: float = Field(default=60.0, ge=0)
    # Test hook: "skip" leaves a committed change's outbox item unpublished (as if the process
    # died after the commit); "exit" ends the process there (os._exit). Never set it in production.
    outbox_fault: str = Field(default="", pattern="^(|skip|exit)$")
    # Test hook: the local scheduler first fires each function this many seconds after the
    # start instead of one rate later (a restart test need not wait a minute for the sweeper).
    # Unset: one rate later, as EventBridge does.
    scheduler_first_run_s: float | None = Field(default=None, ge=0)

    # Auth.
    access_token_ttl_s: int = Field(default=900, ge=30)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    jwt_issuer: str = "molesignal"
    allow_remote_setup: bool = False
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: int = Field(default=900, ge=1)
    password_min_length: int = Field(default=8, ge=8)
    secret_cache_s: int = Field(default=300, ge=0)

    # HTTP. Lambda's synchronous payload limit is 6 MB; stay under it with the envelope.
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    # Lake. The ingest worker merges an hour's small files as soon as this many of one tier
    # are there (lake/compaction.py, ADR 0011); 0 leaves it all to the scheduled compaction.
    recent_compaction_fanin: int = Field(default=8, ge=0, le=80)
    # The rows of files a process just committed, kept for the merge of their tier so it
    # does not read them back from S3 (lake/recent_files.py, ADR 0031); 0 turns it off.
    recent_files_cache_mib: int = Field(default=64, ge=0)

    # Queries.
    query_engine: str = Field(default="duckdb", pattern="^(duckdb|athena|auto)$")
    query_max_rows: int = Field(default=10_000, ge=1)
    query_timeout_s: float = Field(default=25.0, gt=0)  # under API Gateway's 29 s
    query_max_scan_bytes: int = Field(default=4 * 1024**3, ge=1)  # beyond it: Athena (auto) or refuse
    query_memory_limit: str = "1GB"  # DuckDB's own limit (its buffer manager)
    query_threads: int = Field(default=2, ge=1)
    # What one query may allocate and return (docs/security.md, ADR 0018). Each query runs in
    # one of ``query_workers`` engine processes per instance, its address space capped at
    # ``query_worker_memory_bytes`` (the function's memory must hold the workers' caps together).
    query_workers: int = Field(default=2, ge=1, le=16)
    query_worker_memory_bytes: int = Field(default=2 * 1024**3, ge=256 * 1024**2)
    # An answer (JSON, or an NDJSON stream) stays under Lambda's 6 MB response payload,
    # counted as the response carries it (query/answer_size.py).
    query_max_result_bytes: int = Field(default=5 * 1024**2, ge=1024)
    query_max_stream_rows: int = Field(default=1_000_000, ge=1)
    query_stream_batch_rows: int = Field(default=10_000, ge=1)
    # The largest value a query may build from literals (repeat, lpad, format widths, lists ...).
    query_max_value_bytes: int = Field(default=64 * 1024**2, ge=1024)
    query_cache_ttl_s: int = Field(default=3600, ge=0)
    # How stale the planner's memo of an org's stream list and manifests may be (query/snapshot.py).
    query_stream_list_ttl_s: float = Field(default=1.0, ge=0)
    query_manifest_memo_ttl_s: float = Field(default=60.0, ge=0, le=600)  # far under the garbage grace
    # Read the lake from this local directory instead of S3 (benchmarks of the engine alone).
    lake_local_root: str = ""
    athena_workgroup: str = "primary"
    athena_database: str = "molesignal"
    athena_output: str = ""  # s3://bucket/prefix/ for Athena results; default: the exports bucket

    # SQL tables (spec 004): rows one INSERT … SELECT, UPDATE or DELETE may touch, and the files
    # a statement may upload (each under Lambda's 6 MB request limit; text/html and other types
    # a browser would run are left out of the default list on purpose: downloads are inline).
    sql_max_write_rows: int = Field(default=100_000, ge=1)
    sql_max_files: int = Field(default=10, ge=1)
    sql_max_file_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    sql_file_mime_types: tuple[str, ...] = (
        "application/pdf",
        "application/json",
        "application/zip",
        "application/gzip",
        "application/octet-stream",
        "text/plain",
        "text/csv",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "audio/*",
        "video/*",
    )

    # OTLP session content (spec 002): the KMS key that wraps per-org data keys, and how long
    # content is kept unless the org sets its own window.
    content_kms_key_id: str = ""
    # The asymmetric key that signs audit-chain checkpoints (CDK passes its ARN).
    events_signing_key_id: str = ""
    # The key that seals outbound destinations' secrets (log streams; CDK passes its ARN).
    destinations_kms_key_id: str = ""
    content_retention_days: int = Field(default=90, ge=1)

    # Exports (spec 001): how long an export can be downloaded, unless the request asks less.
    export_retention_hours: int = Field(default=24, ge=1)
    export_max_retention_hours: int = Field(default=7 * 24, ge=1)
    export_query_timeout_s: float = Field(default=840.0, gt=0)  # under the export worker's 900 s
    # A scheduled export's window ends this long before its run, so the events worker has landed
    # what was received until then (molesignal/exports/schedules.py).
    export_schedule_settle_s: float = Field(default=300.0, ge=0, le=3600)

    # Outbound connections to tenant-named destinations (molesignal/outbound/targets.py): whether
    # loopback and private networks may be reached (None: on the local stage only, where test
    # receivers listen on 127.0.0.1). Link-local and metadata addresses never.
    outbound_allow_private_targets: bool | None = None
    outbound_timeout_s: float = Field(default=10.0, gt=0, le=60)

    # Log streams (fan-out of audit events): a failed delivery comes back after
    # base * 2^(attempt-1) seconds (capped; SQS's visibility limit is 12 h), until the fanout
    # queue's receive limit sends it to the DLQ.
    fanout_retry_base_s: float = Field(default=30.0, ge=0)
    fanout_retry_max_s: float = Field(default=900.0, ge=0, le=43_200)
    # How stale the events worker's memo of an org's log streams may be.
    fanout_memo_s: float = Field(default=5.0, ge=0)

    # City-level geo: an operator-supplied MaxMind database (GeoIP2/GeoLite2 City, .mmdb);
    # empty: country and ASN from geoip2fast only.
    geoip_city_db: str = ""

    # Plan rate limits on the events family (spec 001): a new org's plan, and Enterprise's
    # default allowance when the org has no number of its own.
    default_plan: str = Field(default="free", pattern="^(free|starter|pro|enterprise)$")
    enterprise_requests_per_minute: int = Field(default=10_000, ge=1)

    # Alerting (docs/alerts.md). The KMS key that seals destination secrets (CDK passes its ARN).
    alerts_kms_key_id: str = ""
    # Whether alert destination URLs may reach loopback and private networks: an override of
    # outbound_allow_private_targets for alerts alone (None: whatever that one says).
    alert_allow_private_targets: bool | None = None
    # The sender of alert e-mail (an SES-verified identity); empty turns e-mail destinations off.
    alert_email_from: str = "alerts@molesignal.local"
    # SNS destinations must name topics whose name starts with this (the IAM grant says the same).
    alert_sns_topic_prefix: str = "molesignal-alerts"
    alert_delivery_timeout_s: float = Field(default=10.0, gt=0, le=60)
    # Failed deliveries come back after base * 2^(attempt-1) seconds (capped), then go to the DLQ.
    alert_retry_base_s: float = Field(default=15.0, ge=0)
    alert_retry_max_s: float = Field(default=900.0, ge=0, le=43_200)  # SQS's visibility limit is 12 h
    # How long a warm function trusts the org settings, stream config, quota and storage use it
    # read (molesignal/recent.py): a change made elsewhere applies within this many seconds.
    warm_memo_s: float = Field(default=5.0, ge=0, le=60)
    # How stale the ingest worker's memo of an org's realtime rules may be (other processes).
    alert_rules_memo_s: float = Field(default=5.0, ge=0)
    # How long the ingest path trusts its view of an org's alert states (alerts/state_memo.py).
    alert_state_memo_s: float = Field(default=60.0, ge=0)
    alert_history_days: int = Field(default=30, ge=1)
    # Platform alerts (quota rejections, DLQ depth, worker failures).
    alert_platform_repeat_s: int = Field(default=3600, ge=60)
    alert_platform_resolve_after_s: int = Field(default=300, ge=60)

    # Default per-org quotas (admins change them per org).
    default_ingest_qps: int = Field(default=50, ge=1)
    default_query_qps: int = Field(default=20, ge=1)
    default_storage_bytes: int = Field(default=50 * 1024**3, ge=0)

    # Test-run trace bundles (spec 003, docs/traces.md).
    trace_internal_token_secret_id: str = ""
    trace_signed_url_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Links handed to a share's viewers (anyone, for a public link) live minutes, not an hour.
    trace_share_url_ttl_s: int = Field(default=300, ge=30, le=3600)
    trace_bundle_max_bytes: int = Field(default=512 * 1024**2, ge=1024)  # through the presigned upload
    trace_bundle_max_unpacked_bytes: int = Field(default=2 * 1024**3, ge=1024)
    trace_bundle_max_files: int = Field(default=2000, ge=1)
    trace_upload_url_ttl_s: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    trace_sse_heartbeat_s: float = Field(default=15.0, gt=0)
    trace_sse_poll_s: float = Field(default=0.5, gt=0)
    trace_sse_max_s: float = Field(default=900.0, gt=0)  # a function URL's 15 minutes
    # Set on a function deployed behind a Lambda function URL (functions/stream_server.py): the
    # registry function whose streaming routes it serves.
    stream_function: str = ""
    trace_restore_days: int = Field(default=7, ge=1)
    trace_restore_eta_s: int = Field(default=300, ge=0)  # Glacier Flexible Retrieval, Expedited tier
    trace_public_base_url: str = ""  # share links: https://app.example.com; default: the request's host
    # Per-org rate limits of the trace family, per minute (spec 003).
    trace_rate_get_per_min: int = Field(default=600, ge=1)
    trace_rate_post_per_min: int = Field(default=120, ge=1)
    trace_rate_ingest_per_min: int = Field(default=30, ge=1)
    replay_max_concurrent: int = Field(default=10, ge=1)
    replay_runner_timeout_s: float = Field(default=10.0, gt=0)
    # A replay the runner accepted fails when its bundle has not arrived by then, freeing its slot.
    replay_upload_timeout_s: int = Field(default=3600, ge=1)

    @property
    def trusts_org_header(self) -> bool:
        """``x-molar-org`` picks the org only on local and test stages (spec 003)."""
        return self.stage in ("local", "test")

    @field_validator("recent_compaction_fanin")
    @classmethod
    def _fanin(cls, value: int) -> int:
        if value == 1:
            raise ValueError("a fan-in of 1 merges nothing: use 0 (off) or 2..80")
        return value

    @field_validator(
        "table_name", "lake_bucket", "blob_bucket", "export_bucket", "jwt_secret_id", "trace_internal_token_secret_id"
    )
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def resource_name(self, logical: str) -> str:
        """The physical name of a resource declared in ``molesignal.resources``."""
        explicit = {
            "table": self.table_name,
            "lake": self.lake_bucket,
            "blobs": self.blob_bucket,
            "exports": self.export_bucket,
            "jwt-signing-key": self.jwt_secret_id,
            "trace-internal-token": self.trace_internal_token_secret_id,
        }.get(logical, "")
        if explicit:
            return explicit
        if logical in ("jwt-signing-key", "trace-internal-token"):
            return f"{self.resource_prefix}/{logical}"
        return f"{self.resource_prefix}-{logical}"

    @property
    def alert_private_targets_allowed(self) -> bool:
        if self.alert_allow_private_targets is not None:
            return self.alert_allow_private_targets
        return self.private_targets_allowed

    @property
    def private_targets_allowed(self) -> bool:
        if self.outbound_allow_private_targets is not None:
            return self.outbound_allow_private_targets
        return self.stage == "local"

    def kms_alias(self, logical: str) -> str:
        explicit = {
            "content": self.content_kms_key_id,
            "events-signing": self.events_signing_key_id,
            "alerts": self.alerts_kms_key_id,
            "destinations": self.destinations_kms_key_id,
        }.get(logical, "")
        return explicit or f"alias/{self.resource_prefix}-{logical}"

    def queue_name(self, logical: str) -> str:
        from molesignal.resources import RESOURCES, fifo_logicals

        suffix = ".fifo" if logical in fifo_logicals(RESOURCES) else ""
        return f"{self.resource_prefix}-{logical}{suffix}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the dev runner change the environment)."""
    get_settings.cache_clear()
