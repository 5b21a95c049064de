"""Deterministic, realistic OTLP/HTTP protobuf bodies for the OTLP benchmark.

Each body is one export request as an OpenTelemetry SDK's batch processor sends it: one
resource (one service instance), a few instrumentation scopes, and ``per_request`` records
(512 by default, the SDKs' ``max_export_batch_size``), serialised with the official
``opentelemetry-proto`` classes. Requests follow one another in time (3-9 s apart, from 10:40 UTC: about
40 minutes for 400 requests, so one batch in the middle crosses the 11:00 hour boundary).

**Resources** — 14 shop services (Java, Go, Python, Node) with 2-6 instances each, plus
Claude Code installations for the logs. A service instance carries about 22 resource
attributes, as the SDKs' and the Kubernetes/AWS detectors' resources do: ``service.name``,
``service.namespace``, ``service.version``, ``service.instance.id``,
``deployment.environment``, ``telemetry.sdk.*``, ``process.pid``, ``process.runtime.*``,
``host.*``, ``os.type``, ``container.id``, ``k8s.*``, ``cloud.*``.

**Traces** (``traces``) — server requests, each a local trace: a SERVER root span
(``http.method``, ``http.route``, ``http.target``, ``http.status_code``, ``http.scheme``,
``http.user_agent``, ``net.host.name``, ``net.sock.peer.addr``; ``user.id`` on 70 %,
``session.id`` on 60 %; a remote parent on 70 %) with 1-12 children: PostgreSQL and MySQL
(``db.system``, ``db.name``, ``db.user``, ``db.statement``, ``db.operation``,
``db.sql.table``, ``net.peer.*``), Redis, outgoing HTTP (CLIENT), internal spans (``code.*``
and an app attribute), and for the two worker services CONSUMER spans with a link to the
producer (``messaging.*``). About 4 % of server requests fail: ERROR status with a message
and an ``exception`` event with a stack trace; about 6 % of the other spans carry an event
(``cache miss``, ``retry``). The ``assistant`` service's requests have ``chat`` CLIENT spans
with the GenAI attributes (``gen_ai.system``, ``gen_ai.request.model``,
``gen_ai.usage.*``, ``gen_ai.response.finish_reasons`` as an array) and **content**:
``gen_ai.prompt`` and ``gen_ai.completion`` (sealed by the receiver's default policy), and
``execute_tool`` spans with ``gen_ai.tool.call.arguments`` (content).

**Logs** (``logs``) — two thirds of the requests come from shop services: access logs
(``GET /api/cart/123 200 12.3ms``, ``http.*``, ``duration_ms`` as a double), application logs
(templated sentences, ``code.function``, ``code.lineno``, ``code.filepath``, ``thread.name``,
ids), 7 % errors with ``exception.*`` and a stack trace; trace context on 80 %; severities
skewed (INFO 70 %, DEBUG 11 %, WARN 12 %, ERROR 7 %). One third come from Claude Code
installations (its OpenTelemetry events: ``user_prompt``, ``tool_result``, ``api_request``,
``tool_decision``, with ``session.id``, ``user.email``, ``organization.id``...): the
``user_prompt`` events carry **content** ``prompt`` and the ``tool_result`` events
``tool_parameters``. ``logs_plain`` is the same stream from the same seed with those content
attributes left out (Claude Code without ``OTEL_LOG_USER_PROMPTS``/``OTEL_LOG_TOOL_DETAILS``):
everything else is identical.

The same ``(signal, requests, per_request, seed)`` always gives the same bytes.

    .venv/bin/python bench/otlp/dataset.py --requests 4 --describe     # sizes and shares
    .venv/bin/python bench/otlp/dataset.py --sample traces             # one span of a request, as text
"""

from __future__ import annotations

import argparse
import hashlib
import random
import string
import sys
from collections.abc import Iterator
from typing import Any

GENERATOR_VERSION = 1
DEFAULT_SEED = 20261123
DEFAULT_REQUESTS = 400
PER_REQUEST = 512  # the SDKs' BatchSpanProcessor / BatchLogRecordProcessor max_export_batch_size
START_NS = 1_795_431_600_000_000_000  # 2026-11-23T11:00:00Z; the first batches fall in the 10:xx hour
SIGNALS = ("traces", "logs", "logs_plain")

