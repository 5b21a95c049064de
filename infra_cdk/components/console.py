"""The web console: its built files in a private S3 bucket behind CloudFront, with the API on
the same origin (CloudFront sends the API's paths to API Gateway), so the console's refresh
cookie and bearer calls need no CORS.

The files are uploaded after the deploy by ``python -m infra_cdk.publish_console`` (``make
deploy`` runs it), not by a ``BucketDeployment``: that construct adds a Lambda function with
an AWS managed policy and wildcard grants to every stack, for a job a deploy step does with
the operator's own credentials.

A CloudFront Function maps client-side routes to the app shell (``/query`` → ``/index.html``,
the share viewer ``/r/<shortId>`` too) and ``/docs`` to its page; a distribution-wide custom
error response would also rewrite the API's own 404s, so none is used. A response headers
policy sends the console's Content-Security-Policy, which forbids framing by other sites
everywhere but the share viewer's ``/embed`` (its own behaviour and policy).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.components.streaming import STREAM_READ_TIMEOUT
from infra_cdk.nag import acknowledge
from registry import StaticSite


def api_path_patterns(prefixes: tuple[str, ...]) -> list[str]:
    """CloudFront path patterns covering every API prefix, as few as possible.

    A distribution allows 25 cache behaviours; the registry's prefixes are grouped by their
    first path segment (``/api/v1/query`` and ``/api/v1/orgs`` both go to ``/api/*``).
    """
    patterns: set[str] = set()
    for prefix in prefixes:
        first, _, rest = prefix.lstrip("/").partition("/")
        patterns.add(f"/{first}/*" if rest else f"/{first}")
        if not rest:
            patterns.add(f"/{first}/*")
    return sorted(patterns)


def _rewrite_function_code(site: StaticSite) -> str:
    pages = ", ".join(f'"{path}": "/{name}"' for path, name in site.pages)
    return f"""function handler(event) {{
  var request = event.request;
  var uri = request.uri;
  var pages = {{{pages}}};
  var page = pages[uri.replace(/\\/$/, "")];
  if (page) {{ request.uri = page; return request; }}
  if (uri.indexOf("{site.assets_prefix}") === 0) {{ return request; }}
  request.uri = "/{site.index}";
  return request;
}}"""


class ConsoleSite(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        site: StaticSite,
        api_url: str,
        api_prefixes: tuple[str, ...],
        retain: bool,
        access_logs: s3.IBucket,
        streams: Mapping[str, lambda_.IFunctionUrl] | None = None,
        live_url: str | None = None,
        live_path: str = "/v1/ws",
    ) -> None:
        """``streams``: CloudFront path pattern -> the function URL that streams it; these
        behaviours come first, before the API's broader patterns."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="console/",
        )
        rewrite = cloudfront.Function(
            self,
            "SpaRoutes",
            code=cloudfront.FunctionCode.from_inline(_rewrite_function_code(site)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="console routes to the app shell; /docs to the API reference page",
        )
        # https://<api-id>.execute-api.<region>.amazonaws.com/ → the host name CloudFront connects to.
        api_host = Fn.select(2, Fn.split("/", api_url))
        api_behavior = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(api_host, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        )
        stream_behaviors = {
            pattern: cloudfront.BehaviorOptions(
                origin=origins.FunctionUrlOrigin(url, read_timeout=STREAM_READ_TIMEOUT),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            )
            for pattern, url in (streams or {}).items()
        }
        files = origins.S3BucketOrigin.with_origin_access_control(self.bucket)

        def console_behavior(*, framable: bool) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=files,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
                response_headers_policy=self._headers(site, framable=framable),
            )

        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"MoleSignal console and API ({Stack.of(self).stack_name})",
            default_root_object=site.index,
            default_behavior=console_behavior(framable=False),
            additional_behaviors={
                **stream_behaviors,
                **self._live_behavior(live_url, live_path),  # before /v1/*: CloudFront takes the first match
                site.framable: console_behavior(framable=True),
                **{pattern: api_behavior for pattern in api_path_patterns(api_prefixes)},
            },
        )
        for rule in ("CFR1", "CFR2", "CFR3", "CFR4"):
            acknowledge(self.distribution, rule)

    def _headers(self, site: StaticSite, *, framable: bool) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "FramableHeaders" if framable else "Headers",
            comment="the share viewer's embed: any site may frame it" if framable else "the console's own pages",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=site.content_security_policy(framable=framable), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.SAME_ORIGIN, override=True
                ),
            ),
        )

    def _live_behavior(self, live_url: str | None, live_path: str) -> dict[str, cloudfront.BehaviorOptions]:
        """``/v1/ws`` on the console's origin goes to the WebSocket API (CloudFront forwards
        WebSocket upgrades): the console's Live tail opens ``wss://<console>/v1/ws``. The path is
        rewritten to ``/`` so the request reaches the stage itself (``/live/``)."""
        if live_url is None:
            return {}
        # wss://<api-id>.execute-api.<region>.amazonaws.com/<stage> → host and stage.
        host = Fn.select(2, Fn.split("/", live_url))
        stage = Fn.select(3, Fn.split("/", live_url))
        to_stage = cloudfront.Function(
            self,
            "LiveToStage",
            code=cloudfront.FunctionCode.from_inline(
                "function handler(event) { var request = event.request; request.uri = '/'; return request; }"
            ),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="the console's /v1/ws to the WebSocket API's stage",
        )
        behavior = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(
                host,
                origin_path=Fn.join("", ["/", stage]),
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=to_stage, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )
        return {live_path: behavior}

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
