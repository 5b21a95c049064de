"""A log stream: where an org's audit events are copied, and how it is checked.

Four types. ``webhook``: a URL and a signing secret. ``s3``: the customer's bucket (and prefix,
region, expected owner). ``datadog``: the logs intake URL, an API key, service, source, tags.
``splunk``: the HEC URL, a token, index, source, sourcetype. Secret parts (the signing secret,
API key, token, and every URL, whose query may carry a credential) are sealed with the
``destinations`` KMS key and never returned: answers show the URL without its query and
whether a secret is set.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from molesignal.clock import iso
from molesignal.errors import Unprocessable
from molesignal.outbound.sealing import Sealer
from molesignal.outbound.targets import Target, parse_target
from molesignal.settings import get_settings
from molesignal.storage.table import Item


class LogStreamType(StrEnum):
    WEBHOOK = "webhook"
    S3 = "s3"
    DATADOG = "datadog"
    SPLUNK = "splunk"


SEALER = Sealer(key="destinations", purpose="molesignal-log-stream")
MAX_LOG_STREAMS = 20  # per org: every chained batch is copied to each enabled one
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 512
DATADOG_PATH = "/api/v2/logs"
SPLUNK_PATH = "/services/collector/event"
DEFAULT_DATADOG_URL = "https://http-intake.logs.datadoghq.com" + DATADOG_PATH
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/=-]{0,256}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_LABEL = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")
_TAG = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")
# The fields each type takes, and which of them are secret (sealed, never returned).
FIELDS: dict[LogStreamType, frozenset[str]] = {
    LogStreamType.WEBHOOK: frozenset({"url", "secret"}),
    LogStreamType.S3: frozenset({"bucket", "prefix", "region", "expected_bucket_owner"}),
    LogStreamType.DATADOG: frozenset({"url", "api_key", "service", "source", "tags"}),
    LogStreamType.SPLUNK: frozenset({"url", "token", "index", "source", "sourcetype"}),
}
SECRET_FIELDS = frozenset({"url", "secret", "api_key", "token"})
REQUIRED: dict[LogStreamType, frozenset[str]] = {
    LogStreamType.WEBHOOK: frozenset({"url", "secret"}),
    LogStreamType.S3: frozenset({"bucket"}),
    LogStreamType.DATADOG: frozenset({"api_key"}),
    LogStreamType.SPLUNK: frozenset({"url", "token"}),
}
DEFAULTS: dict[LogStreamType, dict[str, Any]] = {
    LogStreamType.WEBHOOK: {},
    LogStreamType.S3: {"prefix": ""},
    LogStreamType.DATADOG: {
        "url": DEFAULT_DATADOG_URL,
        "service": "molesignal-audit",
        "source": "molesignal",
        "tags": [],
    },
    LogStreamType.SPLUNK: {"source": "molesignal", "sourcetype": "molesignal:audit"},
}


def new_log_stream_id() -> str:
    return "ls_" + secrets.token_hex(8)


@dataclass(frozen=True)
class LogStream:
    org_id: str
    id: str
    name: str
    type: LogStreamType
    enabled: bool
    version: int
    settings: dict[str, Any]  # the type's fields that are not secret
    url_display: str = ""
    has_secret: bool = False
    sealed: str = ""
    created_at_us: int = 0
    updated_at_us: int = 0
    created_by: str = ""
    status: dict[str, Any] = field(default_factory=dict)  # the last delivery's outcome

    @classmethod
    def from_item(cls, item: Item) -> LogStream:
        return cls(
            org_id=str(item["org_id"]),
            id=str(item["id"]),
            name=str(item["name"]),
            type=LogStreamType(item["type"]),
            enabled=bool(item.get("enabled", True)),
            version=int(item.get("version", 1)),
            settings=dict(item.get("settings") or {}),
            url_display=str(item.get("url_display", "")),
            has_secret=bool(item.get("has_secret", False)),
            sealed=str(item.get("sealed", "")),
            created_at_us=int(item.get("created_at_us", 0)),
            updated_at_us=int(item.get("updated_at_us", 0)),
            created_by=str(item.get("created_by", "")),
            status={k: item[k] for k in STATUS_FIELDS if item.get(k) is not None},
        )

    def secret_parts(self) -> dict[str, Any]:
        """The sealed parts, opened: ``url`` and the type's secret."""
        if not self.sealed:
            return {}
        return SEALER.open(self.org_id, self.id, self.version, self.sealed)

    def public(self) -> dict[str, Any]:
        config: dict[str, Any] = dict(self.settings)
        if self.type is not LogStreamType.S3:
            config["url"] = self.url_display
            config["has_secret"] = self.has_secret
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type.value,
            "enabled": self.enabled,
            self.type.value: config,
            "created_at": iso(self.created_at_us),
            "updated_at": iso(self.updated_at_us),
            "created_by": self.created_by,
        }
        last = {
            "last_delivery_at": iso(int(self.status["last_delivery_at_us"]))
            if "last_delivery_at_us" in self.status
            else None,
            "last_outcome": self.status.get("last_outcome"),
            "last_error": self.status.get("last_error"),
            "events_delivered": int(self.status.get("events_delivered", 0)),
            "deliveries_failed": int(self.status.get("deliveries_failed", 0)),
        }
        out["delivery"] = last
        return out


