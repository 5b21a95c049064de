"""The route and trigger table: which function owns which routes, which routes run the
authorizer, which queues and schedules drive the workers, and how each is sized.

Plain data, importing nothing heavy: the local gateway, the CDK stack and the contract
tests all read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_ROUTE = "$default"

# Dependency layers (built by infra_cdk/build_layers.py from the Lambda lock): "base" for every
# function, "web" for FastAPI apps, tokens and wire decoders, "data" for pyarrow/DuckDB/sqlglot.
# Each function names the layers its imports need (tests/infra/test_layers.py checks them
# against the imports): Lambda's 250 MB unzipped limit counts code and all layers together.
HTTP_LAYERS = ("base", "web")
WORKER_LAYERS = ("base",)
LAKE_HTTP_LAYERS = ("base", "web", "data")
LAKE_WORKER_LAYERS = ("base", "data")
AUDIT_HTTP_LAYERS = ("base", "web", "data", "audit")  # the audit chain: canonical JSON, geo-IP data
AUDIT_WORKER_LAYERS = ("base", "data", "audit")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    auth: bool = True  # run the Lambda authorizer (it resolves the caller; the function enforces)
    # The authorizer also takes HTTP Basic here, the password being an API token: shippers such
    # as rsyslog and python-logging-loki speak nothing else (docs/adr/0010-basic-auth-on-ingest.md).
    basic: bool = False
    # The answer is streamed as it is produced (Server-Sent Events). API Gateway HTTP APIs
    # buffer whole responses, so the deployed stack also serves these routes from a Lambda
    # function URL in RESPONSE_STREAM mode (docs/traces.md); the local gateway streams them.
    streaming: bool = False

    @property
    def key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpFunction:
    name: str
    handler: str  # "<package>.handler.lambda_handler", relative to functions/
    routes: tuple[Route, ...]
    prefixes: tuple[str, ...]  # every route lives under one of these
    memory_mb: int = 512
    timeout_s: int = 29  # API Gateway's integration timeout
    description: str = ""
    layers: tuple[str, ...] = HTTP_LAYERS

    @property
    def asgi_app(self) -> str:
        """The function's ASGI app, ``<package>.app.app``: what a streaming route runs directly."""
        return self.handler.split(".", 1)[0] + ".app.app"


@dataclass(frozen=True)
class QueueWorker:
    name: str
    handler: str
    queue: str  # logical queue name from molesignal.resources
    batch_size: int = 10
    max_batching_window_s: int = 1
    memory_mb: int = 1024
    timeout_s: int = 120
    description: str = ""
    layers: tuple[str, ...] = WORKER_LAYERS


@dataclass(frozen=True)
class ScheduledFunction:
    name: str
    handler: str
    schedule: str  # EventBridge expression: rate(N minutes|hours|days)
    memory_mb: int = 512
    timeout_s: int = 300
    description: str = ""
    layers: tuple[str, ...] = WORKER_LAYERS


@dataclass(frozen=True)
class Authorizer:
    name: str
    handler: str
    memory_mb: int = 256
    timeout_s: int = 10
    layers: tuple[str, ...] = HTTP_LAYERS


@dataclass(frozen=True)
class WebSocketFunction:
    """The WebSocket API (live queries, docs/live.md): ``$connect``, ``$default`` and
    ``$disconnect`` all go to one function. Deployed, it is an API Gateway WebSocket API of
    its own; locally the gateway upgrades ``GET path`` on its one port. No authorizer: the
    first frame authenticates (ADR 0021)."""

    name: str
    handler: str
    path: str
    routes: tuple[str, ...] = ("$connect", "$default", "$disconnect")
    memory_mb: int = 1024
    timeout_s: int = 29  # API Gateway's integration timeout
    description: str = ""
    layers: tuple[str, ...] = LAKE_HTTP_LAYERS


