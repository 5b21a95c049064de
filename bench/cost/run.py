"""What one GB ingested and one query cost at AWS list prices, from measured work.

Runs the real path in this process against the emulator (moto's server, in a process of
its own so that its CPU is not counted): the authorizer and the ingest function with HTTP
API 2.0 events, the ingest worker with SQS events of the registry's batch size (receiving
and deleting as Lambda's event source mapping does), one compaction round, and queries
through the query function. It measures, per invocation, the CPU seconds of this process
(DuckDB's threads included), and counts every AWS call: botocore calls with their payloads
(SQS 64 KB chunks, DynamoDB read/write units from item sizes) and, on the emulator's side,
every S3 request by price tier with its bytes (DuckDB's httpfs reads included). The figures
are scaled to one GB (10^9 bytes) of raw NDJSON and priced with ``PRICES``.

    .venv/bin/python bench/cost/run.py                # 16 MiB at 1 MiB and at 128 KiB requests; JSON to bench/results
    .venv/bin/python bench/cost/run.py --mib 8 --queries 3 --out /tmp/cost.json

What is not measured here, and how it enters: Lambda's duration is the CPU seconds scaled by
the vCPU share of the function's memory (1,769 MB = 1 vCPU) plus the AWS calls' latency from
``ASSUMED_LATENCY_MS`` (moto's latency says nothing about AWS's); a Lambda vCPU is taken to
do the work of one core of the measuring machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import gc
import io
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO, REPO / "bench" / "ingest"):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import dataset  # noqa: E402
import orjson  # noqa: E402
from bench.common import (  # noqa: E402
    AwsCallTimer,
    git_info,
    http_scope,
    interpreter_info,
    loadavg,
    progress,
    r3,
    r4,
)

RESULTS_DIR = REPO / "bench" / "results"
GB = 1e9
MIB = 1 << 20
KIB = 1 << 10

# us-east-1 list prices (USD), as published on each service's AWS pricing page; the
# first paid tier where there are tiers, and no free tier.
PRICES: dict[str, float] = {
    "apigw_http_per_request": 1.00 / 1e6,  # HTTP API, first 300 M/month; metered per 512 KB
    "lambda_per_gb_s": 0.0000166667,  # x86_64
    "lambda_per_request": 0.20 / 1e6,
    "sqs_per_request": 0.40 / 1e6,  # standard queue; every 64 KB chunk of a payload is a request
    "s3_put_per_request": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get_per_request": 0.0004 / 1000,  # GET, SELECT, HEAD
    "s3_storage_per_gb_month": 0.023,  # Standard, first 50 TB
    "dynamodb_per_wru": 0.625 / 1e6,  # on-demand write request unit (1 KB; transactions 2x)
    "dynamodb_per_rru": 0.125 / 1e6,  # on-demand read request unit (4 KB strongly consistent; eventual 0.5)
    "athena_per_tb": 5.00,  # scanned, 10 MB minimum per query
    "cloudwatch_logs_per_gb": 0.50,  # ingestion, standard class
    "xray_per_trace": 5.00 / 1e6,  # traces recorded
}
# X-Ray's default sampling rule (what tracing=ACTIVE uses): the first request each second,
# then 5 % of the rest. At the volumes a GB takes, 5 % of the requests.
XRAY_SAMPLED = 0.05
COMPARED_PER_GB = {"CloudWatch Logs (ingest only)": 0.50, "Grafana Cloud Logs": 0.45, "Datadog Logs ingest": 0.10}
DATADOG_INDEX_PER_MILLION_EVENTS = 1.70  # 15-day retention
APIGW_METER_BYTES = 512 * 1024  # HTTP API meters requests in 512 KB increments (a 1 MiB body: 2)
SQS_CHUNK = 64 * KIB
ATHENA_MIN_BYTES = 10 * 1_000_000
LAMBDA_MB_PER_VCPU = 1769
# Same-region latency of one call, typical p50, milliseconds (assumed; moto's says nothing
# about AWS's), plus payload at 80 MB/s.
ASSUMED_LATENCY_MS = {"dynamodb": 6.0, "sqs": 12.0, "s3": 25.0, "secretsmanager": 20.0}
TRANSFER_MB_PER_S = 80.0
# A Lambda invocation's own log lines (START, END, REPORT; and the X-Ray segment line), bytes.
LAMBDA_PLATFORM_LOG_BYTES = 330
APIGW_ACCESS_LOG_BYTES = 420  # one JSON line per request (ACCESS_LOG_FORMAT in infra_cdk/components/api.py)
ORG_STREAM = "cost"
QUERY_RANGE_US = (dataset.START_US, dataset.START_US + dataset.SPAN_HOURS * 3600 * 1_000_000)


# ---------------------------------------------------------------- measuring AWS calls


def item_bytes(value: Any) -> int:
    """DynamoDB's size of an attribute map (names + values), as the capacity units count it."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "S":
            return len(str(inner).encode())
        if kind == "N":
            return len(str(inner)) // 2 + 1
        if kind == "B":
            return len(inner)
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS", "BS", "L"):
            return 3 + sum(item_bytes({kind.rstrip("S") or "S": v} if kind != "L" else v) for v in inner)
        if kind == "M":
            return 3 + sum(len(k.encode()) + item_bytes(v) for k, v in inner.items())
    if isinstance(value, dict):
        return sum(len(k.encode()) + item_bytes(v) for k, v in value.items())
    return 0