# (service, language, kind) — kind "api" serves HTTP, "worker" consumes a queue, "llm" calls a model.
SERVICES: list[tuple[str, str, str]] = [
    ("frontend", "node", "api"),
    ("web-bff", "node", "api"),
    ("search-api", "go", "api"),
    ("catalog", "java", "api"),
    ("inventory", "java", "api"),
    ("cart", "java", "api"),
    ("checkout", "java", "api"),
    ("payments", "java", "api"),
    ("accounts", "go", "api"),
    ("shipping", "go", "api"),
    ("recommendations", "python", "api"),
    ("assistant", "python", "llm"),
    ("order-events", "java", "worker"),
    ("notifications", "python", "worker"),
]
ROUTES = [
    ("GET", "/api/products/{id}", "/api/products/{}"),
    ("GET", "/api/products", "/api/products?page={}"),
    ("GET", "/api/cart/{id}", "/api/cart/{}"),
    ("POST", "/api/cart/{id}/items", "/api/cart/{}/items"),
    ("POST", "/api/checkout", "/api/checkout"),
    ("GET", "/api/orders/{id}", "/api/orders/{}"),
    ("GET", "/api/search", "/api/search?q=item{}"),
    ("PUT", "/api/accounts/{id}", "/api/accounts/{}"),
    ("GET", "/healthz", "/healthz"),
]
TABLES = ["products", "carts", "cart_items", "orders", "order_lines", "accounts", "stock", "shipments", "payments"]
PEERS = ["payments-psp.example.com", "maps.example.net", "inventory", "pricing", "accounts", "search-api"]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0",
    "python-httpx/0.28.1",
]
ERRORS = [
    ("java.sql.SQLTransientConnectionException", "HikariPool-1 - Connection is not available, request timed out"),
    ("java.lang.NullPointerException", 'Cannot invoke "Cart.getItems()" because "cart" is null'),
    ("TimeoutError", "upstream request timed out after 3000 ms"),
    ("KeyError", "'shipping_address'"),
    ("redis.exceptions.ConnectionError", "Error 111 connecting to redis:6379. Connection refused."),
    ("context.DeadlineExceeded", "context deadline exceeded"),
]
_WORD_TEXT = (
    "the a an to of and in for on with is are be this that it as at by from or refactor function test file "
    "module error build deploy cache query index table column service request response user order cart "
    "payment stock price search result page async await return value type class method field config "
    "please can you add fix update remove rename explain why does fail when run should handle edge case "
    "null empty list dict string number timeout retry log metric span trace session token budget"
)
WORDS = _WORD_TEXT.split()
# Statement shapes of the database spans; TABLE is replaced by the table's name.
STATEMENTS = {
    "SELECT": "SELECT id, name, price, stock FROM TABLE WHERE id = $1 AND tenant_id = $2",
    "INSERT": "INSERT INTO TABLE (id, payload, created_at) VALUES ($1, $2, now())",
    "UPDATE": "UPDATE TABLE SET state = $1, updated_at = now() WHERE id = $2",
}
APP_MESSAGES = [
    "Loaded cart {id} with {n} items",
    "Reserved {n} units of sku-{id}",
    "Payment authorised for order o-{id}",
    "Cache miss for product:{id}, loading from database",
    "Retrying call to {peer} (attempt {n})",
    "Order o-{id} moved to state SHIPPED",
    "Recomputed prices for {n} products in {ms} ms",
    "Published event OrderPlaced for o-{id}",
    "Slow query on {table}: {ms} ms",
    "Session refreshed for user u_{id}",
]
TOOLS = ["Bash", "Read", "Edit", "Grep", "Glob", "Write", "WebFetch"]
MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]
SEVERITIES = [(5, "DEBUG", 0.11), (9, "INFO", 0.70), (13, "WARN", 0.12), (17, "ERROR", 0.07)]


def _kv(key: str, value: Any) -> dict[str, Any]:
    """An OTLP KeyValue in the generated classes' constructor form."""
    if isinstance(value, bool):
        return {"key": key, "value": {"bool_value": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"int_value": value}}
    if isinstance(value, float):
        return {"key": key, "value": {"double_value": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"array_value": {"values": [{"string_value": v} for v in value]}}}
    return {"key": key, "value": {"string_value": value}}


def _attrs(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [_kv(k, v) for k, v in mapping.items()]


def _hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


def _uuid(rng: random.Random) -> str:
    return f"{_hex(rng, 32)}-{_hex(rng, 16)}-4{_hex(rng, 12)}-{_hex(rng, 16)}-{_hex(rng, 48)}"


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=n))


