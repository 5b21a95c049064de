"""A deterministic, realistic log dataset in the lake's own layout, for the query benchmark.

Ten million rows are too many to build as Python dicts and push through the ingest path
(that path has its own benchmark, ``bench/ingest``). Here the rows are generated column by
column with numpy and pyarrow, hour by hour, already in *canonical form* — the flat columns
``molesignal.lake.writer.prepare`` produces from canonical NDJSON (``_timestamp`` int64 µs,
the fields, then ``org_id`` and ``_stream``, rows sorted by time) — and then landed with the
writer's own functions: ``split_by_hour`` cuts the rows into hour partitions, each hour is
cut into files of about ``file_rows`` rows (consecutive time slices, as successive ingest
batches would land them), and each file is what ``Lake.append_batch`` writes for one hour of
a batch: ``encode_parquet(cluster(part))`` (rows ordered by the writer's cluster keys, then
time; the writer's encoding, ADR 0031). It goes to
``<root>/lake/org=<org>/stream=<stream>/date=<d>/hour=<h>/<id>.parquet`` (``layout.file_key``).
``<root>/dataset.json`` records the landed files (the writer's ``LandedFile`` fields) and
the batch schema, so the benchmark can commit the manifest and the stream item with the
writer's own ``Lake._commit`` into a fresh emulator on every run without touching the
files again.

The logs are those of a Kubernetes web shop (the same world as ``bench/ingest/dataset.py``):
28 services on ~300 pods and 40 nodes over 24 hours, more traffic by day than by night.

- ``level``: info 68 %, debug 14 %, warn 10 %, error 7.5 %, fatal 0.5 %;
- ``service``, ``version``, ``logger``, ``kubernetes_namespace_name``, ``kubernetes_pod_name``,
  ``kubernetes_host``: from the pod that logged the row (busy services log more);
- ``http_method``, ``http_path`` (with ids), ``http_route``, ``http_status`` (failing for
  error rows), ``http_duration_ms`` (log-normal), ``http_bytes``, ``http_client_ip``,
  ``http_user_agent`` on access-log rows (about half of all rows);
- ``user_id``: ``u_0000000``..``u_0999999`` on ~60 % of rows, skewed (a few users are very
  active, most appear a handful of times): hundreds of thousands of distinct values;
- ``trace_id``: 32 random hex digits on 92 % of rows (unique: the bulk of the bytes);
- ``message``: an access-log line or one of 12 templated application messages with ids,
  counts and durations; error rows append an error text. ``timeout`` occurs in ~5 % of them;
- ``error_type`` on error rows.

Seeded (``numpy.random.default_rng([seed, hour])``): the same ``(rows, seed, file_rows)``
gives the same rows. Cached under ``/tmp`` (``MOLESIGNAL_BENCH_QUERY_ROOT``), never in the
repository.

    .venv/bin/python bench/query/dataset.py --rows 1000000     # generate (or reuse) and print the description
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from molesignal.lake import schema as S  # noqa: E402
from molesignal.lake.arrow_batch import schema_of  # noqa: E402
from molesignal.lake.layout import HOUR_US, file_key, stream_prefix  # noqa: E402
from molesignal.lake.writer import LandedFile, cluster, cluster_keys, encode_parquet, split_by_hour  # noqa: E402

GENERATOR_VERSION = 2  # bump when the rows change: the cache directory name includes it
DEFAULT_ROWS = 10_000_000
DEFAULT_SEED = 20261124
DEFAULT_FILE_ROWS = 200_000
ORG = "bench-org"
STREAM = "logs"
START_US = 1_795_305_600_000_000  # 2026-11-22T00:00:00Z
HOURS = 24
USERS = 1_000_000
CACHE_ROOT = Path(os.environ.get("MOLESIGNAL_BENCH_QUERY_ROOT") or Path(tempfile.gettempdir()) / "msbench")

# (service, namespace, kind, language); kind "api" serves HTTP, "worker" does not.
SERVICES: list[tuple[str, str, str, str]] = [
    ("frontend", "web", "api", "node"),
    ("web-bff", "web", "api", "node"),
    ("search-api", "web", "api", "go"),
    ("recommendations", "web", "api", "python"),
    ("catalog", "catalog", "api", "java"),
    ("inventory", "catalog", "api", "java"),
    ("pricing", "catalog", "api", "go"),
    ("image-resizer", "catalog", "worker", "go"),
    ("cart", "checkout", "api", "java"),
    ("checkout", "checkout", "api", "java"),
    ("payments", "checkout", "api", "java"),
    ("fraud-check", "checkout", "api", "python"),
    ("orders", "orders", "api", "java"),
    ("order-events", "orders", "worker", "java"),
    ("shipping", "orders", "api", "go"),
    ("returns", "orders", "api", "python"),
    ("accounts", "identity", "api", "go"),
    ("auth", "identity", "api", "go"),
    ("sessions", "identity", "api", "go"),
    ("notifications", "messaging", "worker", "python"),
    ("email-sender", "messaging", "worker", "python"),
    ("sms-gateway", "messaging", "worker", "go"),
    ("reports", "analytics", "worker", "python"),
    ("etl-loader", "analytics", "worker", "python"),
    ("event-collector", "analytics", "api", "go"),
    ("feature-flags", "platform", "api", "go"),
    ("config-server", "platform", "api", "java"),
    ("scheduler", "platform", "worker", "python"),
]
LEVELS = ["info", "debug", "warn", "error", "fatal"]
LEVEL_WEIGHTS = [68, 14, 10, 7.5, 0.5]
HTTP_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
HTTP_METHOD_WEIGHTS = [70, 18, 6, 3, 3]
HTTP_OK = [200, 201, 204, 301, 304]
HTTP_OK_WEIGHTS = [80, 6, 5, 1, 8]
HTTP_FAIL = [400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]
# (route, prefix, suffix): the path is prefix + id + suffix (no id when suffix is None).
ROUTES: list[tuple[str, str, str | None]] = [
    ("/api/v1/products/{id}", "/api/v1/products/", ""),
    ("/api/v1/products", "/api/v1/products", None),
    ("/api/v1/products/{id}/reviews", "/api/v1/products/", "/reviews"),
    ("/api/v1/search", "/api/v1/search?q=shoes", None),
    ("/api/v1/cart/{id}", "/api/v1/cart/", ""),
    ("/api/v1/cart/{id}/items", "/api/v1/cart/", "/items"),
    ("/api/v1/checkout/{id}", "/api/v1/checkout/", ""),
    ("/api/v1/orders", "/api/v1/orders", None),
    ("/api/v1/orders/{id}", "/api/v1/orders/", ""),
    ("/api/v1/orders/{id}/shipment", "/api/v1/orders/", "/shipment"),
    ("/api/v1/payments/{id}/capture", "/api/v1/payments/", "/capture"),
    ("/api/v1/users/{id}", "/api/v1/users/", ""),
    ("/api/v1/sessions", "/api/v1/sessions", None),
    ("/api/v1/recommendations/{id}", "/api/v1/recommendations/", ""),
    ("/api/v1/inventory/{id}", "/api/v1/inventory/", ""),
    ("/api/v1/prices/{id}", "/api/v1/prices/", ""),
    ("/healthz", "/healthz", None),
    ("/metrics", "/metrics", None),
]
ROUTE_WEIGHTS = [14, 8, 3, 10, 6, 5, 3, 4, 6, 2, 2, 5, 4, 4, 3, 5, 8, 6]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "ShopApp/5.12.0 (iOS 18.1; iPhone15,2)",
    "ShopApp/5.11.3 (Android 14; SM-S921B)",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-requests/2.32.3",
    "kube-probe/1.31",
]
DB_TABLES = ["orders", "order_items", "products", "inventory", "users", "sessions", "payments", "carts", "shipments"]
DB_OPS = ["SELECT", "SELECT", "SELECT", "INSERT", "UPDATE", "DELETE"]
QUEUES = ["orders.created", "orders.paid", "emails.outbox", "sms.outbox", "events.raw", "images.resize"]
JOBS = ["send-email", "resize-image", "daily-report", "sync-inventory", "expire-carts", "rebuild-index"]
CACHE_KEYS = ["product", "price", "session", "cart", "user", "flags", "stock"]
# (error_type, text appended to the message); several mention timeouts, in different spellings.
ERRORS: list[tuple[str, str]] = [
    ("java.net.SocketTimeoutException", "Read timed out"),
    ("java.sql.SQLTransientConnectionException", "HikariPool-1 - Connection is not available, request timeout"),
    ("java.lang.IllegalStateException", "Order is already in state PAID"),
    ("java.lang.NullPointerException", 'Cannot invoke "String.length()" because "sku" is null'),
    ("context.DeadlineExceeded", "rpc error: code = DeadlineExceeded desc = context deadline exceeded"),
    ("net.OpError", "dial tcp 10.0.3.17:5432: connect: connection refused"),
    ("redis.PoolTimeoutError", "redis: connection pool timeout"),
    ("TimeoutError", "upstream request timed out after 5000 ms"),
    ("TypeError", "Cannot read properties of undefined (reading 'price')"),
    ("ECONNRESET", "socket hang up"),
    ("KeyError", "'shipping_address'"),
    ("botocore.exceptions.ClientError", "ThrottlingException when calling the PutItem operation"),
    ("psycopg.errors.DeadlockDetected", "deadlock detected"),
    ("requests.exceptions.ReadTimeout", "HTTPSConnectionPool(host='api.payments.example'): Read timeout=10"),
]


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _pick(values: list[str] | pa.Array, index: np.ndarray) -> pa.Array:
    table = values if isinstance(values, pa.Array) else _strings(values)
    return pc.take(table, pa.array(index, type=pa.int32()))


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _decimal(values: np.ndarray, digits: int) -> pa.Array:
    """Non-negative floats as text with a fixed number of decimals, vectorised."""
    scale = 10**digits
    scaled = np.rint(values * scale).astype(np.int64)
    frac = pc.utf8_lpad(_text(scaled % scale), digits, "0")
    return pc.binary_join_element_wise(_text(scaled // scale), ".", frac, "")


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    """values where mask, null elsewhere."""
    return pc.if_else(pa.array(mask), values, pa.scalar(None, values.type))


def _hex(rng: np.random.Generator, n: int, digits: int) -> pa.Array:
    """n random hex strings of ``digits`` characters, built as one buffer."""
    blob = rng.bytes(n * digits // 2).hex().encode()
    offsets = np.arange(0, n * digits + 1, digits, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(blob)])


def _weights(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


class World:
    """The pods, nodes and id pools; fixed by the seed."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 999])
        self.nodes = [
            f"ip-10-0-{rng.integers(0, 64)}-{rng.integers(2, 250)}.eu-west-1.compute.internal" for _ in range(40)
        ]
        service, namespace, kind, version, pod, host, logger, weight = [], [], [], [], [], [], [], []
        for name, ns, k, lang in SERVICES:
            replicas = int(rng.choice([3, 4, 6, 8, 10, 12, 16, 20]))
            ver = f"{rng.integers(1, 6)}.{rng.integers(0, 60)}.{rng.integers(0, 20)}"
            rs_hash = rng.bytes(5).hex()
            base = name.replace("-", "_")
            loggers = {
                "java": f"com.example.shop.{base}.service.{base.title().replace('_', '')}Service",
                "python": f"{base}.service",
                "go": f"{base}/handler",
                "node": f"{base}:server",
            }[lang]
            busy = (3.0 if k == "api" else 1.0) * float(rng.uniform(0.5, 1.5))
            for _ in range(replicas):
                service.append(name)
                namespace.append(ns)
                kind.append(k == "api")
                version.append(ver)
                pod.append(f"{name}-{rs_hash}-{rng.bytes(3).hex()[:5]}")
                host.append(self.nodes[int(rng.integers(0, len(self.nodes)))])
                logger.append(loggers)
                weight.append(busy)
        self.pod_service = _strings(service)
        self.pod_namespace = _strings(namespace)
        self.pod_version = _strings(version)
        self.pod_name = _strings(pod)
        self.pod_host = _strings(host)
        self.pod_logger = _strings(logger)
        self.pod_is_api = np.asarray(kind)
        self.pod_weights = _weights(weight)
        self.client_ips = _strings(
            [
                f"{rng.integers(1, 223)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
                for _ in range(20_000)
            ]
        )
        self.ids = rng.integers(10_000, 99_999_999, size=5000)


