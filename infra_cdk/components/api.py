"""The HTTP API: one Lambda per registry group, every registry route, and the authorizer.

The authorizer has no identity source and no cache, so API Gateway calls it on every
request to an ``auth`` route, including requests without an ``Authorization`` header. It
always answers ``isAuthorized: true`` with a context saying who the caller is (or why
not); the owning function refuses unauthenticated callers in its own route family's error
envelope. With an identity source, API Gateway would answer a bare 401 itself, in no
family's format (docs/adr/0002-authorizer-resolves-functions-enforce.md).
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.components.runtime import FunctionSpec, LambdaRuntime
from infra_cdk.nag import acknowledge
from infra_cdk.naming import pascal
from registry import DEFAULT_ROUTE, Registry, Route

# One JSON line per request in the stage's access log.
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTimeEpoch","routeKey":"$context.routeKey",'
    '"status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength",'
    '"latencyMs":"$context.responseLatency","integrationLatencyMs":"$context.integrationLatency",'
    '"integrationError":"$context.integrationErrorMessage","authorizerError":"$context.authorizer.error"}'
)


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry: Registry,
        runtime: LambdaRuntime,
        api_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.HttpApi(
            self,
            "Api",
            api_name=api_name,
            description="MoleSignal HTTP API (routes from functions/registry.py)",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=AccessLogSettings(access_logs),
        )

        spec = registry.authorizer
        self.authorizer_function = runtime.function(
            self,
            FunctionSpec(spec.name, spec.handler, spec.memory_mb, spec.timeout_s, "resolves the caller", spec.layers),
        )
        self.authorizer = authorizers.HttpLambdaAuthorizer(
            "Authorizer",
            self.authorizer_function,
            authorizer_name=f"{api_name}-authorizer",
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],  # payload 2.0
            identity_source=[],  # run even without an Authorization header
            results_cache_ttl=Duration.seconds(0),  # a cache would need an identity source
        )

        self.routes: dict[str, apigw.HttpRoute] = {}
        for group in registry.http:
            function = runtime.function(
                self,
                FunctionSpec(
                    group.name, group.handler, group.memory_mb, group.timeout_s, group.description, group.layers
                ),
            )
            # One invoke permission per function for this API, not one per route.
            integration = integrations.HttpLambdaIntegration(
                f"{pascal(group.name)}Integration", function, scope_permission_to_route=False
            )
            for route in group.routes:
                self._add_route(route, integration, group.name)

    def _add_route(self, route: Route, integration: apigw.HttpRouteIntegration, owner: str) -> None:
        if route.key in self.routes:
            raise ValueError(f"route {route.key!r} of {owner} is already owned by another function")
        if route.key == DEFAULT_ROUTE:
            route_key = apigw.HttpRouteKey.DEFAULT
        else:
            route_key = apigw.HttpRouteKey.with_(route.path, apigw.HttpMethod(route.method.upper()))
        self.routes[route.key] = apigw.HttpRoute(
            self,
            f"Route {route.key.replace('/', '|')}",
            http_api=self.api,
            route_key=route_key,
            integration=integration,
            authorizer=self.authorizer if route.auth else None,
        )
        if not route.auth:
            acknowledge(self.routes[route.key], "APIG4")

    @property
    def url(self) -> str:
        return self.stage.url


@jsii.implements(apigw.IAccessLogSettings)
class AccessLogSettings:
    """The stage's access log: a log group and one JSON line per request (or WebSocket event)."""

    def __init__(self, log_group: logs.ILogGroup, line_format: str = ACCESS_LOG_FORMAT) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)
        self._format = line_format

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway_v1.AccessLogFormat:
        return apigateway_v1.AccessLogFormat.custom(self._format)