def dynamodb_units(op: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one call. Writes: 1 per KB of a put item; an update or
    delete counts 1 (MoleSignal's counters and metadata items are under 1 KB); transactions
    double. Reads: per 4 KB returned, halved unless strongly consistent."""

    def read(size: int, consistent: bool) -> float:
        return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)

    consistent = bool(params.get("ConsistentRead"))
    if op == "PutItem":
        return 0.0, max(1, math.ceil(item_bytes(params.get("Item", {})) / 1024))
    if op in ("UpdateItem", "DeleteItem"):
        return 0.0, 1.0
    if op == "GetItem":
        return read(item_bytes(response.get("Item", {})), consistent), 0.0
    if op in ("Query", "Scan"):
        return read(sum(item_bytes(i) for i in response.get("Items", [])), consistent), 0.0
    if op == "BatchGetItem":
        items = [i for found in response.get("Responses", {}).values() for i in found]
        return sum(read(item_bytes(i), False) for i in items), 0.0
    if op == "BatchWriteItem":
        writes = [w for found in params.get("RequestItems", {}).values() for w in found]
        return 0.0, sum(max(1, math.ceil(item_bytes(w.get("PutRequest", {}).get("Item", {})) / 1024)) for w in writes)
    if op == "TransactWriteItems":
        units = 0.0
        for entry in params.get("TransactItems", []):
            put = entry.get("Put")
            units += 2 * (max(1, math.ceil(item_bytes(put["Item"]) / 1024)) if put else 1)
        return 0.0, units
    if op == "TransactGetItems":
        return 2 * sum(read(item_bytes(r.get("Item", {})), True) for r in response.get("Responses", [])), 0.0
    return 0.0, 0.0


def sqs_requests(op: str, params: dict[str, Any], response: dict[str, Any]) -> tuple[int, int]:
    """(billed requests, payload bytes): one request per started 64 KB of the call's payload."""
    if op == "SendMessage":
        payload = len(params.get("MessageBody", "").encode())
    elif op == "SendMessageBatch":
        payload = sum(len(e.get("MessageBody", "").encode()) for e in params.get("Entries", []))
    elif op == "ReceiveMessage":
        payload = sum(len(m.get("Body", "").encode()) for m in response.get("Messages", []))
    else:
        payload = 0
    return max(1, math.ceil(payload / SQS_CHUNK)), payload


@dataclass
class Calls:
    """What one phase asked of AWS (botocore side)."""

    ops: dict[str, int] = field(default_factory=dict)
    sqs_requests: int = 0
    sqs_payload_bytes: int = 0
    dynamodb_rru: float = 0.0
    dynamodb_wru: float = 0.0
    wait_ms: float = 0.0  # assumed AWS latency of these calls

    def add(self, service: str, op: str, params: dict[str, Any], response: dict[str, Any], size: int) -> None:
        self.ops[f"{service}:{op}"] = self.ops.get(f"{service}:{op}", 0) + 1
        if service == "sqs":
            billed, payload = sqs_requests(op, params, response)
            self.sqs_requests += billed
            self.sqs_payload_bytes += payload
        elif service == "dynamodb":
            rru, wru = dynamodb_units(op, params, response)
            self.dynamodb_rru += rru
            self.dynamodb_wru += wru
        self.wait_ms += ASSUMED_LATENCY_MS.get(service, 10.0) + size / (TRANSFER_MB_PER_S * 1000)

    def merged(self, other: Calls) -> Calls:
        ops = dict(self.ops)
        for key, count in other.ops.items():
            ops[key] = ops.get(key, 0) + count
        return Calls(
            ops,
            self.sqs_requests + other.sqs_requests,
            self.sqs_payload_bytes + other.sqs_payload_bytes,
            self.dynamodb_rru + other.dynamodb_rru,
            self.dynamodb_wru + other.dynamodb_wru,
            self.wait_ms + other.wait_ms,
        )


class CallMeter:
    """Records every botocore call's payload into the current ``Calls`` (stacked on AwsCallTimer)."""

    def __init__(self) -> None:
        from botocore.client import BaseClient

        self._cls = BaseClient
        self._orig = BaseClient._make_api_call
        self.current = Calls()
        meter = self

        def metered(client: Any, op: str, params: Any) -> Any:
            response = meter._orig(client, op, params)
            service = client.meta.service_model.service_name
            size = len(params.get("Body", b"") or b"") if isinstance(params.get("Body"), bytes) else 0
            size += int(response.get("ContentLength", 0) or 0) if service == "s3" else 0
            meter.current.add(service, op, params, response, size)
            return response

        self._metered = metered

    def __enter__(self) -> CallMeter:
        self._cls._make_api_call = self._metered  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls._make_api_call = self._orig  # type: ignore[method-assign]

    def take(self) -> Calls:
        calls, self.current = self.current, Calls()
        return calls


class LogSink(io.TextIOBase):
    """Counts the bytes the functions log (they go to CloudWatch Logs on Lambda)."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)

    def take(self) -> int:
        count, self.bytes = self.bytes, 0
        return count


# ---------------------------------------------------------------- the emulator


class Emulator:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("emulator.py")), str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if self.process.stdout is None or self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the emulator did not start")

    def s3(self, reset: bool = True) -> dict[str, dict[str, int]]:
        """S3 requests since the last reset, by price tier."""
        with urllib.request.urlopen(f"{self.url}/_cost/requests") as answer:  # noqa: S310 (our loopback emulator)
            counts = json.loads(answer.read())
        if reset:
            self.reset()
        return {key.split(" ", 1)[1]: value for key, value in counts.items() if key.startswith("s3 ")}

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_cost/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(request).read()  # noqa: S310

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# ---------------------------------------------------------------- the measured path


@dataclass
class Invocations:
    """Invocations of one function: count, CPU seconds, AWS calls, bytes logged."""

    memory_mb: int
    count: int = 0
    cpu_s: float = 0.0
    calls: Calls = field(default_factory=Calls)
    log_bytes: int = 0

    def record(self, cpu_s: float, calls: Calls, log_bytes: int) -> None:
        self.count += 1
        self.cpu_s += cpu_s
        self.calls = self.calls.merged(calls)
        self.log_bytes += log_bytes

    def billed_gb_s(self) -> float:
        """CPU at the memory's vCPU share, plus the assumed AWS waits, times the memory."""
        vcpu = min(1.0, self.memory_mb / LAMBDA_MB_PER_VCPU)
        duration_s = self.cpu_s / vcpu + self.calls.wait_ms / 1000
        return self.memory_mb / 1024 * duration_s

    def summary(self) -> dict[str, Any]:
        return {
            "invocations": self.count,
            "memory_mb": self.memory_mb,
            "cpu_s": r4(self.cpu_s),
            "cpu_ms_per_invocation": r3(self.cpu_s * 1000 / max(1, self.count)),
            "assumed_aws_wait_ms_per_invocation": r3(self.calls.wait_ms / max(1, self.count)),
            "billed_gb_s": r4(self.billed_gb_s()),
            "aws_calls": dict(sorted(self.calls.ops.items())),
            "sqs_billed_requests": self.calls.sqs_requests,
            "sqs_payload_bytes": self.calls.sqs_payload_bytes,
            "dynamodb_rru": self.calls.dynamodb_rru,
            "dynamodb_wru": self.calls.dynamodb_wru,
            "log_bytes": self.log_bytes,
        }


class Harness:
    def __init__(self, quiet: bool) -> None:
        import httpx

        import registry
        from molesignal.local.system import LocalSystem
        from molesignal.settings import reset_settings

        self.quiet = quiet
        self.emulator = Emulator()
        os.environ.update(
            AWS_ENDPOINT_URL=self.emulator.url,
            AWS_ACCESS_KEY_ID="cost",
            AWS_SECRET_ACCESS_KEY="cost",  # noqa: S106 (the emulator takes any)
            AWS_DEFAULT_REGION="us-east-1",
            MOLESIGNAL_RESOURCE_PREFIX=f"mscost{uuid.uuid4().hex[:6]}",
        )
        reset_settings()
        self.registry = registry.REGISTRY
        self.system = LocalSystem(self.registry, port=0, emulator_port=0, run_pollers=False, run_scheduler=False)
        self.system.start()
        from molesignal.observability import logger

        self.logs = LogSink()
        self._logger = logger
        self._previous_stream = logger.registered_handler.setStream(self.logs)  # type: ignore[union-attr]
        self.http = httpx.Client(base_url=self.system.url, timeout=300)
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum runs the app on this thread's loop
        self.ingest_token, self.query_token = self._tenant()

    def _tenant(self) -> tuple[str, str]:
        setup = self.http.post(
            "/api/v1/auth/setup", json={"user": "cost", "password": "CostAdmin123!", "root_password": "CostRoot123!"}
        )
        setup.raise_for_status()
        org_id = setup.json()["org_id"]
        root = self.http.post("/api/v1/auth/login", json={"user": "root", "password": "CostRoot123!"}).json()
        self.http.put(
            f"/api/v1/orgs/{org_id}/quotas",
            json={"ingest_qps": 100_000, "query_qps": 10_000, "storage_bytes": 10**15},
            headers={"Authorization": f"Bearer {root['access_token']}"},
        ).raise_for_status()
        admin = self.http.post("/api/v1/auth/login", json={"user": "cost", "password": "CostAdmin123!"}).json()
        bearer = {"Authorization": f"Bearer {admin['access_token']}"}
        tokens = []
        for role in ("ingest", "viewer"):
            created = self.http.post("/api/v1/tokens", json={"name": f"cost-{role}", "role": role}, headers=bearer)
            created.raise_for_status()
            tokens.append(created.json()["token"])
        return tokens[0], tokens[1]

    def stop(self) -> None:
        self._logger.registered_handler.setStream(self._previous_stream)  # type: ignore[union-attr]
        self.system.stop()
        self.emulator.stop()

    def _gateway(self) -> Any:
        if self.system.gateway is None:
            raise SystemExit("the local gateway did not start")
        return self.system.gateway

    # -- invoking handlers as Lambda would -------------------------------------------------
    def _function(self, name: str) -> Any:
        every = [self.registry.authorizer, *self.registry.http, *self.registry.workers, *self.registry.schedules]
        return next(f for f in every if f.name == name)

    def invoke(self, meter: CallMeter, out: Invocations, name: str, event: dict[str, Any]) -> Any:
        from molesignal.local.loader import load_handler

        function = self._function(name)
        handler = load_handler(function.handler)
        context = self.system.gateway._context(function) if self.system.gateway else None  # type: ignore[union-attr]
        gc.collect()
        meter.take()
        self.logs.take()
        started = time.process_time()
        with contextlib.redirect_stdout(self.logs):  # metrics (EMF lines) are log lines on Lambda too
            result = handler(event, context)
        cpu = time.process_time() - started
        out.record(cpu, meter.take(), self.logs.take() + LAMBDA_PLATFORM_LOG_BYTES)
        return result

    def http_event(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], str]:
        from molesignal import routing

        gateway = self._gateway()
        found = routing.match([r for r, _ in gateway.routes], method, path)
        if found is None:
            raise SystemExit(f"no route for {method} {path}")
        route, params = found
        owner = next(f for r, f in gateway.routes if r is route)
        return gateway._event(http_scope(method, path, headers, body), body, route, params), owner.name

    def call_api(
        self,
        meter: CallMeter,
        found: dict[str, Invocations],
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> dict[str, Any]:
        """One API request: the authorizer, then the owning function, as API Gateway runs them."""
        gateway = self._gateway()
        event, owner = self.http_event(method, path, body, headers)
        authorizer = self.registry.authorizer
        verdict = self.invoke(
            meter,
            found.setdefault("authorizer", Invocations(authorizer.memory_mb)),
            "authorizer",
            gateway._authorizer_event(event),
        )
        event["requestContext"]["authorizer"] = {"lambda": verdict.get("context") or {}}
        memory = self._function(owner).memory_mb
        return self.invoke(meter, found.setdefault(owner, Invocations(memory)), owner, event)  # type: ignore[no-any-return]

    def drain_queue(self, meter: CallMeter, found: dict[str, Invocations], esm: Calls) -> int:
        """What the event source mapping does: receive a batch, invoke the worker, delete."""
        from molesignal import aws
        from molesignal.local.pollers import sqs_record
        from molesignal.settings import get_settings

        (worker,) = self.registry.workers
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=get_settings().queue_name(worker.queue))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        meter.take()
        batches = 0
        while True:
            received = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=worker.batch_size, WaitTimeSeconds=0, AttributeNames=["All"]
            ).get("Messages", [])
            esm_calls = meter.take()
            if not received:
                # An empty receive ends the drain; on AWS the pollers' empty receives are a fixed cost.
                return batches
            event = {"Records": [sqs_record(m, arn, "us-east-1") for m in received]}
            result = self.invoke(
                meter, found.setdefault(worker.name, Invocations(worker.memory_mb)), worker.name, event
            )
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if failed:
                raise SystemExit(f"the worker failed {len(failed)} records")
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )
            esm_calls = esm_calls.merged(meter.take())
            esm.ops.update({k: esm.ops.get(k, 0) + v for k, v in esm_calls.ops.items()})
            esm.sqs_requests += esm_calls.sqs_requests
            esm.sqs_payload_bytes += esm_calls.sqs_payload_bytes
            batches += 1


