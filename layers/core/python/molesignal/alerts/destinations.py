"""Alert destinations of an org: where notifications go, with their secrets sealed.

Four types: ``webhook`` (a URL, optional headers, an optional signing secret), ``slack`` (an
incoming-webhook URL), ``email`` (an address, sent through SES) and ``sns`` (a topic ARN).
Secret parts — the signing secret, header values and a Slack URL, which is its own credential —
are sealed with KMS (``sealing``) and never returned: answers show the URL without its query
(a Slack URL as its host only), header names, and whether a secret is set.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from molesignal.alerts import sealing
from molesignal.alerts.targets import Target, parse_target
from molesignal.auth.principal import Principal, Role
from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, Forbidden, Invalid, NotFound
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table


class DestinationType(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"
    SNS = "sns"


MAX_DESTINATIONS = 100
MAX_HEADERS = 20
MIN_SECRET_CHARS = 16
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
# Headers MoleSignal sets itself or the transport owns: a destination may not replace them.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent"}
)
_RESERVED_HEADER_PREFIX = "x-molesignal-"
_EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:([A-Za-z0-9_-]{1,256}?)(\.fifo)?$")


def new_destination_id() -> str:
    return "dst_" + secrets.token_hex(8)


@dataclass
class DestinationSpec:
    """What a caller asks for; ``None`` leaves a field as it is on update."""

    name: str | None = None
    type: DestinationType | None = None
    url: str | None = None
    address: str | None = None
    topic_arn: str | None = None
    secret: str | None = None
    headers: dict[str, str] | None = None
    default_for_platform: bool | None = None
    deployment_alerts: bool | None = None
    # Fields the caller set to null explicitly (``secret`` and ``headers`` clear).
    cleared: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Destination:
    org_id: str
    id: str
    name: str
    type: DestinationType
    version: int
    url_display: str = ""
    address: str = ""
    topic_arn: str = ""
    header_names: tuple[str, ...] = ()
    has_secret: bool = False
    sealed: str = ""
    default_for_platform: bool = False
    deployment_alerts: bool = False
    created_at_us: int = 0
    updated_at_us: int = 0
    created_by: str = ""

    @classmethod
    def from_item(cls, item: Item) -> Destination:
        return cls(
            org_id=str(item["org_id"]),
            id=str(item["id"]),
            name=str(item["name"]),
            type=DestinationType(item["type"]),
            version=int(item.get("version", 1)),
            url_display=str(item.get("url_display", "")),
            address=str(item.get("address", "")),
            topic_arn=str(item.get("topic_arn", "")),
            header_names=tuple(item.get("header_names") or ()),
            has_secret=bool(item.get("has_secret", False)),
            sealed=str(item.get("sealed", "")),
            default_for_platform=bool(item.get("default_for_platform", False)),
            deployment_alerts=bool(item.get("deployment_alerts", False)),
            created_at_us=int(item.get("created_at_us", 0)),
            updated_at_us=int(item.get("updated_at_us", 0)),
            created_by=str(item.get("created_by", "")),
        )

    def secret_parts(self) -> dict[str, Any]:
        """The sealed parts, opened: ``url``, ``secret``, ``headers``."""
        if not self.sealed:
            return {}
        return sealing.open_sealed(self.org_id, self.id, self.version, self.sealed)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type.value,
            "url": self.url_display or None,
            "address": self.address or None,
            "topic_arn": self.topic_arn or None,
            "headers": list(self.header_names),
            "has_secret": self.has_secret,
            "default_for_platform": self.default_for_platform,
            "deployment_alerts": self.deployment_alerts,
            "created_at": iso(self.created_at_us),
            "updated_at": iso(self.updated_at_us),
            "created_by": self.created_by,
        }
        return out


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise Invalid("invalid argument: name must be 1-128 characters")
    return name


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise Invalid(f"invalid argument: headers: at most {MAX_HEADERS}")
    seen: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        if not _HEADER_NAME.match(name):
            raise Invalid(f"invalid argument: headers: {name!r} is not a header name")
        if lowered in _RESERVED_HEADERS or lowered.startswith(_RESERVED_HEADER_PREFIX):
            raise Invalid(f"invalid argument: headers: {name} is set by MoleSignal and cannot be replaced")
        if lowered in seen:
            raise Invalid(f"invalid argument: headers: {name} is given twice")
        seen.add(lowered)
        if not isinstance(value, str) or len(value) > 1024 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise Invalid(f"invalid argument: headers: the value of {name} must be printable text of ≤1024 characters")
    return dict(headers)


def check_address(address: str) -> str:
    address = address.strip()
    if len(address) > 254 or not _EMAIL.match(address):
        raise Invalid("invalid argument: address must be one e-mail address")
    return address


def check_topic_arn(arn: str) -> str:
    found = _TOPIC_ARN.match(arn.strip())
    prefix = get_settings().alert_sns_topic_prefix
    if not found:
        raise Invalid("invalid argument: topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
    if prefix and not found.group(2).startswith(prefix):
        raise Invalid(
            f"invalid argument: topic_arn: MoleSignal may publish only to topics whose name starts with "
            f"{prefix!r} (grant its role sns:Publish in the topic's policy)"
        )
    return arn.strip()


def _display(kind: DestinationType, target: Target) -> str:
    if kind is DestinationType.SLACK:
        return f"{target.scheme}://{target.host}/…"  # the path is the credential
    return target.display


def _require_type_fields(kind: DestinationType, spec: DestinationSpec, *, creating: bool) -> None:
    owned = {
        DestinationType.WEBHOOK: {"url", "secret", "headers"},
        DestinationType.SLACK: {"url"},
        DestinationType.EMAIL: {"address"},
        DestinationType.SNS: {"topic_arn"},
    }[kind]
    given = {name for name in ("url", "address", "topic_arn", "secret", "headers") if getattr(spec, name) is not None}
    stray = sorted(given - owned)
    if stray:
        raise Invalid(f"invalid argument: {stray[0]} does not apply to a {kind.value} destination")
    required = {"webhook": "url", "slack": "url", "email": "address", "sns": "topic_arn"}[kind.value]
    if creating and getattr(spec, required) is None:
        raise Invalid(f"invalid argument: a {kind.value} destination needs {required}")
    if kind is DestinationType.EMAIL and not get_settings().alert_email_from:
        raise Invalid("invalid argument: e-mail delivery is not configured in this deployment (alert_email_from)")


class Destinations:
    def __init__(self, table: Table) -> None:
        self.table = table

    def all(self, org_id: str) -> list[Destination]:
        items = self.table.query_all(keys.alert_destinations(org_id), consistent=True)
        return sorted((Destination.from_item(i) for i in items), key=lambda d: (d.name.lower(), d.id))

    def get(self, org_id: str, destination_id: str) -> Destination:
        item = self.table.get(keys.alert_destinations(org_id), destination_id)
        if not item:
            raise NotFound(f"not found: destination {destination_id!r}")
        return Destination.from_item(item)

    def existing(self, org_id: str, destination_ids: list[str]) -> list[Destination]:
        """The named destinations, refusing any the org does not have (400, not 404: a rule names them)."""
        found = []
        for destination_id in destination_ids:
            item = self.table.get(keys.alert_destinations(org_id), destination_id, consistent=False)
            if not item:
                raise Invalid(f"invalid argument: destinations: {destination_id!r} is not a destination of this org")
            found.append(Destination.from_item(item))
        return found

    def for_platform(self, org_id: str, *, deployment: bool = False) -> list[Destination]:
        """The org's destinations marked for its platform alerts (or for the deployment's, root's org)."""
        return [d for d in self.all(org_id) if (d.deployment_alerts if deployment else d.default_for_platform)]

    def create(self, principal: Principal, spec: DestinationSpec) -> Destination:
        if spec.type is None or spec.name is None:
            raise Invalid("invalid argument: name and type are required")
        _require_type_fields(spec.type, spec, creating=True)
        self._check_flags(principal, spec)
        if len(self.table.query_all(keys.alert_destinations(principal.org_id))) >= MAX_DESTINATIONS:
            raise Conflict(f"conflict: an org may have at most {MAX_DESTINATIONS} destinations")
        destination_id = new_destination_id()
        now = now_us()
        item: Item = {
            "pk": keys.alert_destinations(principal.org_id),
            "sk": destination_id,
            "kind": "alert_destination",
            "org_id": principal.org_id,
            "id": destination_id,
            "type": spec.type.value,
            "version": 1,
            "created_at_us": now,
            "created_by": principal.actor,
        }
        self._apply(item, spec, {}, name=spec.name)
        item["updated_at_us"] = now
        self.table.put(item, condition="attribute_not_exists(pk)")
        return Destination.from_item(item)

    def update(self, principal: Principal, destination_id: str, spec: DestinationSpec) -> Destination:
        current = self.get(principal.org_id, destination_id)
        if spec.type is not None and spec.type is not current.type:
            raise Invalid("invalid argument: a destination's type cannot change; create another one")
        _require_type_fields(current.type, spec, creating=False)
        self._check_flags(principal, spec)
        item = self.table.get(keys.alert_destinations(principal.org_id), destination_id) or {}
        self._apply(item, spec, current.secret_parts(), name=spec.name)
        item["version"] = current.version + 1
        item["updated_at_us"] = now_us()
        try:
            self.table.put(item, condition="version = :seen", values={":seen": current.version})
        except ConditionFailed as exc:
            raise Conflict("conflict: the destination changed meanwhile; read it and try again") from exc
        return Destination.from_item(item)

    def delete(self, org_id: str, destination_id: str) -> Destination:
        current = self.get(org_id, destination_id)
        self.table.delete(keys.alert_destinations(org_id), destination_id)
        return current

    @staticmethod
    def _check_flags(principal: Principal, spec: DestinationSpec) -> None:
        if spec.deployment_alerts and principal.role is not Role.ROOT:
            raise Forbidden("forbidden: only root may receive the deployment's alerts (deployment_alerts)")

    def _apply(self, item: Item, spec: DestinationSpec, sealed_now: dict[str, Any], *, name: str | None) -> None:
        kind = DestinationType(item["type"])
        if name is not None:
            item["name"] = _check_name(name)
        if spec.address is not None:
            item["address"] = check_address(spec.address)
        if spec.topic_arn is not None:
            item["topic_arn"] = check_topic_arn(spec.topic_arn)
        if spec.default_for_platform is not None:
            item["default_for_platform"] = spec.default_for_platform
        if spec.deployment_alerts is not None:
            item["deployment_alerts"] = spec.deployment_alerts
        if item.get("deployment_alerts"):
            item["gsi1pk"] = keys.alert_deployment_destinations()
            item["gsi1sk"] = f"{item['org_id']}#{item['id']}"
        else:
            item.pop("gsi1pk", None)
            item.pop("gsi1sk", None)
        self._apply_sealed(item, kind, spec, dict(sealed_now))

    @staticmethod
    def _apply_sealed(item: Item, kind: DestinationType, spec: DestinationSpec, parts: dict[str, Any]) -> None:
        if spec.url is not None:
            item["url_display"] = _display(kind, parse_target(spec.url))
            parts["url"] = spec.url
        if spec.secret is not None:
            if len(spec.secret) < MIN_SECRET_CHARS or len(spec.secret) > 512:
                raise Invalid(f"invalid argument: secret must be {MIN_SECRET_CHARS}-512 characters")
            parts["secret"] = spec.secret
        elif "secret" in spec.cleared:
            parts.pop("secret", None)
        if spec.headers is not None:
            parts["headers"] = _check_headers(spec.headers)
        elif "headers" in spec.cleared:
            parts.pop("headers", None)
        item["has_secret"] = bool(parts.get("secret"))
        item["header_names"] = sorted(parts.get("headers", {}))
        if parts:
            item["sealed"] = sealing.seal(str(item["org_id"]), str(item["id"]), parts)
        else:
            item.pop("sealed", None)
