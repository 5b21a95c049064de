"""A deterministic, realistic log dataset for the ingest benchmark.

Records look like what Fluent Bit (tail + kubernetes filter) or an OpenTelemetry-style JSON
logger ships from a Kubernetes cluster running a web shop: 28 services in 8 namespaces,
~240 pods on 40 nodes (two ReplicaSets per service: a rollout halfway through), HTTP access
and application logs, background jobs, database and cache calls, and a 10 % share of
records carrying an ``error`` object with a stack trace.

Every record has:

- ``_timestamp``: µs since the epoch, increasing over ``SPAN_HOURS`` hours with ±0.5 s of
  jitter (so batches arrive slightly out of order, as they do from many pods);
- ``stream`` (stdout/stderr), ``level`` (skewed: info 68 %, debug 14 %, warn 10 %,
  error 7.5 %, fatal 0.5 %), ``logger``, ``service``, ``version``;
- ``kubernetes``: {namespace_name, pod_name, pod_id, container_name, container_image,
  host, labels: {app, pod-template-hash, team}} (Fluent Bit's kubernetes filter shape);
- ``message``: one of ~30 templated sentences with variables (ids, counts, durations);
- ``trace_id`` (32 hex, unique per request: high cardinality) and ``span_id`` (16 hex) on
  most records.

Depending on the kind of record: ``user_id`` (a skewed pick from 100,000 users),
``http`` {method, path (templated, with ids), route, status, duration_ms (float), bytes,
client_ip, user_agent}, ``db`` {system, operation, table, rows, duration_ms},
``cache_hit``, ``retry_count``, ``order_id``, ``amount``, ``currency``, ``job`` {name, id,
duration_ms, items}, ``queue`` {name, depth, lag_ms}, ``gc`` {pause_ms, heap_mb},
``tags`` (a JSON array), ``error`` {type, message, stack}.

Generated with a seeded ``random.Random``: the same ``(records, seed)`` gives the same
bytes. The generated NDJSON is cached under ``/tmp`` (never in the repository).

    .venv/bin/python bench/ingest/dataset.py --records 100000     # write the cache, print stats
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import string
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

GENERATOR_VERSION = 1  # bump when the records change: the cache key includes it
DEFAULT_RECORDS = 1_000_000
DEFAULT_SEED = 20261123
START_US = 1_795_413_600_000_000  # 2026-11-23T06:00:00Z
SPAN_HOURS = 4
CACHE_DIR = Path(os.environ.get("MOLESIGNAL_BENCH_CACHE") or Path(tempfile.gettempdir()) / "molesignal-bench-ingest")
USERS = 100_000

# (service, namespace, team, kind, language): kind picks the record mix.
SERVICES: list[tuple[str, str, str, str, str]] = [
    ("frontend", "web", "storefront", "api", "node"),
    ("web-bff", "web", "storefront", "api", "node"),
    ("search-api", "web", "discovery", "api", "go"),
    ("recommendations", "web", "discovery", "api", "python"),
    ("catalog", "catalog", "catalog", "api", "java"),
    ("inventory", "catalog", "catalog", "api", "java"),
    ("pricing", "catalog", "catalog", "api", "go"),
    ("image-resizer", "catalog", "catalog", "worker", "go"),
    ("cart", "checkout", "checkout", "api", "java"),
    ("checkout", "checkout", "checkout", "api", "java"),
    ("payments", "checkout", "payments", "api", "java"),
    ("fraud-check", "checkout", "payments", "api", "python"),
    ("orders", "orders", "orders", "api", "java"),
    ("order-events", "orders", "orders", "worker", "java"),
    ("shipping", "orders", "logistics", "api", "go"),
    ("returns", "orders", "logistics", "api", "python"),
    ("accounts", "identity", "identity", "api", "go"),
    ("auth", "identity", "identity", "api", "go"),
    ("sessions", "identity", "identity", "api", "go"),
    ("notifications", "messaging", "messaging", "worker", "python"),
    ("email-sender", "messaging", "messaging", "worker", "python"),
    ("sms-gateway", "messaging", "messaging", "worker", "go"),
    ("reports", "analytics", "data", "worker", "python"),
    ("etl-loader", "analytics", "data", "worker", "python"),
    ("event-collector", "analytics", "data", "api", "go"),
    ("feature-flags", "platform", "platform", "api", "go"),
    ("config-server", "platform", "platform", "api", "java"),
    ("scheduler", "platform", "platform", "worker", "python"),
]
LEVELS = ["info", "debug", "warn", "error", "fatal"]
LEVEL_WEIGHTS = [68, 14, 10, 7.5, 0.5]
HTTP_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
HTTP_METHOD_WEIGHTS = [70, 18, 6, 3, 3]
HTTP_OK = [200, 201, 204, 301, 304]
HTTP_OK_WEIGHTS = [80, 6, 5, 1, 8]
HTTP_FAIL = [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]
ROUTES = [
    "/api/v1/products/{id}",
    "/api/v1/products",
    "/api/v1/products/{id}/reviews",
    "/api/v1/search",
    "/api/v1/cart/{id}",
    "/api/v1/cart/{id}/items",
    "/api/v1/cart/{id}/items/{id}",
    "/api/v1/checkout/{id}",
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/orders/{id}/items",
    "/api/v1/orders/{id}/shipment",
    "/api/v1/payments/{id}/capture",
    "/api/v1/users/{id}",
    "/api/v1/users/{id}/addresses",
    "/api/v1/sessions",
    "/api/v1/recommendations/{id}",
    "/api/v1/inventory/{id}",
    "/api/v1/prices/{id}",
    "/healthz",
    "/metrics",
    "/api/v1/flags",
]
QUERIES = ["q=shoes", "q=red+dress&page=2", "sort=price", "page=1&size=50", "category=outdoor", "q=usb-c+cable"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-requests/2.32.3",
    "kube-probe/1.31",
    "Prometheus/2.55.1",
    "ShopApp/5.12.0 (iOS 18.1; iPhone15,2)",
    "ShopApp/5.11.3 (Android 14; SM-S921B)",
]
INTERNAL_AGENTS = ["okhttp/4.12.0", "Go-http-client/1.1", "python-requests/2.32.3", "kube-probe/1.31"]
DB_TABLES = ["orders", "order_items", "products", "inventory", "users", "sessions", "payments", "carts", "shipments"]
DB_OPS = ["SELECT", "SELECT", "SELECT", "INSERT", "UPDATE", "DELETE"]
CACHE_KEYS = ["product", "price", "session", "cart", "user", "flags", "stock"]
QUEUES = ["orders.created", "orders.paid", "emails.outbox", "sms.outbox", "events.raw", "images.resize", "reports.jobs"]
JOBS = [
    "send-email",
    "resize-image",
    "daily-report",
    "sync-inventory",
    "expire-carts",
    "rebuild-index",
    "export-orders",
]
TAGS = ["canary", "beta", "eu", "us", "mobile", "web", "vip", "retry", "batch", "cold-cache"]
ERRORS: list[tuple[str, str, str]] = [
    ("java.net.SocketTimeoutException", "Read timed out", "java"),
    ("java.sql.SQLTransientConnectionException", "HikariPool-1 - Connection is not available", "java"),
    ("java.lang.IllegalStateException", "Order {id} is already in state PAID", "java"),
    ("java.lang.NullPointerException", 'Cannot invoke "String.length()" because "sku" is null', "java"),
    ("context deadline exceeded", "rpc error: code = DeadlineExceeded", "go"),
    ("dial tcp 10.0.{a}.{b}:5432: connect: connection refused", "pq: connection refused", "go"),
    ("redis: connection pool timeout", "redis: connection pool timeout", "go"),
    ("TimeoutError", "upstream request timed out after 5000 ms", "node"),
    ("TypeError", "Cannot read properties of undefined (reading 'price')", "node"),
    ("ECONNRESET", "socket hang up", "node"),
    ("KeyError", "'shipping_address'", "python"),
    (
        "botocore.exceptions.ClientError",
        "An error occurred (ThrottlingException) when calling the PutItem operation",
        "python",
    ),
    ("psycopg.errors.DeadlockDetected", "deadlock detected", "python"),
    ("requests.exceptions.ConnectionError", "HTTPSConnectionPool(host='api.payments.example', port=443)", "python"),
]


def _hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=n))


class _Pod:
    __slots__ = (
        "container",
        "generation",
        "host",
        "image",
        "kind",
        "language",
        "loggers",
        "name",
        "namespace",
        "pod_id",
        "rs_hash",
        "service",
        "team",
        "version",
        "weight",
    )

    def __init__(
        self, rng: random.Random, service: tuple[str, str, str, str, str], rs_hash: str, version: str, generation: int
    ) -> None:
        self.service, self.namespace, self.team, self.kind, self.language = service
        self.generation = generation
        self.rs_hash = rs_hash
        self.version = version
        self.name = f"{self.service}-{rs_hash}-{_alnum(rng, 5)}"
        self.pod_id = f"{_hex(rng, 32)}-{_hex(rng, 16)}-4{_hex(rng, 12)}-{_hex(rng, 16)}-{_hex(rng, 48)}"
        self.host = f"ip-10-0-{rng.randrange(0, 64)}-{rng.randrange(2, 250)}.eu-west-1.compute.internal"
        self.container = self.service
        self.image = f"ghcr.io/example/shop/{self.service}:{version}"
        base = self.service.replace("-", "_")
        if self.language == "java":
            pkg = f"com.example.shop.{base}"
            self.loggers = [
                f"{pkg}.web.{base.title()}Controller",
                f"{pkg}.service.{base.title()}Service",
                f"{pkg}.repository.JdbcRepository",
                "org.springframework.web.servlet.DispatcherServlet",
                "com.zaxxer.hikari.pool.HikariPool",
            ]
        elif self.language == "python":
            self.loggers = [f"{base}.api", f"{base}.service", f"{base}.db", "uvicorn.access", "celery.worker"]
        else:
            self.loggers = [f"{base}/server", f"{base}/handler", f"{base}/store", f"{base}/client", "main"]
        self.weight = 1.0


class Generator:
    """Streams records; the same seed gives the same records."""

    def __init__(self, seed: int = DEFAULT_SEED, records: int = DEFAULT_RECORDS) -> None:
        self.rng = random.Random(seed)
        self.records = records
        rng = self.rng
        self.pods: list[_Pod] = []
        self.nodes = [
            f"ip-10-0-{rng.randrange(0, 64)}-{rng.randrange(2, 250)}.eu-west-1.compute.internal" for _ in range(40)
        ]
        for service in SERVICES:
            replicas = rng.choice([3, 4, 6, 8, 10, 12, 16, 20])
            # Two ReplicaSets (pod-template-hash values) with two versions: see the rollout in __iter__.
            for generation in range(2):
                rs_hash = _alnum(rng, 10)
                version = f"{rng.randrange(1, 6)}.{rng.randrange(0, 60)}.{rng.randrange(0, 20) + generation}"
                for _ in range(max(2, replicas // 2)):
                    pod = _Pod(rng, service, rs_hash, version, generation)
                    pod.host = rng.choice(self.nodes)
                    # Busy services log more: frontend and search far more than the scheduler.
                    pod.weight = {"api": 3.0, "worker": 1.0}[pod.kind] * rng.uniform(0.5, 1.5)
                    self.pods.append(pod)
        self.ids = [rng.randrange(10_000, 99_999_999) for _ in range(5000)]
        self.client_ips = [
            f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for _ in range(20_000)
        ]

    def _user(self) -> str:
        # Skewed: a few users are very active, most appear a handful of times.
        return f"u_{int(USERS * self.rng.random() ** 2.5):06d}"

    def _id(self) -> int:
        rng = self.rng
        return rng.choice(self.ids) if rng.random() < 0.6 else rng.randrange(10_000, 99_999_999)

    def _stack(self, pod: _Pod, etype: str) -> str:
        rng = self.rng
        frames = rng.randrange(4, 12)
        if pod.language == "java":
            lines = [f"{etype}: {pod.loggers[1]} failed"]
            for _ in range(frames):
                cls = rng.choice([*pod.loggers[:3], "org.springframework.aop.framework.ReflectiveMethodInvocation"])
                lines.append(
                    f"\tat {cls}.{rng.choice(['handle', 'process', 'invoke', 'apply', 'find'])}"
                    f"({cls.rsplit('.', 1)[-1]}.java:{rng.randrange(20, 900)})"
                )
        elif pod.language == "python":
            lines = ["Traceback (most recent call last):"]
            for _ in range(frames // 2 + 1):
                mod = rng.choice(pod.loggers[:3]).replace(".", "/")
                lines.append(
                    f'  File "/app/{mod}.py", line {rng.randrange(10, 700)}, in '
                    f"{rng.choice(['handle', 'process', 'run', 'fetch', 'save'])}"
                )
            lines.append(etype)
        elif pod.language == "go":
            lines = [f"goroutine {rng.randrange(1, 5000)} [running]:"]
            for _ in range(frames // 2 + 1):
                lines.append(f"{pod.loggers[rng.randrange(3)]}.{rng.choice(['Handle', 'Do', 'Query'])}(...)")
                lines.append(
                    f"\t/src/{pod.service}/internal/{rng.choice(['api', 'store', 'client'])}.go:"
                    f"{rng.randrange(20, 600)} +0x{rng.randrange(16, 4096):x}"
                )
        else:
            lines = [f"Error: {etype}"]
            for _ in range(frames):
                lines.append(
                    f"    at {rng.choice(['handle', 'fetchJson', 'processTicksAndRejections'])} "
                    f"(/app/dist/{rng.choice(['server', 'routes', 'client'])}.js:{rng.randrange(10, 900)}:"
                    f"{rng.randrange(1, 80)})"
                )
        return "\n".join(lines)

    def _http(self, record: dict[str, Any], pod: _Pod, failing: bool) -> str:
        rng = self.rng
        route = rng.choice(ROUTES)
        path = route
        while "{id}" in path:
            path = path.replace("{id}", str(self._id()), 1)
        if route in ("/api/v1/search", "/api/v1/products") and rng.random() < 0.7:
            path += "?" + rng.choice(QUERIES)
        method = "GET" if route in ("/healthz", "/metrics") else rng.choices(HTTP_METHODS, HTTP_METHOD_WEIGHTS)[0]
        status = rng.choice(HTTP_FAIL) if failing else rng.choices(HTTP_OK, HTTP_OK_WEIGHTS)[0]
        duration = round(rng.lognormvariate(3.0, 1.0) * (8 if status >= 500 else 1), 3)
        size = 0 if status in (204, 304) else int(rng.lognormvariate(7.5, 1.3))
        record["http"] = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration,
            "bytes": size,
            "client_ip": rng.choice(self.client_ips),
            # Browsers and apps reach the public services; the others are called by their peers.
            "user_agent": rng.choice(USER_AGENTS if pod.namespace == "web" else INTERNAL_AGENTS),
        }
        if route not in ("/healthz", "/metrics"):
            record["user_id"] = self._user()
        return f"{method} {path} {status} {duration:.1f}ms"

    def _app_message(self, record: dict[str, Any], pod: _Pod) -> str:  # noqa: PLR0912
        rng = self.rng
        pick = rng.randrange(14)
        if pick == 0:
            order, items, amount = self._id(), rng.randrange(1, 12), round(rng.uniform(5, 900), 2)
            record.update(order_id=str(order), amount=amount, currency=rng.choice(["EUR", "EUR", "GBP", "USD"]))
            record["user_id"] = self._user()
            return (
                f"Order {order} placed by {record['user_id']}: {items} items, total {amount:.2f} {record['currency']}"
            )
        if pick == 1:
            key = f"{rng.choice(CACHE_KEYS)}:{self._id()}"
            hit = rng.random() < 0.8
            record["cache_hit"] = hit
            return f"Cache {'hit' if hit else 'miss'} for key {key}"
        if pick == 2:
            rows, dur = int(rng.lognormvariate(2, 2)), round(rng.lognormvariate(1.5, 1.0), 3)
            table, op = rng.choice(DB_TABLES), rng.choice(DB_OPS)
            record["db"] = {"system": "postgresql", "operation": op, "table": table, "rows": rows, "duration_ms": dur}
            return f"{op} on {table} returned {rows} rows in {dur} ms"
        if pick == 3:
            active, idle = rng.randrange(0, 50), rng.randrange(0, 20)
            return f"Connection pool stats (total={active + idle}, active={active}, idle={idle}, waiting=0)"
        if pick == 4:
            n = rng.randrange(1, 6)
            record["retry_count"] = n
            target = rng.choice(SERVICES)[0]
            return f"Retrying call to {target} (attempt {n}/5) after {rng.randrange(50, 3200)} ms backoff"
        if pick == 5:
            name = rng.choice(JOBS)
            job_id = _hex(rng, 48)
            dur = round(rng.lognormvariate(6, 1.5), 1)
            record["job"] = {"name": name, "id": job_id, "duration_ms": dur, "items": rng.randrange(0, 5000)}
            return f"Job {name} ({job_id}) finished in {dur} ms"
        if pick == 6:
            q = rng.choice(QUEUES)
            depth, lag = rng.randrange(0, 20_000), rng.randrange(0, 60_000)
            record["queue"] = {"name": q, "depth": depth, "lag_ms": lag}
            return f"Consumed {rng.randrange(1, 500)} messages from {q} (depth={depth}, lag={lag}ms)"
        if pick == 7:
            record["user_id"] = self._user()
            return f"User {record['user_id']} signed in from {rng.choice(self.client_ips)}"
        if pick == 8:
            pause = round(rng.lognormvariate(2, 0.8), 2)
            record["gc"] = {"pause_ms": pause, "heap_mb": rng.randrange(200, 4000)}
            return f"GC pause {pause} ms"
        if pick == 9:
            record["tags"] = rng.sample(TAGS, rng.randrange(1, 4))
            return f"Feature flag evaluation for {self._user()}: checkout-v2={rng.random() < 0.3}"
        if pick == 10:
            return f"Published {rng.randrange(1, 200)} events to topic {rng.choice(QUEUES)}"
        if pick == 11:
            return f"Refreshed {rng.randrange(10, 10_000)} entries of the {rng.choice(CACHE_KEYS)} cache"
        if pick == 12:
            return f"Scheduled {rng.randrange(1, 50)} tasks; next run at +{rng.randrange(1, 60)}m"
        return f"Health check ok ({rng.randrange(1, 40)} ms)"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        step = SPAN_HOURS * 3600 * 1_000_000 / max(self.records, 1)
        # A rollout halfway through: the old ReplicaSets log the first half, the new ones the second.
        half = self.records // 2
        pods: list[_Pod] = []
        for generation, count in ((0, half), (1, self.records - half)):
            group = [p for p in self.pods if p.generation == generation]
            pods += rng.choices(group, [p.weight for p in group], k=count)
        for i in range(self.records):
            pod = pods[i]
            level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
            failing = level in ("error", "fatal")
            record: dict[str, Any] = {
                "_timestamp": START_US + int(i * step) + rng.randrange(-500_000, 500_000),
                "stream": "stderr" if failing or rng.random() < 0.05 else "stdout",
                "level": level,
                "logger": rng.choice(pod.loggers),
                "service": pod.service,
                "version": pod.version,
                "kubernetes": {
                    "namespace_name": pod.namespace,
                    "pod_name": pod.name,
                    "pod_id": pod.pod_id,
                    "container_name": pod.container,
                    "container_image": pod.image,
                    "host": pod.host,
                    "labels": {"app": pod.service, "pod-template-hash": pod.rs_hash, "team": pod.team},
                },
            }
            if pod.kind == "api" and rng.random() < 0.7:
                message = self._http(record, pod, failing)
            else:
                message = self._app_message(record, pod)
            if rng.random() < 0.92:
                record["trace_id"] = _hex(rng, 128)
                record["span_id"] = _hex(rng, 64)
            if failing or rng.random() < 0.025:
                etype, emsg, _ = rng.choice([e for e in ERRORS if e[2] == pod.language] or ERRORS)
                emsg = emsg.format(id=self._id(), a=rng.randrange(256), b=rng.randrange(256))
                etype = etype.format(a=rng.randrange(256), b=rng.randrange(256))
                record["error"] = {"type": etype, "message": emsg, "stack": self._stack(pod, etype)}
                message = f"{message} failed: {emsg}" if "http" in record else f"Unhandled error: {emsg}"
            record["message"] = message
            yield record


def cache_path(records: int, seed: int) -> Path:
    return CACHE_DIR / f"raw-{records}-s{seed}-g{GENERATOR_VERSION}.ndjson"


def ensure_raw(records: int = DEFAULT_RECORDS, seed: int = DEFAULT_SEED, *, quiet: bool = False) -> Path:
    """The generated NDJSON (one record per line, each line ending in a newline), cached."""
    path = cache_path(records, seed)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as out:
        buffer: list[bytes] = []
        for i, record in enumerate(Generator(seed, records)):
            buffer.append(orjson.dumps(record))
            if len(buffer) == 10_000:
                out.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
                if not quiet:
                    print(f"\rgenerating {i + 1:,}/{records:,} records", end="", file=sys.stderr)
        if buffer:
            out.write(b"\n".join(buffer) + b"\n")
    tmp.replace(path)
    if not quiet:
        print(f"\rgenerated {records:,} records in {time.perf_counter() - started:.0f} s: {path}", file=sys.stderr)
    return path


def describe(path: Path) -> dict[str, Any]:
    """Size and shape of a generated NDJSON file (one pass; cheap next to the benchmark)."""
    sizes: list[int] = []
    fields: dict[str, int] = {}
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for line in f:
            digest.update(line)
            sizes.append(len(line) - 1)
            for key in orjson.loads(line):
                fields[key] = fields.get(key, 0) + 1
    sizes.sort()
    n = len(sizes)
    return {
        "records": n,
        "bytes": sum(sizes) + n,
        "record_bytes_mean": round(sum(sizes) / n, 1) if n else None,
        "record_bytes_p10_p50_p90_p99": [sizes[int(n * q)] for q in (0.1, 0.5, 0.9, 0.99)] if n else None,
        "top_level_fields": {k: round(v / n, 4) for k, v in sorted(fields.items(), key=lambda kv: -kv[1])},
        "sha256": digest.hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sample", type=int, default=0, help="print the first N records and exit")
    args = parser.parse_args(argv)
    if args.sample:
        for i, record in enumerate(Generator(args.seed, args.records)):
            if i >= args.sample:
                break
            print(orjson.dumps(record).decode())
        return 0
    path = ensure_raw(args.records, args.seed)
    print(orjson.dumps(describe(path), option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