STATUS_FIELDS = ("last_delivery_at_us", "last_outcome", "last_error", "events_delivered", "deliveries_failed")


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise Unprocessable("invalid argument: name must be 1-128 characters")
    return name


def _check_secret(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not MIN_SECRET_CHARS <= len(value) <= MAX_SECRET_CHARS:
        raise Unprocessable(f"invalid argument: {field_name} must be {MIN_SECRET_CHARS}-{MAX_SECRET_CHARS} characters")
    if any(ord(ch) < 33 or ord(ch) > 126 for ch in value):
        raise Unprocessable(f"invalid argument: {field_name} must be printable ASCII without spaces")
    return value


def _check_label(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise Unprocessable(f"invalid argument: {field_name} must be 1-200 of letters, digits and _ . : / -")
    return value


def target_of(kind: LogStreamType, url: str) -> Target:
    """The checked target of a URL; Datadog's and Splunk's well-known paths when it names none."""
    target = parse_target(url)
    if kind is LogStreamType.DATADOG:
        return target.with_default_path(DATADOG_PATH)
    if kind is LogStreamType.SPLUNK:
        return target.with_default_path(SPLUNK_PATH)
    return target


def check_s3(config: dict[str, Any]) -> None:
    bucket = config.get("bucket")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket:
        raise Unprocessable("invalid argument: s3.bucket is not an S3 bucket name")
    own = {get_settings().resource_name(b) for b in ("lake", "blobs", "exports")}
    if bucket in own:
        raise Unprocessable("invalid argument: s3.bucket is one of MoleSignal's own buckets; name your bucket")
    prefix = config.get("prefix", "")
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or prefix.startswith("/"):
        raise Unprocessable(
            "invalid argument: s3.prefix must be at most 256 characters of an S3 key, not starting with /"
        )
    region = config.get("region")
    if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
        raise Unprocessable("invalid argument: s3.region is not an AWS region name")
    owner = config.get("expected_bucket_owner")
    if owner is not None and (not isinstance(owner, str) or not _ACCOUNT.match(owner)):
        raise Unprocessable("invalid argument: s3.expected_bucket_owner must be a 12-digit AWS account id")


def check_config(kind: LogStreamType, config: dict[str, Any]) -> None:
    """Refuse a complete configuration of ``kind`` that cannot be delivered to."""
    unknown = set(config) - FIELDS[kind]
    if unknown:
        raise Unprocessable(f"invalid argument: {kind.value} takes no field {sorted(unknown)[0]!r}")
    missing = [name for name in sorted(REQUIRED[kind]) if config.get(name) in (None, "")]
    if missing:
        raise Unprocessable(f"invalid argument: {kind.value}.{missing[0]} is required")
    if kind is LogStreamType.S3:
        check_s3(config)
        return
    target_of(kind, str(config["url"]))
    secret_field = {"webhook": "secret", "datadog": "api_key", "splunk": "token"}[kind.value]
    _check_secret(f"{kind.value}.{secret_field}", config[secret_field])
    for name in ("service", "source", "sourcetype", "index"):
        if config.get(name) is not None:
            _check_label(f"{kind.value}.{name}", config[name])
    tags = config.get("tags", [])
    if not isinstance(tags, list) or len(tags) > 50 or not all(isinstance(t, str) and _TAG.match(t) for t in tags):
        raise Unprocessable(f"invalid argument: {kind.value}.tags must be at most 50 tags like env:prod")