@dataclass(frozen=True)
class StaticSite:
    """The web console: a single-page app built into ``root`` (relative to the repository).

    Locally the gateway serves it for browser requests that no API route claims; deployed, it
    lives in an S3 bucket behind CloudFront, whose other behaviours send the API prefixes to
    API Gateway (same origin, so the refresh cookie and bearer calls need no CORS).
    """

    root: str = "console/dist"
    index: str = "index.html"  # the app shell for every client-side route
    pages: tuple[tuple[str, str], ...] = (("/docs", "docs.html"),)  # other HTML entry points
    assets_prefix: str = "/assets/"  # content-hashed files, cacheable forever
    # Client-side routes that links from elsewhere open (a share link pasted in a chat, curl'd,
    # framed): the shell answers them whatever the request's Accept header says.
    linked_routes: tuple[str, ...] = ("/r/",)
    # The one page other sites may frame: the share viewer without its chrome. A CloudFront
    # path pattern (``*`` matches any characters, ``/`` included).
    framable: str = "/r/*/embed"

    def content_security_policy(self, *, framable: bool = False) -> str:
        """The console's CSP: CodeMirror and Swagger UI set inline styles; scripts and
        connections stay same-origin; only ``framable`` pages may be framed by other sites."""
        ancestors = "*" if framable else "'self'"
        return (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
            f"frame-ancestors {ancestors}"
        )


@dataclass(frozen=True)
class Registry:
    authorizer: Authorizer
    http: tuple[HttpFunction, ...]
    workers: tuple[QueueWorker, ...] = field(default_factory=tuple)
    schedules: tuple[ScheduledFunction, ...] = field(default_factory=tuple)
    console: StaticSite | None = None
    websocket: WebSocketFunction | None = None

    def all_routes(self) -> list[tuple[Route, HttpFunction]]:
        return [(route, fn) for fn in self.http for route in fn.routes]

    def basic_auth_route_keys(self) -> frozenset[str]:
        return frozenset(route.key for route, _ in self.all_routes() if route.basic)

    def streaming_functions(self) -> tuple[HttpFunction, ...]:
        """The HTTP functions with streaming routes: each is also deployed behind a function URL."""
        return tuple(fn for fn in self.http if any(route.streaming for route in fn.routes))

    def http_function(self, name: str) -> HttpFunction:
        for fn in self.http:
            if fn.name == name:
                return fn
        raise KeyError(f"no HTTP function named {name!r} in the registry")

    def api_prefixes(self) -> tuple[str, ...]:
        """Every path prefix an API function owns (the console never answers under these)."""
        return tuple(sorted({p for fn in self.http for p in fn.prefixes if p != DEFAULT_ROUTE}))


# Paths two groups share, told apart by method: spec 002's OTLP receiver takes
# ``POST /v1/traces`` and spec 003's trace family everything else under ``/v1/traces``.
SHARED_PREFIXES = frozenset({"/v1/traces"})


def _both(method: str, tail: str, *, auth: bool) -> tuple[Route, Route]:
    """A spec-000 auth route and its spec-004 alias."""
    return Route(method, f"/api/v1/auth/{tail}", auth=auth), Route(method, f"/v1/api/auth/{tail}", auth=auth)


PLATFORM_API = HttpFunction(
    name="platform_api",
    handler="platform_api.handler.lambda_handler",
    description="health, Prometheus metrics, merged OpenAPI, and the catch-all for unknown routes",
    prefixes=(
        "/api/v1/healthz",
        "/health",
        "/v1/api/healthcheck",
        "/v1/api/cluster/health",
        "/metrics",
        "/openapi.json",
        DEFAULT_ROUTE,
    ),
    memory_mb=256,
    routes=(
        Route("GET", "/api/v1/healthz", auth=False),
        Route("GET", "/health", auth=False),
        Route("GET", "/v1/api/healthcheck", auth=False),
        Route("GET", "/v1/api/cluster/health", auth=False),
        Route("GET", "/metrics", auth=False),
        Route("GET", "/openapi.json", auth=False),
        Route("ANY", DEFAULT_ROUTE, auth=False),
    ),
)

AUTH_API = HttpFunction(
    name="auth_api",
    handler="auth_api.handler.lambda_handler",
    description="setup, login, refresh, logout, me; API tokens",
    prefixes=("/api/v1/auth", "/v1/api/auth", "/api/v1/tokens"),
    routes=(
        *_both("POST", "setup", auth=False),
        *_both("GET", "status", auth=False),
        *_both("POST", "login", auth=False),
        *_both("POST", "refresh", auth=False),  # validates the refresh token itself
        *_both("POST", "logout", auth=True),  # public, but revokes the caller's session when there is one
        *_both("GET", "me", auth=True),
        Route("GET", "/api/v1/tokens"),
        Route("POST", "/api/v1/tokens"),
        Route("GET", "/api/v1/tokens/{token_id}"),
        Route("DELETE", "/api/v1/tokens/{token_id}"),
    ),
)