_SDK = {
    "java": ("opentelemetry", "1.44.1", "java", "OpenJDK Runtime Environment", "21.0.5+11-LTS"),
    "go": ("opentelemetry", "1.32.0", "go", "go", "go1.23.3"),
    "python": ("opentelemetry", "1.28.2", "python", "cpython", "3.12.7"),
    "node": ("opentelemetry", "1.28.0", "nodejs", "nodejs", "22.11.0"),
}
_SCOPES = {
    "java": (
        "io.opentelemetry.spring-webmvc-6.0",
        "io.opentelemetry.jdbc",
        "io.opentelemetry.lettuce-5.1",
        "io.opentelemetry.java-http-client",
    ),
    "go": (
        "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
        "github.com/XSAM/otelsql",
        "github.com/redis/go-redis/extra/redisotel",
        "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp/client",
    ),
    "python": (
        "opentelemetry.instrumentation.fastapi",
        "opentelemetry.instrumentation.sqlalchemy",
        "opentelemetry.instrumentation.redis",
        "opentelemetry.instrumentation.httpx",
    ),
    "node": (
        "@opentelemetry/instrumentation-http",
        "@opentelemetry/instrumentation-pg",
        "@opentelemetry/instrumentation-ioredis",
        "@opentelemetry/instrumentation-undici",
    ),
}


class _Instance:
    """One service instance: its resource attributes and scopes."""

    def __init__(self, rng: random.Random, service: tuple[str, str, str], index: int) -> None:
        self.name, self.language, self.kind = service
        sdk, sdk_version, language, runtime, runtime_version = _SDK[self.language]
        rs = _alnum(rng, 10)
        pod = f"{self.name}-{rs}-{_alnum(rng, 5)}"
        zone = rng.choice("abc")
        self.resource = _attrs(
            {
                "service.name": self.name,
                "service.namespace": "shop",
                "service.version": f"{rng.randrange(1, 6)}.{rng.randrange(0, 40)}.{rng.randrange(0, 12)}",
                "service.instance.id": _uuid(rng),
                "deployment.environment": "production",
                "telemetry.sdk.name": sdk,
                "telemetry.sdk.language": language,
                "telemetry.sdk.version": sdk_version,
                "process.pid": rng.randrange(1, 400) if index % 2 else 1,
                "process.runtime.name": runtime,
                "process.runtime.version": runtime_version,
                "host.name": pod,
                "host.arch": "amd64",
                "os.type": "linux",
                "container.id": _hex(rng, 256),
                "k8s.namespace.name": "shop",
                "k8s.pod.name": pod,
                "k8s.pod.uid": _uuid(rng),
                "k8s.deployment.name": self.name,
                "k8s.node.name": f"ip-10-0-{rng.randrange(0, 64)}-{rng.randrange(2, 250)}.eu-west-1.compute.internal",
                "cloud.provider": "aws",
                "cloud.platform": "aws_eks",
                "cloud.region": "eu-west-1",
                "cloud.availability_zone": f"eu-west-1{zone}",
            }
        )
        self.scopes = _SCOPES[self.language]
        self.scope_version = {"java": "2.10.0", "go": "0.57.0", "python": "0.49b0", "node": "0.55.0"}[self.language]
        self.own_scope = f"shop.{self.name.replace('-', '_')}"
        base = self.name.replace("-", "_")
        if self.language == "java":
            pkg = f"com.example.shop.{base}"
            self.loggers = [f"{pkg}.web.ApiController", f"{pkg}.service.DomainService", f"{pkg}.repo.JdbcRepository"]
        else:
            self.loggers = [f"{base}.api", f"{base}.service", f"{base}.db"]
        self.loggers.append("access")


class _ClaudeCode:
    """One Claude Code installation (its OpenTelemetry logs exporter)."""

    def __init__(self, rng: random.Random, index: int) -> None:
        self.user = f"dev{index:03d}@example.com"
        self.account = _uuid(rng)
        self.user_id = _hex(rng, 256)
        self.resource = _attrs(
            {
                "service.name": "claude-code",
                "service.version": f"2.0.{rng.randrange(10, 40)}",
                "os.type": rng.choice(["darwin", "linux"]),
                "os.version": rng.choice(["24.6.0", "6.8.0-49-generic"]),
                "host.arch": rng.choice(["arm64", "amd64"]),
                "telemetry.sdk.name": "opentelemetry",
                "telemetry.sdk.language": "nodejs",
                "telemetry.sdk.version": "2.0.1",
            }
        )


