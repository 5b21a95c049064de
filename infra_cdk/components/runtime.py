"""What every MoleSignal function shares: one code asset, the layers, the environment,
tracing and logs. The other constructs ask it for functions instead of copying a
Function-plus-role block per endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.components.alerting import AlertChannels
from infra_cdk.components.data import DataStore
from infra_cdk.config import CODE_EXCLUDE, CORE_LAYER_EXCLUDE
from infra_cdk.layers import DEPENDENCY_LAYERS, LAYERS_BY_NAME
from infra_cdk.nag import acknowledge
from infra_cdk.naming import pascal
from infra_cdk.permissions import needs_of

RUNTIME = lambda_.Runtime.PYTHON_3_12  # Amazon Linux 2023: see docs/adr/0004-lambda-python-3-12.md
# Must match the platform the dependency layers are built for (PLATFORMS in infra_cdk/layers.py).
ARCHITECTURE = lambda_.Architecture.X86_64

_R = logs.RetentionDays
# The retention periods (days) CloudWatch Logs accepts.
RETENTION: dict[int, logs.RetentionDays] = {
    1: _R.ONE_DAY,
    3: _R.THREE_DAYS,
    5: _R.FIVE_DAYS,
    7: _R.ONE_WEEK,
    14: _R.TWO_WEEKS,
    30: _R.ONE_MONTH,
    60: _R.TWO_MONTHS,
    90: _R.THREE_MONTHS,
    120: _R.FOUR_MONTHS,
    150: _R.FIVE_MONTHS,
    180: _R.SIX_MONTHS,
    365: _R.ONE_YEAR,
    400: _R.THIRTEEN_MONTHS,
    545: _R.EIGHTEEN_MONTHS,
    731: _R.TWO_YEARS,
    1096: _R.THREE_YEARS,
    1827: _R.FIVE_YEARS,
    2192: _R.SIX_YEARS,
    2557: _R.SEVEN_YEARS,
    2922: _R.EIGHT_YEARS,
    3288: _R.NINE_YEARS,
    3653: _R.TEN_YEARS,
}


@dataclass(frozen=True)
class AssetPaths:
    functions: Path  # functions/: every handler, e.g. auth_api.handler.lambda_handler
    core_layer: Path  # layers/core: python/molesignal
    deps_layers: Mapping[str, Path]  # layer name -> layers/deps/<name> (built) or a placeholder


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # registry name; picks the grants in infra_cdk.permissions
    handler: str
    memory_mb: int
    timeout_s: int
    description: str = ""
    layers: tuple[str, ...] = ()  # dependency layers by name (the registry's), beside the core layer
    grants_as: str = ""  # whose needs in infra_cdk.permissions it gets (default: its own name's)


def log_retention(days: int) -> logs.RetentionDays:
    try:
        return RETENTION[days]
    except KeyError:
        raise ValueError(f"log retention {days} days: CloudWatch accepts only {sorted(RETENTION)}") from None


class LambdaRuntime(Construct):
    """Creates MoleSignal functions: shared code, layers and settings; grants per function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        assets: AssetPaths,
        data: DataStore,
        environment: Mapping[str, str],
        log_retention_days: int,
        channels: AlertChannels | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._data = data
        self._channels = channels or AlertChannels()
        self._environment = dict(environment)
        self._log_retention = log_retention(log_retention_days)
        self.code = lambda_.Code.from_asset(str(assets.functions), exclude=CODE_EXCLUDE)
        self.core_layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            code=lambda_.Code.from_asset(str(assets.core_layer), exclude=CORE_LAYER_EXCLUDE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="MoleSignal core package (molesignal)",
        )
        self.deps_layers: dict[str, lambda_.LayerVersion] = {
            layer.name: lambda_.LayerVersion(
                self,
                f"{pascal(layer.name)}DepsLayer",
                code=lambda_.Code.from_asset(str(assets.deps_layers[layer.name]), exclude=CODE_EXCLUDE),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description=f"MoleSignal {layer.name} dependencies: {layer.description}"[:256],
            )
            for layer in DEPENDENCY_LAYERS
        }
        self.functions: dict[str, lambda_.Function] = {}

    def function(
        self,
        scope: Construct,
        spec: FunctionSpec,
        *,
        extra_layers: tuple[lambda_.ILayerVersion, ...] = (),
        extra_environment: Mapping[str, str] | None = None,
    ) -> lambda_.Function:
        """A function in ``scope`` with its own role, granted only what its needs list."""
        if spec.name in self.functions:
            raise ValueError(f"function {spec.name!r} is declared twice in the registry")
        construct_id = pascal(spec.name)
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Its own role, without the AWS managed basic-execution policy (which may write to any
        # log group): it writes to its own log group only, and gets what permissions.py lists.
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"MoleSignal {spec.name}: its log group, X-Ray, and its needs in infra_cdk/permissions.py",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            f"{construct_id}Function",
            role=role,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self.code,
            layers=[self.core_layer, *(self._deps_layer(spec.name, name) for name in spec.layers), *extra_layers],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            description=spec.description or spec.name,
            environment={**self._environment, **(extra_environment or {})},
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
        )
        needs = needs_of(spec.grants_as or spec.name)
        self._data.grant(role, needs)
        self._channels.grant(role, needs)
        acknowledge(function, "L1")
        acknowledge(role, "IAM5", "IAM5-xray", finding="Resource::*")
        self.functions[spec.name] = function
        return function

    def _deps_layer(self, function_name: str, layer_name: str) -> lambda_.LayerVersion:
        if layer_name not in LAYERS_BY_NAME:
            raise ValueError(f"{function_name}: no dependency layer named {layer_name!r} in infra_cdk.layers")
        return self.deps_layers[layer_name]