ADMIN_API = HttpFunction(
    name="admin_api",
    handler="admin_api.handler.lambda_handler",
    description="orgs, users, roles, quotas, audit log",
    prefixes=("/api/v1/orgs", "/api/v1/users", "/api/v1/audit"),
    # Stream settings reach molesignal.lake.glue, whose schema module imports pyarrow lazily.
    layers=LAKE_HTTP_LAYERS,
    routes=(
        Route("GET", "/api/v1/orgs"),
        Route("POST", "/api/v1/orgs"),
        Route("GET", "/api/v1/orgs/{org_id}"),
        Route("PATCH", "/api/v1/orgs/{org_id}"),
        Route("GET", "/api/v1/orgs/{org_id}/quotas"),
        Route("PUT", "/api/v1/orgs/{org_id}/quotas"),
        Route("GET", "/api/v1/orgs/{org_id}/ip-allowlist"),
        Route("PUT", "/api/v1/orgs/{org_id}/ip-allowlist"),
        Route("GET", "/api/v1/orgs/{org_id}/plan"),
        Route("PUT", "/api/v1/orgs/{org_id}/plan"),
        Route("GET", "/api/v1/users"),
        Route("POST", "/api/v1/users"),
        Route("GET", "/api/v1/users/{user_id}"),
        Route("PATCH", "/api/v1/users/{user_id}"),
        Route("DELETE", "/api/v1/users/{user_id}"),
        Route("GET", "/api/v1/audit"),
    ),
)

INGEST_API = HttpFunction(
    name="ingest_api",
    handler="ingest_api.handler.lambda_handler",
    description="native JSON/NDJSON, Elasticsearch _bulk, Loki push, Prometheus remote_write; answers 202 and enqueues",
    prefixes=("/api/v1/ingest", "/api/v1/es", "/api/v1/loki", "/api/v1/prometheus"),
    memory_mb=1024,
    layers=LAKE_HTTP_LAYERS,  # native NDJSON is read column-wise by pyarrow (ADR 0022)
    routes=(
        Route("POST", "/api/v1/ingest/{stream}", basic=True),
        Route("GET", "/api/v1/ingest/_dlq"),
        Route("POST", "/api/v1/ingest/_dlq/redrive"),
        # Elasticsearch clients call GET and HEAD on the base URL (with a trailing slash, which
        # API Gateway routes here too); rsyslog polls _cat/health before it resumes sending.
        Route("GET", "/api/v1/es", basic=True),
        Route("HEAD", "/api/v1/es", basic=True),
        Route("GET", "/api/v1/es/_cat/health", basic=True),
        Route("POST", "/api/v1/es/_bulk", basic=True),
        Route("PUT", "/api/v1/es/_bulk", basic=True),
        Route("POST", "/api/v1/es/{index}/_bulk", basic=True),
        Route("PUT", "/api/v1/es/{index}/_bulk", basic=True),
        Route("POST", "/api/v1/loki/api/v1/push", basic=True),
        Route("POST", "/api/v1/prometheus/api/v1/write", basic=True),
    ),
)

QUERY_API = HttpFunction(
    name="query_api",
    handler="query_api.handler.lambda_handler",
    description="SQL over the lake and SQL tables (spec 000 query, spec 004 /v1/api/sql and files), streams API",
    prefixes=("/api/v1/query", "/v1/api/sql", "/v1/files", "/api/v1/streams", "/api/v1/correlate"),
    memory_mb=3008,
    layers=LAKE_HTTP_LAYERS,
    routes=(
        Route("POST", "/api/v1/query"),
        Route("POST", "/v1/api/sql"),
        Route("GET", "/v1/files/{namespace}/{table_name}/{subfolder}/{file_id}"),
        Route("GET", "/api/v1/correlate"),
        Route("GET", "/api/v1/streams"),
        Route("GET", "/api/v1/streams/{stream}"),
        Route("PATCH", "/api/v1/streams/{stream}"),
        Route("DELETE", "/api/v1/streams/{stream}"),
    ),
)

TOPICS_API = HttpFunction(
    name="topics_api",
    handler="topics_api.handler.lambda_handler",
    description="spec 004 topics: consume (a long poll bounded at 25 s) and ack for consumer groups",
    prefixes=("/v1/api/topics",),
    memory_mb=256,
    routes=(
        Route("POST", "/v1/api/topics/consume"),
        Route("POST", "/v1/api/topics/ack"),
    ),
)