def hour_rows(rows: int) -> list[int]:
    """Rows per hour over the day: a diurnal curve (quietest ~04:00 UTC, busiest ~16:00)."""
    weights = [1.0 + 0.6 * math.sin((h - 10) / 24 * 2 * math.pi) for h in range(HOURS)]
    total = sum(weights)
    counts = [int(rows * w / total) for w in weights]
    for i in range(rows - sum(counts)):
        counts[i % HOURS] += 1
    return counts


def generate_hour(world: World, seed: int, hour: int, n: int) -> pa.Table:
    """One hour of rows in canonical form, sorted by ``_timestamp``."""
    rng = np.random.default_rng([seed, hour])
    start = START_US + hour * HOUR_US
    ts = np.sort(rng.integers(start, start + HOUR_US, size=n, dtype=np.int64))

    pod = rng.choice(len(world.pod_weights), size=n, p=world.pod_weights)
    level_idx = rng.choice(len(LEVELS), size=n, p=_weights(LEVEL_WEIGHTS))
    failing = level_idx >= 3
    is_http = world.pod_is_api[pod] & (rng.random(n) < 0.7)

    def ids(k: int) -> np.ndarray:
        pooled = world.ids[rng.integers(0, len(world.ids), size=k)]
        fresh = rng.integers(10_000, 99_999_999, size=k)
        return np.where(rng.random(k) < 0.6, pooled, fresh)

    def users(k: int) -> pa.Array:
        # Skewed: u = USERS * r^2.5 puts ~5 % of the rows on the 300 busiest users.
        u = (USERS * rng.random(k) ** 2.5).astype(np.int64)
        return _join("u_", pc.utf8_lpad(_text(u), 7, "0"))

    # --- HTTP access rows (computed for every row, kept where is_http; cheap enough)
    route = rng.choice(len(ROUTES), size=n, p=_weights(ROUTE_WEIGHTS))
    prefix = _pick([r[1] for r in ROUTES], route)
    suffix = _pick([r[2] or "" for r in ROUTES], route)
    has_id = np.asarray([r[2] is not None for r in ROUTES])[route]
    id_text = _where(has_id, _text(ids(n)))
    path = pc.if_else(pa.array(has_id), _join(prefix, id_text, suffix), prefix)
    probe = np.isin(route, [16, 17])
    method = np.where(probe, 0, rng.choice(len(HTTP_METHODS), size=n, p=_weights(HTTP_METHOD_WEIGHTS)))
    ok = np.asarray(HTTP_OK)[rng.choice(len(HTTP_OK), size=n, p=_weights(HTTP_OK_WEIGHTS))]
    status = np.where(failing, np.asarray(HTTP_FAIL)[rng.integers(0, len(HTTP_FAIL), size=n)], ok)
    duration = np.round(rng.lognormal(3.0, 1.0, size=n) * np.where(status >= 500, 8, 1), 3)
    size = np.where(np.isin(status, [204, 304]), 0, rng.lognormal(7.5, 1.3, size=n).astype(np.int64))
    method_text = _pick(HTTP_METHODS, method)
    access = _join(method_text, " ", path, " ", _text(status), " ", _decimal(duration, 1), "ms")
    http_user = is_http & ~probe

    # --- application rows: 12 templates
    template = rng.integers(0, 12, size=n)
    num_a = rng.integers(1, 500, size=n)
    num_b = rng.integers(0, 20_000, size=n)
    dur = _decimal(rng.lognormal(2.0, 1.2, size=n), 2)
    user_text = users(n)
    app_parts = [
        _join("Order ", _text(ids(n)), " placed by ", user_text, ": ", _text(num_a % 12 + 1), " items"),
        _join(
            "Cache ",
            _pick(["hit", "hit", "hit", "miss"], num_a % 4),
            " for key ",
            _pick(CACHE_KEYS, num_b % 7),
            ":",
            _text(ids(n)),
        ),
        _join(
            _pick(DB_OPS, num_a % 6),
            " on ",
            _pick(DB_TABLES, num_b % 9),
            " returned ",
            _text(num_a),
            " rows in ",
            dur,
            " ms",
        ),
        _join(
            "Connection pool stats (total=",
            _text(num_a % 50 + 20),
            ", active=",
            _text(num_a % 50),
            ", idle=20, waiting=0)",
        ),
        _join(
            "Retrying call to ",
            _pick(world.pod_service, (num_b % len(world.pod_service)).astype(np.int64)),
            " (attempt ",
            _text(num_a % 5 + 1),
            "/5) after ",
            _text(num_b % 3200 + 50),
            " ms backoff",
        ),
        _join("Job ", _pick(JOBS, num_a % 6), " finished in ", dur, " ms"),
        _join("Consumed ", _text(num_a), " messages from ", _pick(QUEUES, num_b % 6), " (depth=", _text(num_b), ")"),
        _join("User ", user_text, " signed in from ", _pick(world.client_ips, num_b)),
        _join("GC pause ", dur, " ms"),
        _join("Published ", _text(num_a), " events to topic ", _pick(QUEUES, num_b % 6)),
        _join("Health check ok (", _text(num_a % 40 + 1), " ms)"),
        _join("Slow query on ", _pick(DB_TABLES, num_b % 9), ": statement timeout is ", _text(num_a * 10), " ms"),
    ]
    app = app_parts[0]
    for k in range(1, len(app_parts)):
        app = pc.if_else(pa.array(template == k), app_parts[k], app)
    app_user = np.isin(template, [0, 7])

    # --- errors: on failing rows and 2.5 % of the others
    has_error = failing | (rng.random(n) < 0.025)
    err = rng.integers(0, len(ERRORS), size=n)
    err_type = _where(has_error, _pick([e[0] for e in ERRORS], err))
    err_text = _pick([e[1] for e in ERRORS], err)
    message = pc.if_else(pa.array(is_http), access, app)
    with_error = pc.if_else(
        pa.array(is_http),
        _join(message, " failed: ", err_text),
        _join("Unhandled error: ", err_text, " (", message, ")"),
    )
    message = pc.if_else(pa.array(has_error), with_error, message)

    user_id = _where(http_user | (~is_http & app_user), user_text)
    trace = _where(rng.random(n) < 0.92, _hex(rng, n, 32))
    is_web = pc.equal(_pick(world.pod_namespace, pod), "web").to_numpy(zero_copy_only=False)
    agent = np.where(is_web, rng.integers(0, 6, size=n), rng.integers(6, 10, size=n))

    def http(values: pa.Array) -> pa.Array:
        return _where(is_http, values)

    columns: dict[str, pa.Array] = {
        "_timestamp": pa.array(ts, type=pa.int64()),
        "level": _pick(LEVELS, level_idx),
        "logger": _pick(world.pod_logger, pod),
        "service": _pick(world.pod_service, pod),
        "version": _pick(world.pod_version, pod),
        "kubernetes_namespace_name": _pick(world.pod_namespace, pod),
        "kubernetes_pod_name": _pick(world.pod_name, pod),
        "kubernetes_host": _pick(world.pod_host, pod),
        "http_method": http(method_text),
        "http_path": http(path),
        "http_route": http(_pick([r[0] for r in ROUTES], route)),
        "http_status": http(pa.array(status, type=pa.int64())),
        "http_duration_ms": http(pa.array(duration, type=pa.float64())),
        "http_bytes": http(pa.array(size, type=pa.int64())),
        "http_client_ip": http(_pick(world.client_ips, rng.integers(0, 20_000, size=n))),
        "http_user_agent": http(_pick(USER_AGENTS, agent)),
        "user_id": user_id,
        "trace_id": trace,
        "error_type": err_type,
        "message": message,
        # prepare() appends these two after the record's own fields.
        "org_id": pa.repeat(pa.scalar(ORG, pa.string()), n),
        "_stream": pa.repeat(pa.scalar(STREAM, pa.string()), n),
    }
    return pa.table(columns)


