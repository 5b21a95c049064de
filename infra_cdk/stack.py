"""The MoleSignal stack: composes the constructs; every function, route, queue worker and
schedule comes from ``registry.REGISTRY``, every stateful resource from
``molesignal.resources.RESOURCES``."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, CfnParameter, Stack
from constructs import Construct

from infra_cdk.components.alerting import AlertChannels
from infra_cdk.components.api import HttpApi
from infra_cdk.components.console import ConsoleSite
from infra_cdk.components.data import DataStore
from infra_cdk.components.runtime import AssetPaths, LambdaRuntime, log_retention
from infra_cdk.components.schedules import ScheduledJobs
from infra_cdk.components.streaming import StreamingUrls
from infra_cdk.components.websocket import LiveWebSocketApi
from infra_cdk.components.workers import QueueWorkers
from infra_cdk.config import StackConfig
from infra_cdk.naming import pascal
from molesignal import arrow_pool
from molesignal.resources import RESOURCES, Resources
from registry import REGISTRY, Registry

SERVICE_NAME = "molesignal"
METRICS_NAMESPACE = "MoleSignal"


class MoleSignalStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        assets: AssetPaths,
        deps_layer_problem: str | None,
        registry: Registry = REGISTRY,
        resources: Resources = RESOURCES,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", f"MoleSignal telemetry lake ({config.stage})")
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.deps_layer_placeholder = deps_layer_problem is not None
        if deps_layer_problem is not None:
            Annotations.of(self).add_warning_v2(
                "molesignal:placeholder-deps-layer",
                f"the dependency layers are placeholders ({deps_layer_problem}); functions deployed from this "
                "synth cannot import fastapi/pydantic/powertools. Run `python -m infra_cdk.build_layers` first, "
                "and deploy with -c requireDepsLayer=true.",
            )

        self.allow_remote_setup = CfnParameter(
            self,
            "AllowRemoteSetup",
            type="String",
            allowed_values=["true", "false"],
            default="true" if config.allow_remote_setup else "false",
            description="Accept first-run setup (POST /api/v1/auth/setup) from non-local clients",
        )

        self.data = DataStore(self, "Data", resources=resources, config=config)
        environment = {
            **self.data.environment(),
            "MOLESIGNAL_STAGE": config.stage,
            "MOLESIGNAL_ALLOW_REMOTE_SETUP": self.allow_remote_setup.value_as_string,
            "MOLESIGNAL_ALERT_EMAIL_FROM": config.alert_email_from,
            "MOLESIGNAL_ALERT_SNS_TOPIC_PREFIX": config.alert_topic_prefix,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **arrow_pool.environment(),
        }
        self.live: LiveWebSocketApi | None = None
        if registry.websocket is not None:
            self.live = LiveWebSocketApi(
                self, "Live", api_name=f"{config.prefix}-live", log_retention=log_retention(config.log_retention_days)
            )
            environment["MOLESIGNAL_LIVE_CONNECTIONS_URL"] = self.live.connections_url
        self.runtime = LambdaRuntime(
            self,
            "Runtime",
            assets=assets,
            data=self.data,
            environment=environment,
            log_retention_days=config.log_retention_days,
            channels=AlertChannels(email_from=config.alert_email_from, topic_prefix=config.alert_topic_prefix),
        )
        self.http = HttpApi(
            self,
            "Http",
            registry=registry,
            runtime=self.runtime,
            api_name=f"{config.prefix}-api",
            log_retention=log_retention(config.log_retention_days),
        )
        self.streaming = StreamingUrls(self, "Streaming", registry=registry, runtime=self.runtime)
        self.workers = QueueWorkers(self, "Workers", workers=registry.workers, runtime=self.runtime, data=self.data)
        self.schedules = ScheduledJobs(self, "Schedules", schedules=registry.schedules, runtime=self.runtime)
        if self.live is not None and registry.websocket is not None:
            self.live.connect(registry.websocket, self.runtime)
        self.console: ConsoleSite | None = None
        if registry.console is not None:
            self.console = ConsoleSite(
                self,
                "Console",
                site=registry.console,
                api_url=self.http.url,
                api_prefixes=registry.api_prefixes(),
                retain=config.retain_data,
                access_logs=self.data.access_logs,
                streams={
                    pattern: stream.url for stream in self.streaming.urls.values() for pattern in stream.path_patterns
                },
                live_url=self.live.url if self.live is not None else None,
                live_path=registry.websocket.path if registry.websocket is not None else "/v1/ws",
            )
        self._outputs()

    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.http.url, description="base URL of the HTTP API")
        CfnOutput(self, "TableName", value=self.data.table.table_name)
        for logical, bucket in self.data.buckets.items():
            CfnOutput(self, f"{pascal(logical)}BucketName", value=bucket.bucket_name)
        for logical, queue in self.data.queues.items():
            dlq = self.data.dead_letter_queues[logical]
            CfnOutput(self, f"{pascal(logical)}QueueUrl", value=queue.queue_url)
            CfnOutput(self, f"{pascal(logical)}DeadLetterQueueUrl", value=dlq.queue_url)
        for logical, secret in self.data.secrets.items():
            CfnOutput(self, f"{pascal(logical)}SecretArn", value=secret.secret_arn)
        for output_id, url in self.streaming.output_ids().items():
            CfnOutput(self, output_id, value=url, description="the function URL serving these streaming routes")
        CfnOutput(self, "ResourcePrefix", value=self.config.prefix)
        if self.live is not None:
            CfnOutput(self, "LiveWebSocketUrl", value=self.live.url, description="live queries (docs/live.md)")
        if self.console is not None:
            CfnOutput(self, "ConsoleUrl", value=self.console.url, description="the web console and the API, one origin")
            CfnOutput(self, "ConsoleBucketName", value=self.console.bucket.bucket_name)
            CfnOutput(self, "ConsoleDistributionId", value=self.console.distribution.distribution_id)