OTLP_API = HttpFunction(
    name="otlp_api",
    handler="otlp_api.handler.lambda_handler",
    description="OTLP/HTTP receiver (spec 002) with sealed session content, and the audited content read",
    prefixes=("/v1/logs", "/v1/metrics", "/v1/traces", "/api/ingest/otlp", "/api/v1/sessions"),
    layers=LAKE_HTTP_LAYERS,  # the session-content read queries the lake
    memory_mb=1024,
    routes=(
        Route("POST", "/v1/logs", basic=True),
        Route("POST", "/v1/metrics", basic=True),
        Route("POST", "/v1/traces", basic=True),
        Route("POST", "/api/ingest/otlp/logs", basic=True),
        Route("POST", "/api/ingest/otlp/metrics", basic=True),
        Route("POST", "/api/ingest/otlp/traces", basic=True),
        Route("GET", "/api/v1/sessions/{session_id}/content"),
    ),
)

EVENTS_API = HttpFunction(
    name="events_api",
    handler="events_api.handler.lambda_handler",
    description="audit events (spec 001): 202 intake with pre-issued ids, listing, the hash chain",
    prefixes=("/api/v1/events", "/api/v1/exports"),
    memory_mb=1024,
    layers=AUDIT_HTTP_LAYERS,
    routes=(
        Route("POST", "/api/v1/events"),
        Route("POST", "/api/v1/events/batch"),
        Route("GET", "/api/v1/events"),
        Route("GET", "/api/v1/events/verify"),
        Route("GET", "/api/v1/events/checkpoints"),
        Route("GET", "/api/v1/events/{event_id}"),
        Route("GET", "/api/v1/events/{event_id}/proof"),
        Route("GET", "/api/v1/events/log-streams"),
        Route("POST", "/api/v1/events/log-streams"),
        Route("GET", "/api/v1/events/log-streams/{log_stream_id}"),
        Route("PATCH", "/api/v1/events/log-streams/{log_stream_id}"),
        Route("DELETE", "/api/v1/events/log-streams/{log_stream_id}"),
        Route("POST", "/api/v1/events/log-streams/{log_stream_id}/test"),
        Route("GET", "/api/v1/events/log-streams/{log_stream_id}/dead-letters"),
        Route("POST", "/api/v1/events/log-streams/{log_stream_id}/dead-letters/redrive"),
        Route("GET", "/api/v1/exports/schedules"),
        Route("POST", "/api/v1/exports/schedules"),
        Route("GET", "/api/v1/exports/schedules/{schedule_id}"),
        Route("PATCH", "/api/v1/exports/schedules/{schedule_id}"),
        Route("DELETE", "/api/v1/exports/schedules/{schedule_id}"),
        Route("POST", "/api/v1/exports"),
        Route("GET", "/api/v1/exports"),
        Route("GET", "/api/v1/exports/{export_id}"),
        Route("GET", "/api/v1/exports/{export_id}/download"),
    ),
)

TRACES_API = HttpFunction(
    name="traces_api",
    handler="traces_api.handler.lambda_handler",
    description="test-run trace bundles (spec 003): ingest, list, events, live stream, blobs, shares, tiers, replays",
    # /r/{shortId}, the share viewer, is a console page (StaticSite.routes); it reads /v1/shares.
    prefixes=("/v1/traces", "/v1/replays", "/v1/shares"),
    memory_mb=1024,
    routes=(
        Route("GET", "/v1/traces"),
        Route("POST", "/v1/traces/ingest"),
        Route("POST", "/v1/traces/uploads"),
        Route("POST", "/v1/traces/live", auth=False),  # x-internal-token, checked by the function
        Route("POST", "/v1/traces/{trace_id}/live/events", auth=False),
        Route("POST", "/v1/traces/{trace_id}/live/finish", auth=False),
        Route("GET", "/v1/traces/{trace_id}"),
        Route("GET", "/v1/traces/{trace_id}/events"),
        Route("GET", "/v1/traces/{trace_id}/stream", streaming=True),
        Route("GET", "/v1/traces/{trace_id}/blob/{sha256}"),
        Route("GET", "/v1/traces/diff"),
        Route("GET", "/v1/traces/{trace_id}/report.md"),
        Route("POST", "/v1/traces/{trace_id}/pin"),
        Route("POST", "/v1/traces/{trace_id}/unpin"),
        Route("POST", "/v1/traces/{trace_id}/share"),
        Route("DELETE", "/v1/traces/{trace_id}/share"),
        Route("POST", "/v1/traces/{trace_id}/restore"),
        Route("POST", "/v1/traces/{trace_id}/replay"),
        Route("GET", "/v1/traces/{trace_id}/replays"),
        Route("GET", "/v1/replays/runner"),
        Route("PUT", "/v1/replays/runner"),
        Route("GET", "/v1/replays/{replay_id}"),
        # The share viewer's reads run the authorizer to know a signed-in member; public-read
        # shares need no token (the function decides, answering 404 to whoever may not look).
        Route("GET", "/v1/shares/{short_id}"),
        Route("GET", "/v1/shares/{short_id}/events"),
        Route("GET", "/v1/shares/{short_id}/blob/{sha256}"),
    ),
)

