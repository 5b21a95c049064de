"""The WebSocket API for live queries (``GET /v1/ws``, docs/live.md, ADR 0021).

``$connect``, ``$default`` and ``$disconnect`` go to one function. There is no authorizer:
the first frame carries the JWT (browsers cannot set an Authorization header on a
WebSocket). Every function whose needs say ``live_connections`` may post to and close the
API's connections; writers find the management endpoint in ``MOLESIGNAL_LIVE_CONNECTIONS_URL``.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.components.api import AccessLogSettings
from infra_cdk.components.runtime import FunctionSpec, LambdaRuntime
from infra_cdk.nag import acknowledge
from infra_cdk.permissions import needs_of
from registry import WebSocketFunction

STAGE = "live"
# One JSON line per connect, frame and disconnect.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTimeEpoch","routeKey":"$context.routeKey","eventType":"$context.eventType",'
    '"connectionId":"$context.connectionId","status":"$context.status",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


class LiveWebSocketApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, api_name: str, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.WebSocketApi(self, "Api", api_name=api_name, description="MoleSignal live queries (/v1/ws)")
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.stage = apigw.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=STAGE,
            auto_deploy=True,
            access_log_settings=AccessLogSettings(access_logs, ACCESS_LOG_FORMAT),
        )

    @property
    def connections_url(self) -> str:
        """The management endpoint (``@connections``) writers post to."""
        return Fn.join("", ["https://", self.api.api_id, ".execute-api.", Aws.REGION, ".", Aws.URL_SUFFIX, "/", STAGE])

    @property
    def url(self) -> str:
        return self.stage.url

    def connect(self, spec: WebSocketFunction, runtime: LambdaRuntime) -> lambda_.Function:
        """The function behind the three routes, and the right to manage connections for every
        function that needs it (call after all functions exist)."""
        function = runtime.function(
            self, FunctionSpec(spec.name, spec.handler, spec.memory_mb, spec.timeout_s, spec.description, spec.layers)
        )
        integration = integrations.WebSocketLambdaIntegration("Integration", function)
        for key in spec.routes:
            route = self.api.add_route(key, integration=integration)
            # The first frame authenticates (a JWT); $connect itself carries no credential.
            acknowledge(route, "APIG4", "APIG4-ws")
        connections = Stack.of(self).format_arn(
            service="execute-api",
            resource=self.api.api_id,
            resource_name=f"{STAGE}/POST/@connections/*",
        )
        closes = Stack.of(self).format_arn(
            service="execute-api",
            resource=self.api.api_id,
            resource_name=f"{STAGE}/DELETE/@connections/*",
        )
        api_id = Stack.of(self).get_logical_id(self.api.node.default_child)  # type: ignore[arg-type]
        for name, target in runtime.functions.items():
            if needs_of(name).live_connections and target.role is not None:
                target.role.add_to_principal_policy(
                    iam.PolicyStatement(actions=["execute-api:ManageConnections"], resources=[connections, closes])
                )
                for method in ("POST", "DELETE"):
                    finding = (
                        "Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
                        f"<{api_id}>/{STAGE}/{method}/@connections/*"
                    )
                    acknowledge(target.role, "IAM5", "IAM5-live-connections", finding=finding)
        return function