def bodies_of(raw: bytes, body_bytes: int, total_bytes: int) -> Iterator[bytes]:
    """Consecutive request bodies of whole NDJSON lines, each at most ``body_bytes``."""
    start = sent = 0
    while sent < total_bytes and start < len(raw):
        end = raw.rfind(b"\n", start, start + body_bytes) + 1
        if end <= start:
            end = raw.index(b"\n", start) + 1
        yield raw[start:end]
        sent += end - start
        start = end


def ingest_phase(
    h: Harness, meter: CallMeter, raw: bytes, body_bytes: int, total_bytes: int, stream: str
) -> dict[str, Any]:
    found: dict[str, Invocations] = {}
    esm = Calls()
    headers = {"Authorization": f"Bearer {h.ingest_token}", "Content-Type": "application/x-ndjson"}
    requests = sent = records = 0
    apigw_metered = 0
    h.emulator.reset()
    for body in bodies_of(raw, body_bytes, total_bytes):
        result = h.call_api(meter, found, "POST", f"/api/v1/ingest/{stream}", body, headers)
        if result.get("statusCode") != 202:
            raise SystemExit(f"ingest answered {result.get('statusCode')}: {str(result.get('body'))[:300]}")
        requests += 1
        sent += len(body)
        records += body.count(b"\n")
        apigw_metered += max(1, math.ceil(len(body) / APIGW_METER_BYTES))
    s3_api = h.emulator.s3()
    progress(f"  {requests} requests ({sent / MIB:.1f} MiB) accepted; draining the queue", h.quiet)
    batches = h.drain_queue(meter, found, esm)
    s3_worker = h.emulator.s3()
    return {
        "body_bytes": body_bytes,
        "requests": requests,
        "raw_bytes": sent,
        "records": records,
        "apigw_metered_requests": apigw_metered,
        "worker_batches": batches,
        "functions": {name: inv.summary() for name, inv in found.items()},
        "event_source_mapping": {"aws_calls": esm.ops, "sqs_billed_requests": esm.sqs_requests},
        "s3": {"ingest_api": s3_api, "ingest_worker": s3_worker},
        "_found": found,
        "_esm": esm,
    }


