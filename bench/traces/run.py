"""Trace-bundle benchmark (spec 003): bundle ingest MB/s, list p50 over many traces with
filters, and events-slice p50 on a 100,000-event trace — each against a floor measured in
the same process: the raw AWS calls the path cannot avoid.

Everything runs in one process: the local system (gateway, handlers, embedded moto) on free
ports, real HTTP from an httpx client.

(a) **ingest**: ~3 MiB zip bundles (events.ndjson of ~2,000 events, a 3 MiB incompressible
    video, a summary) through ``POST /v1/traces/ingest``; floor: ``PutObject`` of the same
    bytes to the blob bucket.
(b) **list**: ``--traces`` traces (default 100,000) seeded straight into the table with the
    repository's own item builders (``listing_keys``/``listing_item``; BatchWriteItem, since
    100k ingest calls would measure ingest), then ``GET /v1/traces`` unfiltered and with
    each filter; floor: one DynamoDB ``Query`` of 51 items from the same partition.
(c) **events slice**: one bundle of ``--events`` events (default 100,000; ~14 MB, so it goes
    through the presigned upload) and ``GET /v1/traces/{id}/events`` at offsets across the
    trace, by kind and by step; floor: ``GetObject`` of one 1,000-event chunk.

    .venv/bin/python bench/traces/run.py                       # bench/results/traces-<date>.json
    .venv/bin/python bench/traces/run.py --traces 20000 --events 100000 --label loaded
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import httpx  # noqa: E402
from bench.common import AwsCallTimer, git_info, interpreter_info, loadavg, progress, r3  # noqa: E402

MIB = 1024 * 1024
KINDS = ("step", "network.request", "network.response", "console", "dom", "assertion")


def expect(ok: bool, response: httpx.Response) -> None:
    if not ok:
        raise RuntimeError(f"{response.status_code}: {response.text[:500]}")


def p50(samples: list[float]) -> float:
    return r3(statistics.median(samples) * 1000)


def aws_calls(fn: Callable[[], Any]) -> dict[str, int]:
    """The AWS calls one run of ``fn`` makes (gateway, authorizer and handler), by operation."""
    with AwsCallTimer() as timer:
        fn()
    counts: dict[str, int] = {}
    for service, operation, _ in timer.take():
        counts[f"{service}.{operation}"] = counts.get(f"{service}.{operation}", 0) + 1
    return dict(sorted(counts.items()))


def timed(fn: Callable[[], Any], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def events_ndjson(count: int, *, steps: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines = []
    per_step = max(1, count // steps)
    for seq in range(count):
        step = seq // per_step + 1
        kind = "step" if seq % per_step == 0 else rng.choice(KINDS[1:])
        event: dict[str, Any] = {"seq": seq, "ts": 1_800_000_000_000 + seq, "kind": kind, "step_id": f"s{step}"}
        if kind.startswith("network"):
            event.update(method="GET", url=f"https://shop.test/api/{step}/{seq % 17}", status=200, ok=True)
        elif kind == "console":
            event.update(level="log", message=f"line {seq}")
        elif kind == "dom":
            event["html"] = f"<main data-step={step}>item {seq}</main>"
        else:
            event.update(ok=True, title=f"step {step}")
        lines.append(json.dumps(event, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def zip_bundle(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name.endswith(".webm") else None)
    return out.getvalue()


def start_system() -> tuple[Any, httpx.Client, dict[str, str]]:
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"mstrace{uuid.uuid4().hex[:6]}"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one INFO line per authorized request otherwise
    # The benchmark measures the paths, not the per-minute limits.
    for name in ("GET", "POST", "INGEST"):
        os.environ[f"MOLESIGNAL_TRACE_RATE_{name}_PER_MIN"] = "1000000000"
    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.settings import reset_settings

    reset_settings()
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    client = httpx.Client(base_url=system.url, timeout=300)
    client.post("/api/v1/auth/setup", json={"user": "admin", "password": "AdminPass123!"})
    login = client.post("/api/v1/auth/login", json={"user": "admin", "password": "AdminPass123!"}).json()
    # An API key, not the 15-minute access token: seeding 100k traces alone takes longer.
    key = client.post(
        "/api/v1/tokens",
        headers={"Authorization": f"Bearer {login['access_token']}"},
        json={"name": "bench", "role": "editor", "kind": "molar_sk"},
    )
    expect(key.status_code == 201, key)
    return system, client, {"Authorization": f"Bearer {key.json()['token']}"}


def bench_ingest(client: httpx.Client, headers: dict[str, str], rounds: int, quiet: bool) -> dict[str, Any]:
    from molesignal import aws
    from molesignal.settings import get_settings

    rng = random.Random(1)
    bundles = []
    for i in range(rounds):
        files = {
            "summary.json": json.dumps({"status": "passed", "scenario_title": f"bench {i}"}).encode(),
            "events.ndjson": events_ndjson(2000, steps=40, seed=i),
            "video.webm": rng.randbytes(3 * MIB),
        }
        bundles.append(zip_bundle(files))
    sizes = [len(b) for b in bundles]
    progress(f"ingest: {rounds} bundles of {sizes[0] / MIB:.2f} MiB", quiet)
    times = []
    for bundle in bundles:
        t0 = time.perf_counter()
        response = client.post(
            "/v1/traces/ingest", headers=headers, files={"bundle": ("b.zip", bundle)}, data={"scenario_slug": "bench"}
        )
        times.append(time.perf_counter() - t0)
        expect(response.status_code == 201, response)
    s3 = aws.client("s3")
    bucket = get_settings().resource_name("blobs")
    floor = []
    for i, bundle in enumerate(bundles):
        t0 = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"bench/floor/{i}", Body=bundle)
        floor.append(time.perf_counter() - t0)
    mbps = [size / MIB / t for size, t in zip(sizes, times, strict=True)]
    floor_mbps = [size / MIB / t for size, t in zip(sizes, floor, strict=True)]
    return {
        "bundle_mib": r3(statistics.mean(sizes) / MIB),
        "rounds": rounds,
        "ingest_mib_per_s_median": r3(statistics.median(mbps)),
        "ingest_ms_median": p50(times),
        "floor_put_object_mib_per_s_median": r3(statistics.median(floor_mbps)),
        "ratio_to_floor": r3(statistics.median(floor_mbps) / statistics.median(mbps)),
    }


def bench_list(
    client: httpx.Client, headers: dict[str, str], traces: int, rounds: int, quiet: bool, *, with_q: bool
) -> dict[str, Any]:
    from molesignal import aws
    from molesignal.storage.table import Table
    from molesignal.traces.model import scenario_id
    from molesignal.traces.repository import listing_item, listing_keys, listing_pk, trace_key

    table = Table()
    ddb = aws.client("dynamodb")
    rng = random.Random(3)
    base_us = int(time.time() * 1e6) - traces * 1_000_000
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        while batch:
            chunk = [{"PutRequest": {"Item": table.marshal(i)}} for i in batch[:25]]
            del batch[:25]
            pending = {table.name: chunk}
            while pending:
                pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    for n in range(traces):
        status = "failed" if n % 3 == 0 else "passed"
        item = {
            "trace_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "org_id": "default",
            "short_id": f"b{n:08d}",
            "scenario_slug": f"scenario-{n % 100}",
            "scenario_title": f"Scenario {n % 100}",
            "scenario_id": scenario_id("default", f"scenario-{n % 100}"),
            "status": status,
            "source": ("pr", "schedule", "manual", "shadow_diff")[n % 4],
            "tier": "hot",
            "tier_clock_us": base_us + n * 1_000_000,
            "pinned": False,
            "duration_ms": rng.randint(1000, 60000),
            "code_sha": f"{n:07x}",
            "failure_signature": f"sig-{n % 97}" if status == "failed" else None,
            "created_at_us": base_us + n * 1_000_000,
        }
        item["search"] = f"{item['scenario_slug']} {item['scenario_title']} {item['failure_signature'] or ''}".lower()
        pk, sk = trace_key(item["trace_id"])
        batch.append({**item, "pk": pk, "sk": sk, "kind": "trace", "version": 1})
        batch.extend(listing_item(item, lpk, lsk) for lpk, lsk in listing_keys(item))
        if len(batch) >= 500:
            flush()
        if n and n % 10000 == 0:
            progress(f"list: seeded {n} traces ({time.perf_counter() - started:.0f} s)", quiet)
    flush()
    seed_s = time.perf_counter() - started
    progress(f"list: {traces} traces seeded in {seed_s:.0f} s", quiet)
    mid = dt.datetime.fromtimestamp((base_us + traces // 2 * 1_000_000) / 1e6, tz=dt.UTC)
    cases: dict[str, dict[str, Any]] = {
        "unfiltered": {},
        "status=failed": {"status": "failed"},
        "source=pr&status=failed": {"source": "pr", "status": "failed"},
        "signature (1 in 291)": {"signature": "sig-5"},
        "scenario_id (1 in 100)": {"scenario_id": scenario_id("default", "scenario-42")},
        "q=scenario-42 (1 in 100)": {"q": "scenario-42"},
        "from/to (a 10-minute window mid-way)": {
            "from": mid.isoformat(),
            "to": (mid + dt.timedelta(minutes=10)).isoformat(),
        },
        "tier=cold (none)": {"tier": "cold"},
    }
    if not with_q:
        del cases["q=scenario-42 (1 in 100)"]
    results: dict[str, float] = {}
    calls: dict[str, dict[str, int]] = {}
    for name, params in cases.items():

        def call(params: dict[str, Any] = params) -> None:
            response = client.get("/v1/traces", params={**params, "limit": 50}, headers=headers)
            expect(response.status_code == 200, response)

        samples = timed(call, rounds)
        results[name] = p50(samples)
        calls[name] = aws_calls(call)
        progress(f"list {name}: p50 {results[name]} ms, calls {calls[name]}", quiet)
    pk = listing_pk("default", "all")
    floor = timed(lambda: table.query(pk, limit=51, forward=False), rounds)
    return {
        "traces": traces,
        "seed_s": r3(seed_s),
        "rounds": rounds,
        "p50_ms": results,
        "aws_calls_per_request": calls,
        "floor_one_query_p50_ms": p50(floor),
        "unfiltered_ratio_to_floor": r3(results["unfiltered"] / p50(floor)),
    }


def bench_events(client: httpx.Client, headers: dict[str, str], count: int, rounds: int, quiet: bool) -> dict[str, Any]:
    from molesignal import aws
    from molesignal.settings import get_settings
    from molesignal.storage.table import Table

    body = events_ndjson(count, steps=500)
    bundle = zip_bundle({"events.ndjson": body, "summary.json": b'{"status":"passed"}'})
    progress(f"events: {count} events, bundle {len(bundle) / MIB:.1f} MiB (ndjson {len(body) / MIB:.1f} MiB)", quiet)
    t0 = time.perf_counter()
    ticket = client.post("/v1/traces/uploads", headers=headers).json()
    httpx.put(ticket["url"], content=bundle, timeout=300).raise_for_status()
    created = client.post(
        "/v1/traces/ingest", headers=headers, data={"upload_id": ticket["upload_id"], "scenario_slug": "big"}
    )
    expect(created.status_code == 201, created)
    ingest_s = time.perf_counter() - t0
    trace_id = created.json()["trace_id"]
    cases: dict[str, dict[str, Any]] = {
        "offset 0, limit 100": {"limit": 100},
        "offset count/2, limit 100": {"limit": 100, "offset": count // 2},
        "offset count-100, limit 100": {"limit": 100, "offset": count - 100},
        "kind=step (1 in 200), limit 100": {"kind": "step", "limit": 100},
        "kind=console, offset count/10": {"kind": "console", "limit": 100, "offset": count // 10},
        "step=s250 (count/500 events)": {"step": "s250", "limit": 500},
        "kind=dom&step=s400": {"kind": "dom", "step": "s400", "limit": 500},
    }
    results: dict[str, float] = {}
    calls: dict[str, dict[str, int]] = {}
    for name, params in cases.items():

        def call(params: dict[str, Any] = params) -> None:
            response = client.get(f"/v1/traces/{trace_id}/events", params=params, headers=headers)
            expect(response.status_code == 200 and response.json()["events"], response)

        results[name] = p50(timed(call, rounds))
        calls[name] = aws_calls(call)
        progress(f"events {name}: p50 {results[name]} ms, calls {calls[name]}", quiet)
    chunk = Table().query(f"TRACE#{trace_id}", sk_prefix="CHUNK#", limit=1)[0][0]
    s3 = aws.client("s3")
    bucket = get_settings().resource_name("blobs")

    def read_chunk() -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=chunk["key"])["Body"].read())

    floor = timed(read_chunk, rounds)
    return {
        "events": count,
        "ndjson_mib": r3(len(body) / MIB),
        "presigned_ingest_s": r3(ingest_s),
        "rounds": rounds,
        "p50_ms": results,
        "aws_calls_per_request": calls,
        "floor_get_one_chunk_p50_ms": p50(floor),
        "offset0_ratio_to_floor": r3(results["offset 0, limit 100"] / p50(floor)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--label", default="")
    parser.add_argument("--list-rounds", type=int, default=3, help="the emulator's Query reads whole partitions")
    parser.add_argument("--with-q", action="store_true", help="also time q= (quadratic in the emulator)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    load_before = loadavg()
    system, client, headers = start_system()
    try:
        result = {
            "benchmark": "traces",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "label": args.label,
            "git": git_info(),
            "interpreter": interpreter_info(["moto", "boto3", "fastapi", "orjson"]),
            "loadavg_before": load_before,
            "ingest": bench_ingest(client, headers, max(5, args.rounds // 2), args.quiet),
            "events": bench_events(client, headers, args.events, args.rounds, args.quiet),
            "list": bench_list(client, headers, args.traces, args.list_rounds, args.quiet, with_q=args.with_q),
            "loadavg_after": loadavg(),
        }
    finally:
        client.close()
        system.stop()
    suffix = f"-{args.label}" if args.label else ""
    out = REPO / "bench" / "results" / f"traces-{dt.date.today().isoformat()}{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ingest", "events", "list")}, indent=2))
    print(f"written: {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