ALERTS_API = HttpFunction(
    name="alerts_api",
    handler="alerts_api.handler.lambda_handler",
    description="alert destinations, rules, silences, history and dead deliveries",
    prefixes=("/api/v1/alerts",),
    # Rules are checked by the query guard (sqlglot) and bound against the stream (DuckDB).
    layers=LAKE_HTTP_LAYERS,
    routes=(
        Route("GET", "/api/v1/alerts/destinations"),
        Route("POST", "/api/v1/alerts/destinations"),
        Route("GET", "/api/v1/alerts/destinations/{destination_id}"),
        Route("PATCH", "/api/v1/alerts/destinations/{destination_id}"),
        Route("DELETE", "/api/v1/alerts/destinations/{destination_id}"),
        Route("POST", "/api/v1/alerts/destinations/{destination_id}/test"),
        Route("GET", "/api/v1/alerts/rules"),
        Route("POST", "/api/v1/alerts/rules"),
        Route("GET", "/api/v1/alerts/rules/{rule_id}"),
        Route("PATCH", "/api/v1/alerts/rules/{rule_id}"),
        Route("DELETE", "/api/v1/alerts/rules/{rule_id}"),
        Route("POST", "/api/v1/alerts/rules/{rule_id}/enable"),
        Route("POST", "/api/v1/alerts/rules/{rule_id}/disable"),
        Route("GET", "/api/v1/alerts/active"),
        Route("GET", "/api/v1/alerts/silences"),
        Route("POST", "/api/v1/alerts/silences"),
        Route("GET", "/api/v1/alerts/silences/{silence_id}"),
        Route("DELETE", "/api/v1/alerts/silences/{silence_id}"),
        Route("GET", "/api/v1/alerts/history"),
        Route("GET", "/api/v1/alerts/dlq"),
        Route("POST", "/api/v1/alerts/dlq/redrive"),
    ),
)

