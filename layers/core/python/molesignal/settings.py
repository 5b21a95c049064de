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
    # Where the local system keeps its state (relative paths: from the working directory, which
    # is the checkout under `make dev`); ":memory:" keeps everything in memory, lost at exit.
    data_dir: str = ".molesignal"
    # Force each acknowledged write to disk (survives a power cut, not only a killed process).
    data_fsync: bool = True
    # `make dev` prints one line per request (method, path, status, ms); false silences it.
    log_requests: bool = True
    # The level of the functions' own (JSON) logs on the `make dev` console.
    log_level: str = Field(default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

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

    # Queries.
    query_engine: str = Field(default="duckdb", pattern="^(duckdb|athena|auto)$")
    query_max_rows: int = Field(default=10_000, ge=1)
    query_timeout_s: float = Field(default=25.0, gt=0)  # under API Gateway's 29 s
    query_max_scan_bytes: int = Field(default=4 * 1024**3, ge=1)  # beyond it: Athena (auto) or refuse
    query_memory_limit: str = "1GB"
    query_threads: int = Field(default=2, ge=1)
    query_cache_ttl_s: int = Field(default=3600, ge=0)
    # How stale the planner's memo of an org's stream list and manifests may be (query/snapshot.py).
    query_stream_list_ttl_s: float = Field(default=1.0, ge=0)
    query_manifest_memo_ttl_s: float = Field(default=60.0, ge=0, le=600)  # far under the garbage grace
    # Read the lake from this local directory instead of S3 (benchmarks of the engine alone).
    lake_local_root: str = ""
    athena_workgroup: str = "primary"
    athena_database: str = "molesignal"
    athena_output: str = ""  # s3://bucket/prefix/ for Athena results; default: the exports bucket

    # OTLP session content (spec 002): the KMS key that wraps per-org data keys, and how long
    # content is kept unless the org sets its own window.
    content_kms_key_id: str = ""
    content_retention_days: int = Field(default=90, ge=1)

    # Default per-org quotas (admins change them per org).
    default_ingest_qps: int = Field(default=50, ge=1)
    default_query_qps: int = Field(default=20, ge=1)
    default_storage_bytes: int = Field(default=50 * 1024**3, ge=0)

    @field_validator("table_name", "lake_bucket", "blob_bucket", "export_bucket", "jwt_secret_id")
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
        }.get(logical, "")
        if explicit:
            return explicit
        if logical == "jwt-signing-key":
            return f"{self.resource_prefix}/jwt-signing-key"
        return f"{self.resource_prefix}-{logical}"

    def kms_alias(self, logical: str) -> str:
        if logical == "content" and self.content_kms_key_id:
            return self.content_kms_key_id
        return f"alias/{self.resource_prefix}-{logical}"

    def queue_name(self, logical: str) -> str:
        return f"{self.resource_prefix}-{logical}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the dev runner change the environment)."""
    get_settings.cache_clear()