class Generator:
    """The bodies of one signal; the same arguments always give the same bytes."""

    def __init__(self, signal: str, requests: int, per_request: int = PER_REQUEST, seed: int = DEFAULT_SEED) -> None:
        if signal not in SIGNALS:
            raise ValueError(f"signal must be one of {SIGNALS}")
        self.signal = signal
        self.requests = requests
        self.per_request = per_request
        self.content = signal != "logs_plain"
        # logs and logs_plain share the seed, so that they differ only by the content attributes.
        self.rng = random.Random(f"{seed}:{'logs' if signal.startswith('logs') else signal}")
        rng = self.rng
        self.instances = [_Instance(rng, service, i) for service in SERVICES for i in range(rng.choice([2, 3, 4, 6]))]
        self.claude = [_ClaudeCode(rng, i) for i in range(40)]
        self.sessions = [_uuid(rng) for _ in range(2000)]
        self.ips = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(500)]

    # ---- helpers

    def _user(self) -> str:
        return f"u_{int(100_000 * self.rng.random() ** 2.5):06d}"

    def _words(self, median: int, cap: int) -> str:
        rng = self.rng
        n = max(3, min(cap, int(rng.lognormvariate(0, 0.9) * median)))
        return " ".join(rng.choices(WORDS, k=n))

    def _stack(self, language: str, etype: str, emsg: str) -> str:
        rng = self.rng
        frames = rng.randrange(8, 24)
        if language == "java":
            lines = [f"{etype}: {emsg}"] + [
                f"\tat com.example.shop.{rng.choice(TABLES)}.{rng.choice(['Service', 'Repo', 'Controller'])}"
                f".{rng.choice(['load', 'save', 'handle', 'apply'])}(Source.java:{rng.randrange(20, 900)})"
                for _ in range(frames)
            ]
        else:
            lines = ["Traceback (most recent call last):"] + [
                f'  File "/app/{rng.choice(TABLES)}/{rng.choice(["api", "service", "db"])}.py", line '
                f"{rng.randrange(10, 600)}, in {rng.choice(['handle', 'load', 'save', 'run'])}"
                for _ in range(frames)
            ]
            lines.append(f"{etype}: {emsg}")
        return "\n".join(lines)

    def bodies(self) -> Iterator[bytes]:
        """One serialised export request per item."""
        t_ns = START_NS - 20 * 60 * 10**9
        for r in range(self.requests):
            window = self.rng.uniform(3, 9) * 1e9
            if self.signal == "traces":
                yield self._trace_request(r, t_ns, window).SerializeToString()
            else:
                yield self._logs_request(r, t_ns, window).SerializeToString()
            t_ns += int(window)

    # ---- traces

    def _trace_request(self, r: int, t0: int, window: float) -> Any:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        rng = self.rng
        inst = self.instances[(r * 7 + rng.randrange(3)) % len(self.instances)]
        by_scope: dict[str, list[dict[str, Any]]] = {}
        count = 0
        while count < self.per_request:
            spans = self._trace(inst, t0 + int(rng.random() * window))
            for scope, span in spans[: self.per_request - count]:
                by_scope.setdefault(scope, []).append(span)
                count += 1
        return ExportTraceServiceRequest(
            resource_spans=[
                {
                    "resource": {"attributes": inst.resource},
                    "scope_spans": [
                        {"scope": {"name": name, "version": inst.scope_version}, "spans": spans}
                        for name, spans in by_scope.items()
                    ],
                    "schema_url": "https://opentelemetry.io/schemas/1.24.0",
                }
            ]
        )

    def _trace(self, inst: _Instance, start: int) -> list[tuple[str, dict[str, Any]]]:  # noqa: PLR0912, PLR0915
        rng = self.rng
        trace_id = rng.randbytes(16)
        out: list[tuple[str, dict[str, Any]]] = []
        server_scope, db_scope, redis_scope, client_scope = inst.scopes
        root_id = rng.randbytes(8)
        total = int(rng.lognormvariate(3.0, 1.0) * 1e6)  # ns; median 20 ms
        failed = rng.random() < 0.04
        if inst.kind == "worker":
            topic = rng.choice(["orders", "payments", "shipments"])
            name, kind = f"{topic} process", 5
            attributes: dict[str, Any] = {
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.operation": "process",
                "messaging.kafka.consumer.group": inst.name,
                "messaging.kafka.message.offset": rng.randrange(10**9),
                "messaging.message.id": _hex(rng, 64),
            }
            links = [{"trace_id": rng.randbytes(16), "span_id": rng.randbytes(8), "flags": 257}]
            status_code = 500 if failed else 0
        else:
            method, route, target = rng.choice(ROUTES)
            if inst.kind == "llm":
                method, route, target = "POST", "/v1/chat", "/v1/chat"
            status_code = rng.choice([500, 502, 503]) if failed else rng.choices([200, 201, 204, 404], [85, 6, 4, 5])[0]
            name, kind = f"{method} {route}", 2
            attributes = {
                "http.method": method,
                "http.route": route,
                "http.target": target.format(rng.randrange(1000, 10**7)),
                "http.scheme": "http",
                "http.status_code": status_code,
                "http.user_agent": rng.choice(USER_AGENTS),
                "net.host.name": inst.name,
                "net.host.port": 8080,
                "net.sock.peer.addr": rng.choice(self.ips),
                "http.request_content_length": rng.randrange(0, 4000),
            }
            if rng.random() < 0.7:
                attributes["user.id"] = self._user()
            if rng.random() < 0.6:
                attributes["session.id"] = rng.choice(self.sessions)
            links = []
        root: dict[str, Any] = {
            "trace_id": trace_id,
            "span_id": root_id,
            "name": name,
            "kind": kind,
            "start_time_unix_nano": start,
            "end_time_unix_nano": start + total,
            "attributes": _attrs(attributes),
            "flags": 257,
        }
        if rng.random() < 0.7:
            root["parent_span_id"] = rng.randbytes(8)
            root["flags"] = 769
        if links:
            root["links"] = links
        if failed:
            etype, emsg = rng.choice(ERRORS)
            root["status"] = {"code": 2, "message": f"{etype}: {emsg}"}
            root["events"] = [
                {
                    "name": "exception",
                    "time_unix_nano": start + total - 1000,
                    "attributes": _attrs(
                        {
                            "exception.type": etype,
                            "exception.message": emsg,
                            "exception.stacktrace": self._stack(inst.language, etype, emsg),
                            "exception.escaped": True,
                        }
                    ),
                }
            ]
        out.append((server_scope, root))
        parents = [root_id]
        for _ in range(rng.randrange(1, 13)):
            child_start = start + int(rng.random() * total * 0.8)
            duration = max(20_000, int(rng.random() * (start + total - child_start)))
            span_id = rng.randbytes(8)
            pick = rng.random()
            scope = db_scope
            if inst.kind == "llm" and pick < 0.45:
                scope, span = inst.own_scope, self._llm_span(pick < 0.3)
            elif pick < 0.4:
                table = rng.choice(TABLES)
                op = rng.choices(["SELECT", "INSERT", "UPDATE"], [80, 10, 10])[0]
                system = "mysql" if inst.language == "go" else "postgresql"
                statement = STATEMENTS[op].replace("TABLE", table)
                span = {
                    "name": f"{op} shop.{table}",
                    "kind": 3,
                    "attributes": _attrs(
                        {
                            "db.system": system,
                            "db.name": "shop",
                            "db.user": "shop_app",
                            "db.statement": statement,
                            "db.operation": op,
                            "db.sql.table": table,
                            "net.peer.name": f"{system}.shop.svc.cluster.local",
                            "net.peer.port": 5432 if system == "postgresql" else 3306,
                        }
                    ),
                }
            elif pick < 0.6:
                scope = redis_scope
                key = f"{rng.choice(['product', 'cart', 'session', 'price'])}:{rng.randrange(10**6)}"
                op = rng.choice(["GET", "SET", "HGETALL", "EXPIRE"])
                span = {
                    "name": op,
                    "kind": 3,
                    "attributes": _attrs(
                        {
                            "db.system": "redis",
                            "db.statement": f"{op} {key}",
                            "db.redis.database_index": 0,
                            "net.peer.name": "redis.shop.svc.cluster.local",
                            "net.peer.port": 6379,
                        }
                    ),
                }
            elif pick < 0.8:
                scope = client_scope
                peer = rng.choice(PEERS)
                method = rng.choice(["GET", "GET", "POST"])
                span = {
                    "name": method,
                    "kind": 3,
                    "attributes": _attrs(
                        {
                            "http.method": method,
                            "http.url": f"http://{peer}/v2/items/{rng.randrange(10**6)}",
                            "http.status_code": rng.choices([200, 404, 503], [94, 4, 2])[0],
                            "net.peer.name": peer,
                            "net.peer.port": 443 if "." in peer else 8080,
                            "http.response_content_length": rng.randrange(100, 60_000),
                        }
                    ),
                }
            else:
                scope = inst.own_scope
                fn = rng.choice(["loadCart", "priceItems", "reserveStock", "applyPromotions", "render"])
                span = {
                    "name": fn,
                    "kind": 1,
                    "attributes": _attrs(
                        {
                            "code.function": fn,
                            "code.namespace": f"shop.{inst.name.replace('-', '_')}.service",
                            "app.items": rng.randrange(0, 40),
                        }
                    ),
                }
            span["trace_id"] = trace_id
            span["span_id"] = span_id
            span["parent_span_id"] = rng.choice(parents)
            span["start_time_unix_nano"] = child_start
            span["end_time_unix_nano"] = child_start + duration
            span["flags"] = 257
            if rng.random() < 0.06:
                event = rng.choice(["cache miss", "retry"])
                span["events"] = [
                    {
                        "name": event,
                        "time_unix_nano": child_start + duration // 2,
                        "attributes": _attrs(
                            {"cache.key": f"product:{rng.randrange(10**6)}"}
                            if event == "cache miss"
                            else {"retry.attempt": rng.randrange(1, 4)}
                        ),
                    }
                ]
            if rng.random() < 0.3:
                parents.append(span_id)
            out.append((scope, span))
        return out

    def _llm_span(self, chat: bool) -> dict[str, Any]:
        rng = self.rng
        if chat:
            model = rng.choice(MODELS)
            attributes: dict[str, Any] = {
                "gen_ai.system": "anthropic",
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.request.max_tokens": 4096,
                "gen_ai.request.temperature": 0.2,
                "gen_ai.response.model": model,
                "gen_ai.response.finish_reasons": [rng.choice(["end_turn", "tool_use", "max_tokens"])],
                "gen_ai.usage.input_tokens": rng.randrange(200, 40_000),
                "gen_ai.usage.output_tokens": rng.randrange(20, 3000),
            }
            prompt, completion = self._words(60, 900), self._words(120, 1200)
            if self.content:
                attributes["gen_ai.prompt"] = prompt
                attributes["gen_ai.completion"] = completion
            return {"name": f"chat {model}", "kind": 3, "attributes": _attrs(attributes)}
        tool = rng.choice(TOOLS)
        arguments = f'{{"query": "{self._words(8, 40)}", "limit": {rng.randrange(1, 50)}}}'
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
        if self.content:
            attributes["gen_ai.tool.call.arguments"] = arguments
        return {"name": f"execute_tool {tool}", "kind": 1, "attributes": _attrs(attributes)}

    # ---- logs

    def _logs_request(self, r: int, t0: int, window: float) -> Any:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        rng = self.rng
        if rng.random() < 1 / 3:
            return ExportLogsServiceRequest(resource_logs=[self._claude_logs(rng.choice(self.claude), t0, window)])
        inst = self.instances[(r * 5 + rng.randrange(3)) % len(self.instances)]
        by_scope: dict[str, list[dict[str, Any]]] = {}
        times = sorted(t0 + int(rng.random() * window) for _ in range(self.per_request))
        for t in times:
            scope, record = self._app_record(inst, t)
            by_scope.setdefault(scope, []).append(record)
        return ExportLogsServiceRequest(
            resource_logs=[
                {
                    "resource": {"attributes": inst.resource},
                    "scope_logs": [{"scope": {"name": name}, "log_records": recs} for name, recs in by_scope.items()],
                }
            ]
        )

    def _app_record(self, inst: _Instance, t: int) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        number, text, _weight = rng.choices(SEVERITIES, [w for _n, _t, w in SEVERITIES])[0]
        record: dict[str, Any] = {
            "time_unix_nano": t,
            "observed_time_unix_nano": t + rng.randrange(50_000, 2_000_000),
        }
        if rng.random() < 0.8:
            record["trace_id"] = rng.randbytes(16)
            record["span_id"] = rng.randbytes(8)
            record["flags"] = 1
        if inst.kind == "api" and rng.random() < 0.4:
            method, route, target = rng.choice(ROUTES)
            status = rng.choices([200, 201, 404, 500], [88, 5, 5, 2])[0]
            duration = round(rng.lognormvariate(2.5, 1.0), 3)
            path = target.format(rng.randrange(1000, 10**7))
            record["severity_number"], record["severity_text"] = (17, "ERROR") if status >= 500 else (9, "INFO")
            record["body"] = {"string_value": f"{method} {path} {status} {duration}ms"}
            attributes: dict[str, Any] = {
                "http.method": method,
                "http.route": route,
                "http.target": path,
                "http.status_code": status,
                "duration_ms": duration,
                "net.sock.peer.addr": rng.choice(self.ips),
                "user_agent.original": rng.choice(USER_AGENTS),
            }
            if rng.random() < 0.7:
                attributes["user.id"] = self._user()
            if rng.random() < 0.6:
                attributes["session.id"] = rng.choice(self.sessions)
            record["attributes"] = _attrs(attributes)
            return "access", record
        logger = rng.choice(inst.loggers[:3])
        record["severity_number"], record["severity_text"] = number, text
        attributes = {
            "code.function": rng.choice(["handle", "load", "save", "apply", "run"]),
            "code.lineno": rng.randrange(10, 900),
            "code.filepath": f"/app/{inst.name.replace('-', '_')}/{logger.rsplit('.', 1)[-1]}.py",
            "thread.name": rng.choice(["main", "http-nio-8080-exec-3", "worker-1", "asyncio_0"]),
        }
        if number == 17:
            etype, emsg = rng.choice(ERRORS)
            body = f"Unhandled error while handling request: {emsg}"
            attributes["exception.type"] = etype
            attributes["exception.message"] = emsg
            attributes["exception.stacktrace"] = self._stack(inst.language, etype, emsg)
        else:
            body = rng.choice(APP_MESSAGES).format(
                id=rng.randrange(10**7),
                n=rng.randrange(1, 50),
                ms=rng.randrange(1, 4000),
                peer=rng.choice(PEERS),
                table=rng.choice(TABLES),
            )
            if rng.random() < 0.5:
                attributes["order.id"] = f"o-{rng.randrange(10**8)}"
            if rng.random() < 0.4:
                attributes["user.id"] = self._user()
        record["body"] = {"string_value": body}
        record["attributes"] = _attrs(attributes)
        return logger, record

    def _claude_logs(self, cc: _ClaudeCode, t0: int, window: float) -> dict[str, Any]:
        rng = self.rng
        session = rng.choice(self.sessions)
        prompt_id = _hex(rng, 128)
        records = []
        for t in sorted(t0 + int(rng.random() * window) for _ in range(self.per_request)):
            event = rng.choices(["user_prompt", "tool_result", "api_request", "tool_decision"], [15, 35, 35, 15])[0]
            if event == "user_prompt" and rng.random() < 0.3:
                session, prompt_id = rng.choice(self.sessions), _hex(rng, 128)
            attributes: dict[str, Any] = {
                "user.id": cc.user_id,
                "session.id": session,
                "app.version": "2.0.14",
                "organization.id": "3f2c8f9e-6d2b-4a7e-9c1d-5b6a7e8f9a0b",
                "user.email": cc.user,
                "user.account_uuid": cc.account,
                "terminal.type": rng.choice(["iTerm.app", "vscode", "tmux"]),
                "event.name": event,
                "event.timestamp": f"2026-11-23T10:{(t // 10**9) % 3600 // 60:02d}:{(t // 10**9) % 60:02d}.000Z",
                "prompt.id": prompt_id,
            }
            if event == "user_prompt":
                prompt = self._words(40, 600)
                attributes["prompt_length"] = len(prompt)
                if self.content:
                    attributes["prompt"] = prompt
            elif event == "tool_result":
                tool = rng.choice(TOOLS)
                parameters = (
                    f'{{"command": "pytest tests/{rng.choice(TABLES)} -q -x", '
                    f'"description": "{self._words(6, 20)}", "timeout": 120000}}'
                )
                attributes["tool_name"] = tool
                attributes["success"] = "true" if rng.random() < 0.93 else "false"
                attributes["duration_ms"] = rng.randrange(5, 60_000)
                attributes["tool_result_size_bytes"] = rng.randrange(10, 200_000)
                if self.content:
                    attributes["tool_parameters"] = parameters
            elif event == "api_request":
                attributes["model"] = rng.choice(MODELS)
                attributes["cost_usd"] = round(rng.lognormvariate(-4, 1.2), 6)
                attributes["duration_ms"] = rng.randrange(400, 90_000)
                attributes["input_tokens"] = rng.randrange(1, 2000)
                attributes["output_tokens"] = rng.randrange(1, 4000)
                attributes["cache_read_tokens"] = rng.randrange(0, 150_000)
                attributes["cache_creation_tokens"] = rng.randrange(0, 20_000)
            else:
                attributes["tool_name"] = rng.choice(TOOLS)
                attributes["decision"] = "accept" if rng.random() < 0.9 else "reject"
                attributes["source"] = rng.choice(["config", "user_temporary", "user_permanent"])
            records.append(
                {
                    "time_unix_nano": t,
                    "observed_time_unix_nano": t + rng.randrange(1_000_000, 5_000_000_000),
                    "severity_number": 9,
                    "body": {"string_value": f"claude_code.{event}"},
                    "attributes": _attrs(attributes),
                }
            )
        return {
            "resource": {"attributes": cc.resource},
            "scope_logs": [
                {"scope": {"name": "com.anthropic.claude_code.events", "version": "2.0.14"}, "log_records": records}
            ],
        }