REGISTRY = Registry(
    authorizer=Authorizer(name="authorizer", handler="authorizer.handler.lambda_handler"),
    http=(
        PLATFORM_API,
        AUTH_API,
        ADMIN_API,
        INGEST_API,
        QUERY_API,
        TOPICS_API,
        OTLP_API,
        EVENTS_API,
        ALERTS_API,
        TRACES_API,
    ),
    console=StaticSite(),
    websocket=WebSocketFunction(
        name="live_ws",
        handler="live_ws.handler.lambda_handler",
        path="/v1/ws",
        description="live queries over WebSocket (spec 004 GET /v1/ws): subscribe with SQL, receive changes",
    ),
    workers=(
        QueueWorker(
            name="ingest_worker",
            handler="ingest_worker.handler.lambda_handler",
            queue="ingest",
            batch_size=10,
            max_batching_window_s=1,
            memory_mb=2048,
            timeout_s=120,
            description="lands enqueued records in the Parquet lake, exactly once; evaluates realtime alert rules",
            layers=LAKE_WORKER_LAYERS,
        ),
        QueueWorker(
            name="events_worker",
            handler="events_worker.handler.lambda_handler",
            queue="events",
            batch_size=10,
            max_batching_window_s=0,  # FIFO: no batching window
            memory_mb=1024,
            timeout_s=120,
            layers=AUDIT_WORKER_LAYERS,
            description="chains each org's audit events in order and lands them in the audit_events stream",
        ),
        QueueWorker(
            name="export_worker",
            handler="export_worker.handler.lambda_handler",
            queue="exports",
            batch_size=1,  # one export at a time: each may stream a large result
            max_batching_window_s=0,
            memory_mb=3008,
            timeout_s=900,
            layers=LAKE_WORKER_LAYERS,
            description="writes export files (CSV, NDJSON, Parquet; gzip) to the exports bucket",
        ),
        QueueWorker(
            name="replay_worker",
            handler="replay_worker.handler.lambda_handler",
            queue="replays",
            batch_size=5,
            max_batching_window_s=0,
            memory_mb=256,
            timeout_s=30,  # three runner calls of at most 10 s each
            description="sends queued Layer 2 replays to each org's runner (HMAC-signed)",
        ),
        QueueWorker(
            name="alert_delivery_worker",
            handler="alert_delivery_worker.handler.lambda_handler",
            queue="alert-delivery",
            batch_size=10,
            max_batching_window_s=0,  # a notification should leave at once
            memory_mb=512,
            timeout_s=120,  # ten sends, each under alert_delivery_timeout_s
            description="sends alert notifications (webhook, Slack, SES, SNS) with retries; quota events become alerts",
        ),
        QueueWorker(
            name="fanout_worker",
            handler="fanout_worker.handler.lambda_handler",
            queue="fanout",
            batch_size=10,
            max_batching_window_s=1,
            memory_mb=512,
            timeout_s=60,  # at most a few receivers' 10 s timeouts; under the queue's visibility
            description="delivers chained audit events to log streams (webhook, S3, Datadog, Splunk HEC)",
        ),
    ),
    schedules=(
        ScheduledFunction(
            name="alert_evaluation_worker",
            handler="alert_evaluation_worker.handler.lambda_handler",
            schedule="rate(1 minute)",
            memory_mb=2048,  # scheduled rules run their queries in DuckDB, like the query function
            timeout_s=300,
            description="runs due scheduled alert rules, resolves quiet realtime alerts, checks DLQs and worker errors",
            layers=LAKE_WORKER_LAYERS,
        ),
        ScheduledFunction(
            name="housekeeping_worker",
            handler="housekeeping_worker.handler.lambda_handler",
            schedule="rate(1 hour)",
            description="purges expired sessions, throttle counters and rate windows",
        ),
        ScheduledFunction(
            name="outbox_worker",
            handler="outbox_worker.handler.lambda_handler",
            schedule="rate(1 minute)",
            timeout_s=60,
            layers=LAKE_WORKER_LAYERS,  # pyarrow: an outbox item's rows are Arrow IPC
            description="publishes to topics the committed changes their writer left in the outbox",
        ),
        ScheduledFunction(
            name="compaction_worker",
            handler="compaction_worker.handler.lambda_handler",
            schedule="rate(15 minutes)",
            memory_mb=4096,  # a round holds up to ~128 MB of Parquet decoded in memory
            timeout_s=600,
            description="merges small lake files per hour partition; deletes replaced files after a grace period",
            layers=LAKE_WORKER_LAYERS,
        ),
        ScheduledFunction(
            name="retention_worker",
            handler="retention_worker.handler.lambda_handler",
            schedule="rate(60 minutes)",  # hourly; spelled apart from housekeeping's "rate(1 hour)"
            timeout_s=300,
            description="removes lake files past each stream's retention; bumps the stream's data version",
        ),
        ScheduledFunction(
            name="checkpoint_worker",
            handler="checkpoint_worker.handler.lambda_handler",
            schedule="rate(5 minutes)",
            timeout_s=120,
            layers=AUDIT_WORKER_LAYERS,
            description="signs each org's audit-chain head (KMS, ECDSA P-256) when it moved since the last checkpoint",
        ),
        ScheduledFunction(
            name="trace_tiering_worker",
            handler="trace_tiering_worker.handler.lambda_handler",
            schedule="rate(20 minutes)",  # finishes cold restores soon after S3 does; apart from compaction's 15
            timeout_s=600,
            description="moves unpinned traces hot -> warm -> cold by age; finishes cold restores",
        ),
        ScheduledFunction(
            name="export_scheduler",
            handler="export_scheduler.handler.lambda_handler",
            schedule="rate(1 minute)",
            timeout_s=60,
            layers=LAKE_WORKER_LAYERS,  # a SQL job is planned (guarded) when its run is created
            description="creates the export jobs of the export schedules that are due (rate or cron)",
        ),
    ),
)