def compaction_phase(h: Harness, meter: CallMeter) -> dict[str, Any]:
    found: dict[str, Invocations] = {}
    job = next(s for s in h.registry.schedules if s.name == "compaction_worker")
    h.emulator.reset()
    event = {
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "detail": {},
        "time": dt.datetime.now(dt.UTC).isoformat(),
    }
    h.invoke(meter, found.setdefault(job.name, Invocations(job.memory_mb)), job.name, event)
    return {"functions": {n: i.summary() for n, i in found.items()}, "s3": h.emulator.s3(), "_found": found}


QUERIES = {
    "aggregate": "SELECT level, count(*) AS n FROM {stream} GROUP BY level ORDER BY n DESC",
    "search": "SELECT * FROM {stream} WHERE level = 'error' ORDER BY _timestamp DESC LIMIT 100",
}


_QUERY_SERIAL = iter(range(10**9))


def query_phase(h: Harness, meter: CallMeter, stream: str, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {h.query_token}", "Content-Type": "application/json"}
    for name, sql in QUERIES.items():
        found: dict[str, Invocations] = {}
        s3_total: dict[str, dict[str, int]] = {}
        h.emulator.reset()
        for _ in range(repeats):
            # A range that differs by a µs each time: the result cache never answers.
            end = QUERY_RANGE_US[1] + next(_QUERY_SERIAL)
            body = {"sql": sql.format(stream=stream), "time_range": {"start": QUERY_RANGE_US[0], "end": end}}
            result = h.call_api(meter, found, "POST", "/api/v1/query", orjson.dumps(body), headers)
            if result.get("statusCode") != 200:
                raise SystemExit(f"query answered {result.get('statusCode')}: {str(result.get('body'))[:300]}")
            answer = orjson.loads(base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"])
            if answer.get("cache_hit"):
                raise SystemExit("the result cache answered a measured query")
        for tier, counts in h.emulator.s3().items():
            s3_total[tier] = counts
        out[name] = {
            "sql": sql.format(stream=stream),
            "repeats": repeats,
            "functions": {n: i.summary() for n, i in found.items()},
            "s3": s3_total,
            "_found": found,
        }
    return out


# ---------------------------------------------------------------- pricing


def lambda_cost(found: dict[str, Invocations]) -> dict[str, float]:
    gb_s = sum(i.billed_gb_s() for i in found.values())
    invocations = sum(i.count for i in found.values())
    return {
        "lambda_compute": gb_s * PRICES["lambda_per_gb_s"],
        "lambda_requests": invocations * PRICES["lambda_per_request"],
        "dynamodb": sum(
            i.calls.dynamodb_rru * PRICES["dynamodb_per_rru"] + i.calls.dynamodb_wru * PRICES["dynamodb_per_wru"]
            for i in found.values()
        ),
        "sqs": sum(i.calls.sqs_requests for i in found.values()) * PRICES["sqs_per_request"],
        "cloudwatch_logs": sum(i.log_bytes for i in found.values()) / GB * PRICES["cloudwatch_logs_per_gb"],
    }


def s3_request_cost(s3: dict[str, dict[str, int]]) -> float:
    get = s3.get("GET", {}).get("requests", 0)
    put = s3.get("PUT", {}).get("requests", 0) + s3.get("LIST", {}).get("requests", 0)
    return get * PRICES["s3_get_per_request"] + put * PRICES["s3_put_per_request"]


def price_ingest(phase: dict[str, Any], compaction: dict[str, Any], stored_bytes: int) -> dict[str, Any]:
    """USD per GB of raw NDJSON, by line item. The compaction round merged every stream's
    files at once: its cost is shared by all the bytes ingested before it."""
    scale = GB / phase["raw_bytes"]
    found: dict[str, Invocations] = phase["_found"]
    items = {k: v * scale for k, v in lambda_cost(found).items()}
    items["sqs"] += phase["_esm"].sqs_requests * PRICES["sqs_per_request"] * scale
    items["api_gateway"] = phase["apigw_metered_requests"] * PRICES["apigw_http_per_request"] * scale
    items["cloudwatch_logs"] += (
        phase["requests"] * APIGW_ACCESS_LOG_BYTES / GB * PRICES["cloudwatch_logs_per_gb"] * scale
    )
    items["xray"] = phase["requests"] * XRAY_SAMPLED * PRICES["xray_per_trace"] * scale
    items["s3_requests"] = sum(s3_request_cost(s3) for s3 in phase["s3"].values()) * scale
    comp = lambda_cost(compaction["_found"])
    items["compaction"] = (sum(comp.values()) + s3_request_cost(compaction["s3"])) * GB / compaction["raw_bytes"]
    items["s3_storage_month"] = stored_bytes * scale / GB * PRICES["s3_storage_per_gb_month"]
    total = sum(items.values())
    return {
        "usd_per_gb": r4(total * 1e4) / 1e4,
        "usd_per_gb_without_storage": r4((total - items["s3_storage_month"]) * 1e4) / 1e4,
        "items_usd_per_gb": {k: float(f"{v:.6g}") for k, v in sorted(items.items(), key=lambda kv: -kv[1])},
    }


def price_query(q: dict[str, Any], apigw_requests: int = 1) -> dict[str, Any]:
    found: dict[str, Invocations] = q["_found"]
    per = 1 / q["repeats"]
    items = {k: v * per for k, v in lambda_cost(found).items()}
    items["api_gateway"] = apigw_requests * PRICES["apigw_http_per_request"]
    items["xray"] = XRAY_SAMPLED * PRICES["xray_per_trace"]
    items["s3_requests"] = s3_request_cost(q["s3"]) * per
    scanned = q["s3"].get("GET", {}).get("bytes_out", 0) * per
    athena = max(ATHENA_MIN_BYTES, scanned) / 1e12 * PRICES["athena_per_tb"]
    total = sum(items.values())
    return {
        "usd_per_query_duckdb_in_lambda": float(f"{total:.6g}"),
        "items_usd": {k: float(f"{v:.6g}") for k, v in sorted(items.items(), key=lambda kv: -kv[1])},
        "s3_bytes_read_per_query": round(scanned),
        "athena_scan_usd_per_query": float(f"{athena:.6g}"),
        "usd_per_query_athena": float(
            f"{items['api_gateway'] + items['xray'] + items['lambda_requests'] + athena:.6g}"
        ),
    }


def stored_lake_bytes(h: Harness, stream: str) -> int:
    from molesignal import aws
    from molesignal.settings import get_settings

    s3 = aws.client("s3")
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=get_settings().resource_name("lake")):
        for obj in page.get("Contents", []):
            if f"/stream={stream}/" in obj["Key"] and obj["Key"].endswith(".parquet"):
                total += obj["Size"]
    return total


def claim_check_variant(phase: dict[str, Any]) -> dict[str, float]:
    """The same requests if every payload went to S3 and the message carried only the key:
    SQS one request per call, plus a PUT and a GET per request (DELETE is free)."""
    scale = GB / phase["raw_bytes"]
    found: dict[str, Invocations] = phase["_found"]
    inline_requests = sum(i.calls.sqs_requests for i in found.values()) + phase["_esm"].sqs_requests
    inline_sqs = inline_requests * PRICES["sqs_per_request"]
    sends = phase["requests"]
    batches = phase["worker_batches"]
    claim_sqs = (sends + 2 * batches) * PRICES["sqs_per_request"]
    claim_s3 = sends * (PRICES["s3_put_per_request"] + PRICES["s3_get_per_request"])
    return {
        "inline_sqs_usd_per_gb": float(f"{inline_sqs * scale:.6g}"),
        "claim_check_sqs_plus_s3_usd_per_gb": float(f"{(claim_sqs + claim_s3) * scale:.6g}"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=float, default=16.0, help="raw NDJSON per request size, MiB")
    parser.add_argument("--sizes-kib", type=int, nargs="+", default=[1024, 128], help="request body sizes, KiB")
    parser.add_argument("--queries", type=int, default=5, help="repeats of each query")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    quiet = args.quiet

    total_bytes = int(args.mib * MIB)
    records_needed = int(total_bytes / 300) + 1000
    progress(f"generating ~{records_needed:,} records", quiet)
    raw = b"".join(orjson.dumps(r) + b"\n" for r in dataset.Generator(dataset.DEFAULT_SEED, records_needed))
    progress("starting the emulator (own process) and the local system", quiet)
    h = Harness(quiet)
    results: dict[str, Any] = {"sizes": {}}
    try:
        with AwsCallTimer() as timer, CallMeter() as meter:
            for kib in args.sizes_kib:
                stream = f"{ORG_STREAM}{kib}k"
                progress(f"ingest: {args.mib} MiB in {kib} KiB requests into {stream}", quiet)
                phase = ingest_phase(h, meter, raw, kib * KIB, total_bytes, stream)
                stored = stored_lake_bytes(h, stream)
                phase["stored_parquet_bytes"] = stored
                phase["parquet_to_raw"] = r4(stored / phase["raw_bytes"])
                results["sizes"][str(kib)] = phase
            stream = f"{ORG_STREAM}{args.sizes_kib[0]}k"
            progress("queries before compaction", quiet)
            results["queries_before_compaction"] = query_phase(h, meter, stream, args.queries)
            progress("one compaction round", quiet)
            results["compaction"] = compaction_phase(h, meter)
            results["compaction"]["raw_bytes"] = sum(p["raw_bytes"] for p in results["sizes"].values())
            progress("queries after compaction", quiet)
            results["queries_after_compaction"] = query_phase(h, meter, stream, args.queries)
            aws_ms = sum(c[2] for c in timer.take()) * 1000
    finally:
        h.stop()

    priced: dict[str, Any] = {}
    for kib, phase in results["sizes"].items():
        priced[f"ingest_{kib}k"] = {
            **price_ingest(phase, results["compaction"], phase["stored_parquet_bytes"]),
            "claim_check": claim_check_variant(phase),
        }
    for when in ("queries_before_compaction", "queries_after_compaction"):
        for name, q in results[when].items():
            priced[f"{name}_{when.removeprefix('queries_')}"] = price_query(q)
    first = results["sizes"][str(args.sizes_kib[0])]
    records_per_gb = GB * first["records"] / first["raw_bytes"]
    compared = {name: price for name, price in COMPARED_PER_GB.items()}
    compared["Datadog Logs ingest + 15-day indexing"] = 0.10 + records_per_gb / 1e6 * DATADOG_INDEX_PER_MILLION_EVENTS

    def public(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: public(v) for k, v in value.items() if not k.startswith("_")}
        return value

    report = {
        "benchmark": "cost",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **git_info(),
        "interpreter": interpreter_info(["boto3", "botocore", "moto", "pyarrow", "duckdb", "fastapi"]),
        "loadavg": loadavg(),
        "parameters": {"mib_per_size": args.mib, "sizes_kib": args.sizes_kib, "query_repeats": args.queries},
        "prices_usd": PRICES,
        "assumed_latency_ms": ASSUMED_LATENCY_MS,
        "aws_call_ms_in_emulator": r3(aws_ms),
        "records_per_gb": round(records_per_gb),
        "priced": priced,
        "compared_usd_per_gb": {k: r4(v) for k, v in compared.items()},
        "measured": public(results),
    }
    out = args.out or RESULTS_DIR / f"cost-{dt.datetime.now(dt.UTC):%Y-%m-%d}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({"priced": priced, "compared_usd_per_gb": report["compared_usd_per_gb"]}, indent=1))
    progress(f"wrote {out}", quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