def dataset_dir(rows: int, seed: int, file_rows: int) -> Path:
    return CACHE_ROOT / f"r{rows}-s{seed}-f{file_rows}-g{GENERATOR_VERSION}"


def ensure(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, file_rows: int = DEFAULT_FILE_ROWS, *, quiet: bool = False
) -> tuple[Path, dict[str, Any]]:
    """The dataset's root (pass it as ``MOLESIGNAL_LAKE_LOCAL_ROOT``) and its description."""
    root = dataset_dir(rows, seed, file_rows)
    described = root / "dataset.json"
    if described.exists():
        return root, json.loads(described.read_text())
    if root.exists():
        shutil.rmtree(root)  # an interrupted generation
    started = time.perf_counter()
    world = World(seed)
    landed: list[LandedFile] = []
    schema: dict[str, str] = {}
    digest = hashlib.sha256()
    keys_seen: dict[tuple[str, ...], int] = {}
    for hour, n in enumerate(hour_rows(rows)):
        table = generate_hour(world, seed, hour, n)
        schema = S.merge(schema, schema_of(table))
        for hour_us, part in split_by_hour(table):
            files = max(1, round(part.num_rows / file_rows))
            step = math.ceil(part.num_rows / files)
            for i in range(files):
                piece = part.slice(i * step, step)
                keys = tuple(cluster_keys(piece))
                keys_seen[keys] = keys_seen.get(keys, 0) + 1
                body = encode_parquet(cluster(piece))  # what Lake.append_batch writes for a part
                file_id = hashlib.sha256(f"{seed}/{hour_us}/{i}".encode()).hexdigest()[:32]
                key = file_key(ORG, STREAM, hour_us, file_id)
                path = root / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                digest.update(body)
                stamps = piece.column("_timestamp")
                landed.append(
                    LandedFile(
                        key=key,
                        file_id=file_id,
                        hour_us=hour_us,
                        rows=piece.num_rows,
                        bytes=len(body),
                        min_ts_us=int(pc.min(stamps).as_py()),
                        max_ts_us=int(pc.max(stamps).as_py()),
                    )
                )
        if not quiet:
            done = sum(f.rows for f in landed)
            print(f"\rgenerated {done:,}/{rows:,} rows, {len(landed)} files ", end="", file=sys.stderr, flush=True)
    sizes = sorted(f.rows for f in landed)
    description = {
        "generator_version": GENERATOR_VERSION,
        "rows": sum(f.rows for f in landed),
        "seed": seed,
        "file_rows_target": file_rows,
        "org": ORG,
        "stream": STREAM,
        "start_us": START_US,
        "end_us": START_US + HOURS * HOUR_US,
        "hours": HOURS,
        "files": len(landed),
        "file_rows_min_median_max": [sizes[0], sizes[len(sizes) // 2], sizes[-1]],
        "parquet_bytes": sum(f.bytes for f in landed),
        "parquet_options": "molesignal.lake.writer.encode_parquet(cluster(part)) (the writer's encoding, ADR 0031)",
        "cluster_keys_files": {",".join(k): n for k, n in sorted(keys_seen.items(), key=lambda kv: -kv[1])},
        "columns": len(schema) + 1,
        "schema": schema,
        "sha256_of_files": digest.hexdigest(),
        "generate_s": round(time.perf_counter() - started, 1),
        "landed": [asdict(f) for f in landed],
    }
    described.write_text(json.dumps(description, indent=1) + "\n")
    if not quiet:
        print(
            f"\rgenerated {description['rows']:,} rows in {len(landed)} files, "
            f"{description['parquet_bytes'] / 1e6:.0f} MB in {description['generate_s']} s: {root}",
            file=sys.stderr,
        )
    return root, description


def glob_of(root: Path) -> str:
    """Every file of the stream, as a glob for engines that read the directory themselves."""
    return str(root / stream_prefix(ORG, STREAM)) + "/**/*.parquet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--file-rows", type=int, default=DEFAULT_FILE_ROWS)
    args = parser.parse_args(argv)
    root, description = ensure(args.rows, args.seed, args.file_rows)
    summary = {k: v for k, v in description.items() if k != "landed"}
    print(json.dumps({"root": str(root), **summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