def generate(signal: str, requests: int, per_request: int = PER_REQUEST, seed: int = DEFAULT_SEED) -> list[bytes]:
    return list(Generator(signal, requests, per_request, seed).bodies())


def describe(signal: str, bodies: list[bytes]) -> dict[str, Any]:
    """Sizes, record counts and the share of records with content (under the default policy)."""
    from molesignal.otlp.content import split_content
    from molesignal.otlp.decode import decode_request
    from molesignal.otlp.flatten import flatten

    kind = "traces" if signal == "traces" else "logs"
    sizes = sorted(map(len, bodies))
    records = with_content = columns_total = 0
    columns: set[str] = set()
    resources = set()
    digest = hashlib.sha256()
    for body in bodies:
        digest.update(len(body).to_bytes(4, "big") + body)
        request = decode_request(kind, body, "application/x-protobuf", None)  # type: ignore[call-overload]
        for block in request.resource_spans if kind == "traces" else request.resource_logs:
            resources.add(next(kv.value.string_value for kv in block.resource.attributes if kv.key == "service.name"))
        for rows in flatten(request).rows.values():
            for row in rows:
                records += 1
                columns_total += len(row)
                columns.update(row)
                if split_content(row)[1]:
                    with_content += 1
    n = len(sizes)
    return {
        "signal": signal,
        "requests": n,
        "records": records,
        "body_bytes": sum(sizes),
        "body_bytes_p50_max": [sizes[n // 2], sizes[-1]] if n else None,
        "bytes_per_record": round(sum(sizes) / max(1, records), 1),
        "records_with_content": with_content,
        "content_share": round(with_content / max(1, records), 4),
        "flattened_columns_per_row_mean": round(columns_total / max(1, records), 1),
        "distinct_columns": len(columns),
        "services": sorted(resources),
        "sha256": digest.hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    import orjson

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--per-request", type=int, default=PER_REQUEST)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--describe", action="store_true", help="print sizes and shares of every signal")
    parser.add_argument("--sample", choices=SIGNALS, help="print a few flattened rows of the first request")
    args = parser.parse_args(argv)
    if args.sample:
        from molesignal.otlp.decode import decode_request
        from molesignal.otlp.flatten import flatten

        body = next(Generator(args.sample, 1, args.per_request, args.seed).bodies())
        kind = "traces" if args.sample == "traces" else "logs"
        rows = next(iter(flatten(decode_request(kind, body, "application/x-protobuf", None)).rows.values()))  # type: ignore[call-overload]
        for row in rows[:: max(1, len(rows) // 4)][:4]:
            print(orjson.dumps(row, option=orjson.OPT_INDENT_2).decode())
        return 0
    for signal in SIGNALS:
        bodies = generate(signal, args.requests, args.per_request, args.seed)
        print(orjson.dumps(describe(signal, bodies), option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
