"""Deployment settings read from CDK context, and where the Lambda assets come from.

Context keys (``cdk synth -c key=value`` or ``cdk.json``):

``stage``              deployment stage, default ``dev``; part of the stack name
``prefix``             resource prefix, default ``molesignal-<stage>``; queues are named from it
``allowRemoteSetup``   default of the ``AllowRemoteSetup`` stack parameter, default ``false``
``retainData``         keep table, buckets and secret when the stack is deleted, default ``true``
``logRetentionDays``   CloudWatch retention of function and access logs, default ``30``
``depsLayerDir``       folder holding the dependency layer (``python/...``), default ``layers/deps``
``requireDepsLayer``   refuse to synthesize with the placeholder dependency layer, default ``false``
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
PLACEHOLDER_DIRNAME = "placeholder-deps-layer"
CDK_JSON = REPO_ROOT / "cdk.json"

_PREFIX_SHAPE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
_STAGE_SHAPE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A context value or asset folder that cannot produce a deployable stack."""


@dataclass(frozen=True)
class DepsLayer:
    """The dependency layer's asset folder, and whether it is only a stand-in."""

    path: Path
    placeholder: bool


@dataclass(frozen=True)
class StackConfig:
    stage: str = "dev"
    prefix: str = "molesignal-dev"
    allow_remote_setup: bool = False
    retain_data: bool = True
    log_retention_days: int = 30
    require_deps_layer: bool = False
    deps_layer_dir: Path = DEPS_LAYER_DIR

    def __post_init__(self) -> None:
        if not _STAGE_SHAPE.match(self.stage):
            raise ConfigError(f"stage {self.stage!r}: use 1-20 lowercase letters, digits or '-'")
        if not _PREFIX_SHAPE.match(self.prefix):
            # Queue names are f"{prefix}-{logical}-dlq" (80 chars max); keep room for them.
            raise ConfigError(f"prefix {self.prefix!r}: use 3-40 lowercase letters, digits or '-'")

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


def resolve_deps_layer(config: StackConfig, staging_dir: Path) -> DepsLayer:
    """The built dependency layer when ``<dir>/python`` holds packages, else a placeholder.

    The placeholder lets ``cdk synth`` and the infra tests run on a machine that never built
    the layer (it is git-ignored). It is written under ``staging_dir`` (the cloud assembly's
    output folder), never into the source tree. Functions deployed with it fail at import
    time, so the stack carries a synth warning, and ``requireDepsLayer=true`` (use it for
    ``cdk deploy``) turns the fallback into an error.
    """
    built = config.deps_layer_dir / "python"
    if built.is_dir() and any(built.iterdir()):
        return DepsLayer(config.deps_layer_dir, placeholder=False)
    if config.require_deps_layer:
        raise ConfigError(
            f"{built} is missing or empty: build it with `python -m infra_cdk.build_layers` "
            "(requireDepsLayer=true refuses the placeholder)"
        )
    placeholder = staging_dir / PLACEHOLDER_DIRNAME
    (placeholder / "python").mkdir(parents=True, exist_ok=True)
    (placeholder / "python" / "PLACEHOLDER.txt").write_text(
        "Placeholder for the MoleSignal dependency layer.\n"
        "Build the real one with `python -m infra_cdk.build_layers` before deploying.\n"
    )
    return DepsLayer(placeholder, placeholder=True)
