"""Deployment settings read from CDK context, and where the Lambda assets come from.

Context keys (``cdk synth -c key=value`` or ``cdk.json``):

``stage``              deployment stage, default ``dev``; part of the stack name
``prefix``             resource prefix, default ``molesignal-<stage>``; queues are named from it
``allowRemoteSetup``   default of the ``AllowRemoteSetup`` stack parameter, default ``false``
``retainData``         keep table, buckets and secret when the stack is deleted, default ``true``
``logRetentionDays``   CloudWatch retention of function and access logs, default ``30``
``depsLayerDir``       folder holding the built dependency layers (``<layer>/python/...``) and
                       their build record, default ``layers/deps``
``alertEmailFrom``     the SES-verified sender of alert e-mail (an address); default empty: e-mail
                       destinations are refused and no function may send e-mail
``alertTopicPrefix``   SNS destinations must name topics whose name starts with this; the delivery
                       functions may publish to such topics only, default ``molesignal-alerts``
``requireDepsLayer``   refuse to synthesize unless the built layers are current and every
                       function fits Lambda's size limit (``infra_cdk.layers.stale_reason``),
                       default ``false``
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
CORE_LAYER_DIR = REPO_ROOT / "layers" / "core"
DEPS_LAYER_DIR = REPO_ROOT / "layers" / "deps"
CDK_JSON = REPO_ROOT / "cdk.json"

# What an asset never ships (CDK exclude globs, relative to the asset folder).
CODE_EXCLUDE = ["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]
# The local system (emulator, gateway, pollers) runs on developer machines, never in Lambda.
CORE_LAYER_EXCLUDE = [*CODE_EXCLUDE, "python/molesignal/local"]

_PREFIX_SHAPE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
_STAGE_SHAPE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_EMAIL_SHAPE = re.compile(r"^[^@\s*]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TOPIC_PREFIX_SHAPE = re.compile(r"^[A-Za-z0-9_-]{3,200}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A context value or asset folder that cannot produce a deployable stack."""


@dataclass(frozen=True)
class StackConfig:
    stage: str = "dev"
    prefix: str = "molesignal-dev"
    allow_remote_setup: bool = False
    retain_data: bool = True
    log_retention_days: int = 30
    require_deps_layer: bool = False
    deps_layer_dir: Path = DEPS_LAYER_DIR
    alert_email_from: str = ""
    alert_topic_prefix: str = "molesignal-alerts"

    def __post_init__(self) -> None:
        if not _STAGE_SHAPE.match(self.stage):
            raise ConfigError(f"stage {self.stage!r}: use 1-20 lowercase letters, digits or '-'")
        if not _PREFIX_SHAPE.match(self.prefix):
            # Queue names are f"{prefix}-{logical}-dlq" (80 chars max); keep room for them.
            raise ConfigError(f"prefix {self.prefix!r}: use 3-40 lowercase letters, digits or '-'")
        if self.alert_email_from and not _EMAIL_SHAPE.match(self.alert_email_from):
            raise ConfigError(f"alertEmailFrom {self.alert_email_from!r}: one e-mail address, no wildcard")
        if not _TOPIC_PREFIX_SHAPE.match(self.alert_topic_prefix):
            # Never empty: the SNS grant is arn:aws:sns:*:*:<prefix>*, which must not become "any topic".
            raise ConfigError(f"alertTopicPrefix {self.alert_topic_prefix!r}: 3-200 of letters, digits, '-', '_'")

    @property
    def stack_name(self) -> str:
        return f"MoleSignal-{self.stage}"

    @classmethod
    def from_context(cls, context: Any) -> StackConfig:
        """Build from anything with ``try_get_context`` (an ``App`` or its ``node``)."""
        get = context.try_get_context
        stage = str(get("stage") or "dev")
        deps = get("depsLayerDir")
        return cls(
            stage=stage,
            prefix=str(get("prefix") or f"molesignal-{stage}"),
            allow_remote_setup=_flag(get("allowRemoteSetup"), "allowRemoteSetup", default=False),
            retain_data=_flag(get("retainData"), "retainData", default=True),
            log_retention_days=int(get("logRetentionDays") or 30),
            require_deps_layer=_flag(get("requireDepsLayer"), "requireDepsLayer", default=False),
            deps_layer_dir=(REPO_ROOT / str(deps)).resolve() if deps else DEPS_LAYER_DIR,
            alert_email_from=str(get("alertEmailFrom") or ""),
            alert_topic_prefix=str(get("alertTopicPrefix") or "molesignal-alerts"),
        )


def cdk_json_context() -> dict[str, Any]:
    """The context ``cdk.json`` hands the CLI (feature flags): tests synthesize with the same."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def _flag(value: Any, name: str, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"context {name}={value!r}: expected true or false")
