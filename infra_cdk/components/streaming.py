"""The streaming routes' second home: API Gateway HTTP APIs buffer a Lambda's whole answer,
so each function with ``streaming`` routes is also deployed behind a Lambda function URL in
RESPONSE_STREAM mode, and CloudFront sends those routes' paths there (docs/traces.md).

Python has no native response streaming in Lambda: the function runs its ASGI app under
uvicorn (``functions/stream_server.sh``), and the AWS Lambda Web Adapter layer relays the HTTP
answer as a stream. The URL runs no authorizer: the app authenticates the caller itself with
the authorizer's logic (``molesignal.web.function_url``), so the URL's auth type is NONE,
as for any public API endpoint, and answers only the streaming routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.components.runtime import FunctionSpec, LambdaRuntime
from infra_cdk.naming import pascal
from registry import Registry

# AWS Lambda Web Adapter, x86_64 (the functions' architecture), published by AWS in every
# commercial region under this account: https://github.com/awslabs/aws-lambda-web-adapter
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_LAYER = "LambdaAdapterLayerX86"
WEB_ADAPTER_VERSION = 25
STREAM_HANDLER = "stream_server.sh"
STREAM_TIMEOUT_S = 900  # a stream lasts at most MOLESIGNAL_TRACE_SSE_MAX_S (15 minutes)


def path_pattern(route_path: str) -> str:
    """The CloudFront path pattern of a route: each ``{param}`` segment becomes ``*``."""
    return "/".join("*" if part.startswith("{") else part for part in route_path.split("/"))


@dataclass(frozen=True)
class StreamingUrl:
    function: lambda_.Function
    url: lambda_.FunctionUrl
    path_patterns: tuple[str, ...]


class StreamingUrls(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, registry: Registry, runtime: LambdaRuntime) -> None:
        super().__init__(scope, construct_id)
        adapter = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "WebAdapter",
            f"arn:aws:lambda:{Stack.of(self).region}:{WEB_ADAPTER_ACCOUNT}:layer:"
            f"{WEB_ADAPTER_LAYER}:{WEB_ADAPTER_VERSION}",
        )
        self.urls: dict[str, StreamingUrl] = {}
        for group in registry.streaming_functions():
            name = f"{group.name}_stream"
            function = runtime.function(
                self,
                FunctionSpec(
                    name,
                    STREAM_HANDLER,
                    group.memory_mb,
                    STREAM_TIMEOUT_S,
                    f"{group.name}'s streaming routes behind a function URL",
                    group.layers,
                    grants_as=group.name,
                ),
                extra_layers=(adapter,),
                extra_environment={
                    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                    "AWS_LWA_INVOKE_MODE": "response_stream",
                    "PORT": "8080",
                    "MOLESIGNAL_STREAM_FUNCTION": group.name,
                },
            )
            url = function.add_function_url(
                auth_type=lambda_.FunctionUrlAuthType.NONE,
                invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM,
            )
            patterns = tuple(path_pattern(route.path) for route in group.routes if route.streaming)
            self.urls[group.name] = StreamingUrl(function, url, patterns)

    def output_ids(self) -> dict[str, str]:
        return {f"{pascal(name)}StreamUrl": stream.url.url for name, stream in self.urls.items()}


STREAM_READ_TIMEOUT = Duration.seconds(60)  # CloudFront waits this long between bytes (heartbeats every 15 s)
