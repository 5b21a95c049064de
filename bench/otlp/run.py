"""OTLP benchmark: spans/s and log records/s per core from an OTLP/HTTP protobuf body to
Parquet bytes, against decoding the same bodies with the protobuf library alone.

All in one process, on generated realistic export requests (``bench/otlp/dataset.py``: 400
requests x 512 spans, 400 x 512 log records with session content, and the same logs
without content, by default):

(a) **product**: the receiver's real code with no AWS I/O. ``OtlpReceiver.receive`` (decode,
    flatten, ``split_content``, sealing with a ``ContentCipher`` on an in-process fake KMS)
    → ``Ingestor.submit`` (``normalize``, the field-cap check, ``encode_records``: canonical
    NDJSON + zstd) → the hand-over the SQS message carries (base64 + JSON, then parsed and
    decompressed on the worker's side) → ``Lake.append_batch`` itself (``prepare``,
    ``schema_of``, ``split_by_hour``, ``cluster``, ``encode_parquet``) with S3 counted and
    the DynamoDB commit stubbed, per message, i.e. per request and stream, with the stream
    schema as earlier batches left it (steady state);
(b) **baseline**: ``Export{Trace,Logs}ServiceRequest.FromString(body)`` over the same bodies
    (the protobuf library's decode, upb);
(info) **what-if**: (a) with ``arrow_batch.may_have_rounded_integers`` always false, i.e. the
    worker staying on Arrow's JSON reader (see ``docs/performance.md``; since the check looks at
    the values instead of the text, the two should be the same).

The three measures take turns round-robin for ``--rounds`` rounds (medians), each round
starting one measure later; Arrow is pinned to one thread, so the figures are per core. One
more instrumented pass per dataset splits (a) into stages (timing wrappers around the
product's own functions); cProfile covers a few requests. A second pair runs once with
Arrow's default threads for information. Optionally (c): median ms per request through the
local system's OTLP/HTTP route, end to end (gateway, authorizer, Lambda handler, moto).

    .venv/bin/python bench/otlp/run.py            # full: table + bench/results/otlp-<UTC date>.json
    .venv/bin/python bench/otlp/run.py --quick    # 24 requests per dataset, 2 rounds
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import gc
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import dataset  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench.common import AwsCallTimer, git_info, interpreter_info, loadavg, progress, r3, r4, short_path  # noqa: E402

from molesignal.auth.principal import Principal, Role  # noqa: E402
from molesignal.ingest import envelope  # noqa: E402
from molesignal.ingest import service as ingest_service  # noqa: E402
from molesignal.ingest.service import Ingestor  # noqa: E402
from molesignal.lake import arrow_batch, writer  # noqa: E402
from molesignal.lake import schema as S  # noqa: E402
from molesignal.lake.streams import Stream  # noqa: E402
from molesignal.otlp import decode as otlp_decode  # noqa: E402
from molesignal.otlp import flatten as otlp_flatten  # noqa: E402
from molesignal.otlp import receiver as otlp_receiver  # noqa: E402
from molesignal.otlp.content import ContentCipher  # noqa: E402
from molesignal.otlp.receiver import OtlpReceiver  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
OWN_PREFIXES = ("molesignal/", "otlp_api/", "authorizer/", "bench/")
ORG = "bench-org"
PROTOBUF = "application/x-protobuf"
RECEIVED_US = 1_795_431_600_000_000  # only rows without a time would take it; every generated record has one
DEFAULT_ROUNDS = 3
DEFAULT_E2E_REQUESTS = 20
QUICK_REQUESTS = 24
BASELINE_MIN_S = 0.5
SIGNAL_OF = {"traces": "traces", "logs": "logs", "logs_plain": "logs"}
UNIT_OF = {"traces": "spans", "logs": "log records", "logs_plain": "log records"}
# Stages of the instrumented pass, in path order, and the side of the queue each runs on.
INGEST_STAGES = (
    "decode",
    "flatten",
    "split_content",
    "seal",
    "normalize",
    "field_cap",
    "ndjson",
    "zstd",
    "message_out",
    "receive_other",
)
WORKER_STAGES = (
    "message_in",
    "unzstd",
    "to_table",
    "prepare_rest",
    "schema_of",
    "split_by_hour",
    "cluster",
    "encode_parquet",
    "append_other",
)
# The worker's functions that Lake.append_batch calls through molesignal.lake.writer's globals.
APPEND_STEPS = ("prepare", "schema_of", "split_by_hour", "cluster", "encode_parquet")
HANDOVER = ("zstd", "message_out", "message_in", "unzstd")


# ---------------------------------------------------------------- stand-ins for AWS


class FakeKms:
    """In-process KMS: a fixed 32-byte data key and a fake encrypted blob; counts its calls."""

    KEY = bytes(range(32))
    BLOB = b"fake-kms-ciphertext-blob:" + bytes(range(64, 128))

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def generate_data_key(self, **_kwargs: Any) -> dict[str, Any]:
        self.calls["generate_data_key"] = self.calls.get("generate_data_key", 0) + 1
        return {"Plaintext": self.KEY, "CiphertextBlob": self.BLOB, "KeyId": "fake"}

    def decrypt(self, **_kwargs: Any) -> dict[str, Any]:
        self.calls["decrypt"] = self.calls.get("decrypt", 0) + 1
        return {"Plaintext": self.KEY, "KeyId": "fake"}


class StreamTable:
    """Stands in for DynamoDB: the stream items, with the schema the worker's commits left, for
    the field-cap check and the worker. Everything else reads as absent (quota, usage, the
    landed markers)."""

    name = "none"

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, str]] = {}

    def get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        if sk.startswith("STREAM#") and sk[7:] in self.schemas:
            return {"org_id": ORG, "name": sk[7:], "schema": self.schemas[sk[7:]]}
        return None


class FakeS3:
    """``put_object`` counts the Parquet files and bytes the worker would store."""

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.files += 1
        self.bytes += len(kwargs["Body"])
        return {}


class FakeAws:
    """Stands in for ``molesignal.aws`` inside ``molesignal.lake.writer`` during a pass."""

    def __init__(self, s3: FakeS3) -> None:
        self.s3 = s3

    def client(self, name: str) -> Any:
        if name != "s3":
            raise RuntimeError(f"the benchmark's worker must not call {name}")
        return self.s3


class CpuLake(writer.Lake):
    """``Lake.append_batch`` as it is; S3 is the counting stand-in, and ``_commit`` (one
    DynamoDB transaction) only stores the merged schema, as the real stream update does."""

    def __init__(self, table: StreamTable) -> None:
        super().__init__(table=table, bucket="bench")  # type: ignore[arg-type]
        self.stream_table = table

    def _commit(self, org_id: str, stream: Stream, request_id: str, files: Any, batch_schema: dict[str, str]) -> None:
        self.stream_table.schemas[stream.name] = S.merge(stream.schema, batch_schema)


@dataclass
class Landed:
    rows: dict[str, int] = field(default_factory=dict)
    payload_bytes: int = 0
    ndjson_bytes: int = 0
    messages: int = 0


class Timers:
    """Seconds per stage, added up over a pass (only the instrumented pass has one)."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.s[name] = self.s.get(name, 0.0) + seconds


class CpuIngestor(Ingestor):
    """``Ingestor.submit`` as it is, with ``_enqueue`` handing the batch to the worker in-process
    instead of to SQS: the message is built and parsed as the worker would, the payload is
    decompressed, and ``Lake.append_batch`` lands it (with S3 and DynamoDB stubbed)."""

    def __init__(self, table: StreamTable) -> None:
        super().__init__(table=table)  # type: ignore[arg-type]
        self.lake = CpuLake(table)
        self.landed = Landed()
        self.timers: Timers | None = None

    def _enqueue(self, org_id: str, stream: str, request_id: str, received: int, batch: Any, payload: bytes) -> None:
        t = self.timers
        t0 = time.perf_counter()
        inline = envelope.inline(payload)
        body = envelope.IngestMessage(
            request_id=request_id,
            org_id=org_id,
            stream=stream,
            received_us=received,
            records=len(batch.records),
            raw_bytes=len(payload),
            payload_b64=inline,
            s3_key=None if inline else envelope.incoming_key(org_id, request_id),
        ).to_json()
        t1 = time.perf_counter()
        message = envelope.IngestMessage.from_json(body)  # the worker's side (functions/ingest_worker)
        compressed = base64.b64decode(message.payload_b64) if message.payload_b64 is not None else payload
        t2 = time.perf_counter()
        ndjson = envelope.decode_payload(compressed)
        t3 = time.perf_counter()
        result = self.lake.append_batch(message.org_id, message.stream, message.request_id, ndjson)
        t4 = time.perf_counter()
        if t is not None:
            t.add("message_out", t1 - t0)
            t.add("message_in", t2 - t1)
            t.add("unzstd", t3 - t2)
            t.add("append_batch", t4 - t3)
        if result.duplicate:
            raise SystemExit(f"request {message.request_id} was taken for a duplicate")
        self.landed.rows[stream] = self.landed.rows.get(stream, 0) + result.rows
        self.landed.payload_bytes += len(payload)
        self.landed.ndjson_bytes += len(ndjson)
        self.landed.messages += 1


# ---------------------------------------------------------------- datasets and passes


@dataclass
class Dataset:
    name: str  # traces | logs | logs_plain
    bodies: list[bytes]
    records: int
    description: dict[str, Any]
    request_class: Any
    table: StreamTable = field(default_factory=StreamTable)
    cipher: ContentCipher | None = None
    kms: FakeKms = field(default_factory=FakeKms)
    baseline_repeat: int = 1

    @property
    def signal(self) -> str:
        return SIGNAL_OF[self.name]


PRINCIPAL = Principal(org_id=ORG, user_id="bench", role=Role.INGEST, kind="api_token", credential_id="bench")


def product_pass(ds: Dataset, timers: Timers | None = None, bodies: list[bytes] | None = None) -> dict[str, Any]:
    """Every body through the receiver and the worker, as deployed but for the AWS calls."""
    s3 = FakeS3()
    ingestor = CpuIngestor(ds.table)
    ingestor.timers = timers
    receiver = OtlpReceiver(ingestor, ds.cipher)
    accepted = skipped = 0
    with patched(writer, "aws", FakeAws(s3)):
        for body in ds.bodies if bodies is None else bodies:
            result = receiver.receive(PRINCIPAL, ds.signal, body, PROTOBUF, None)
            accepted += sum(result.counts.values())
            skipped += result.skipped
    landed = ingestor.landed
    return {
        "accepted": accepted,
        "skipped": skipped,
        "rows": dict(sorted(landed.rows.items())),
        "files": s3.files,
        "parquet_bytes": s3.bytes,
        "zstd_payload_bytes": landed.payload_bytes,
        "canonical_ndjson_bytes": landed.ndjson_bytes,
        "messages": landed.messages,
    }


def baseline_pass(ds: Dataset) -> dict[str, Any]:
    """``FromString`` over every body, ``ds.baseline_repeat`` times (the sample is divided by it)."""
    parse = ds.request_class.FromString
    for _ in range(ds.baseline_repeat):
        for body in ds.bodies:
            parse(body)
    return {"bodies": len(ds.bodies), "repeat": ds.baseline_repeat}


def calibrate_baseline(ds: Dataset) -> None:
    """Repeat the baseline within a sample until it lasts about BASELINE_MIN_S: one pass of
    FromString over the dataset takes a few tens of ms, too short to time on a busy machine."""
    ds.baseline_repeat = 1
    t0 = time.process_time()
    baseline_pass(ds)
    once = max(time.process_time() - t0, 1e-4)
    ds.baseline_repeat = max(1, min(1000, round(BASELINE_MIN_S / once)))


def whatif_pass(ds: Dataset) -> dict[str, Any]:
    """The big-integer check never sends a batch to the orjson fallback (``_slow``), so the
    worker stays on Arrow's JSON reader unless Arrow itself fails on the batch."""
    with patched(arrow_batch, "may_have_rounded_integers", lambda _table: False):
        return product_pass(ds)


@dataclass
class Sample:
    wall_s: float
    cpu_s: float


@dataclass
class Measure:
    dataset: Dataset
    name: str
    label: str
    run: Callable[[], dict[str, Any]]
    samples: list[Sample] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    def once(self) -> None:
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        out = self.run()
        w1, c1 = time.perf_counter(), time.process_time()
        self.samples.append(Sample(w1 - w0, c1 - c0))
        self.output = out


def make_measures(ds: Dataset, whatif: bool) -> list[Measure]:
    measures = [
        Measure(ds, "product", "(a) product: receive + submit + worker", lambda: product_pass(ds)),
        Measure(ds, "baseline", "(b) protobuf FromString alone", lambda: baseline_pass(ds)),
    ]
    if whatif:
        measures.append(Measure(ds, "whatif", "(info) product, worker on Arrow's path only", lambda: whatif_pass(ds)))
    return measures


def run_rounds(measures: list[Measure], rounds: int, quiet: bool, what: str) -> None:
    for r in range(rounds):
        shift = r % len(measures)
        for m in measures[shift:] + measures[:shift]:
            progress(f"{what}: round {r + 1}/{rounds}: {m.dataset.name} {m.name}", quiet)
            m.once()


def summarise(measures: list[Measure]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in measures:
        if not m.samples:
            continue
        records = m.dataset.records
        repeat = m.dataset.baseline_repeat if m.name == "baseline" else 1
        samples = [Sample(s.wall_s / repeat, s.cpu_s / repeat) for s in m.samples]
        wall = statistics.median(s.wall_s for s in samples)
        cpu = statistics.median(s.cpu_s for s in samples)
        out.setdefault(m.dataset.name, {})[m.name] = {
            "label": m.label,
            "unit": UNIT_OF[m.dataset.name],
            "wall_s_median": round(wall, 6),
            "cpu_s_median": round(cpu, 6),
            "wall_s_min": round(min(s.wall_s for s in samples), 6),
            "passes_per_sample": repeat,
            "records_per_s": round(records / wall),
            "records_per_cpu_s": round(records / cpu),
            "us_per_record": r3(wall / records * 1e6),
            "ms_per_request": r3(wall / len(m.dataset.bodies) * 1000),
            "cores_used": r3(cpu / wall),
            "output": m.output,
            "samples": [{"wall_s": round(s.wall_s, 6), "cpu_s": round(s.cpu_s, 6)} for s in samples],
        }
    for rows in out.values():
        base = rows.get("baseline")
        if not base:
            continue
        for row in rows.values():
            # throughput ratio: how many times the baseline's time the measure takes, inverted
            row["ratio_to_baseline"] = round(base["wall_s_median"] / row["wall_s_median"], 6)
            row["cpu_ratio_to_baseline"] = round(base["cpu_s_median"] / row["cpu_s_median"], 6)
            row["ratio_of_min"] = round(base["wall_s_min"] / row["wall_s_min"], 6)
            row["times_slower_than_baseline"] = r3(row["wall_s_median"] / base["wall_s_median"])
        if "whatif" in rows and "product" in rows:
            rows["whatif"]["speedup_over_product"] = r3(
                rows["product"]["wall_s_median"] / rows["whatif"]["wall_s_median"]
            )
    return out


# ---------------------------------------------------------------- stages and profile


@contextmanager
def patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    saved = getattr(target, attribute)
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        setattr(target, attribute, saved)


def timed(timers: Timers, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timers.add(name, time.perf_counter() - t0)

    return wrapper


def stage_pass(ds: Dataset) -> dict[str, Any]:
    """One pass of (a) with timing wrappers around the product's functions, in their modules.

    ``encode_records`` is split into its NDJSON and zstd parts by timing both again on the same
    records, outside the pass's stage sums; ``to_table`` into Arrow's read and the orjson
    fallback the same way (the wrappers time ``_fast``/``_slow`` as ``to_table`` calls them).
    """
    import cramjam
    import orjson

    timers = Timers()
    split: dict[str, float] = {"ndjson": 0.0, "zstd": 0.0}
    real_encode = envelope.encode_records

    def encode_records(records: list[dict[str, Any]]) -> bytes:
        t0 = time.perf_counter()
        out = real_encode(records)
        timers.add("encode_records", time.perf_counter() - t0)
        pause = time.perf_counter()
        ndjson = b"\n".join(orjson.dumps(r) for r in records) + b"\n"
        t1 = time.perf_counter()
        cramjam.zstd.compress(ndjson, level=3)
        t2 = time.perf_counter()
        split["ndjson"] += t1 - pause
        split["zstd"] += t2 - t1
        timers.add("_excluded", time.perf_counter() - pause)
        return out

    sealed = OtlpReceiver._sealed
    enforce = Ingestor._enforce_field_cap
    patches = [
        (otlp_decode, "decode_request", timed(timers, "decode", otlp_decode.decode_request)),
        (otlp_flatten, "flatten", timed(timers, "flatten", otlp_flatten.flatten)),
        (otlp_receiver, "split_content", timed(timers, "split_content", otlp_receiver.split_content)),
        (OtlpReceiver, "_sealed", timed(timers, "seal", sealed)),
        (ingest_service, "normalize", timed(timers, "normalize", ingest_service.normalize)),
        (ingest_service, "check_stream_name", timed(timers, "normalize", ingest_service.check_stream_name)),
        (Ingestor, "_enforce_field_cap", timed(timers, "field_cap", enforce)),
        (envelope, "encode_records", encode_records),
        (writer, "to_table", timed(timers, "to_table", writer.to_table)),
        (arrow_batch, "_fast", timed(timers, "to_table_fast", arrow_batch._fast)),
        (arrow_batch, "_slow", timed(timers, "to_table_slow", arrow_batch._slow)),
    ]
    # Lake.append_batch's steps, as far as this version of the writer has them.
    patches += [(writer, n, timed(timers, n, getattr(writer, n))) for n in APPEND_STEPS if hasattr(writer, n)]
    gc.collect()
    with _all_patched(patches):
        w0 = time.perf_counter()
        output = product_pass(ds, timers)
        wall = time.perf_counter() - w0
    s = timers.s
    excluded = s.pop("_excluded", 0.0)
    total = wall - excluded
    encode = s.pop("encode_records", 0.0)
    both = split["ndjson"] + split["zstd"]
    s["ndjson"] = encode * split["ndjson"] / both if both else 0.0
    s["zstd"] = encode - s["ndjson"]
    append = s.pop("append_batch", 0.0)
    s["append_other"] = max(0.0, append - sum(s.get(n, 0.0) for n in APPEND_STEPS))
    s["prepare_rest"] = max(0.0, s.pop("prepare", 0.0) - s.get("to_table", 0.0))
    to_table_split = {
        "arrow_read_fast": s.pop("to_table_fast", 0.0),
        "orjson_fallback_slow": s.pop("to_table_slow", 0.0),
    }
    to_table_split["rest"] = max(0.0, s.get("to_table", 0.0) - sum(to_table_split.values()))
    named = INGEST_STAGES[:-1] + WORKER_STAGES
    s["receive_other"] = max(0.0, total - sum(s.get(k, 0.0) for k in named))
    seconds = {k: s.get(k, 0.0) for k in INGEST_STAGES + WORKER_STAGES}
    ingest = sum(seconds[k] for k in INGEST_STAGES)
    handover = sum(seconds[k] for k in HANDOVER)
    requests = len(ds.bodies)
    return {
        "wall_s": r4(total),
        "seconds": {k: r4(v) for k, v in seconds.items()},
        "share": {k: r4(v / total) for k, v in seconds.items()},
        "us_per_record": {k: r3(v / ds.records * 1e6) for k, v in seconds.items()},
        "to_table_split_s": {k: r4(v) for k, v in to_table_split.items()},
        "ingest_function_share": r4(ingest / total),
        "worker_share": r4(1 - ingest / total),
        "handover_share": r4(handover / total),
        "ingest_function_ms_per_request": r3(ingest / requests * 1000),
        "worker_ms_per_request": r3((total - ingest) / requests * 1000),
        "records_per_s_instrumented": round(ds.records / total),
        "records_per_s_without_handover": round(ds.records / (total - handover)),
        "output": output,
    }


@contextmanager
def _all_patched(patches: list[tuple[Any, str, Any]]) -> Iterator[None]:
    if not patches:
        yield
        return
    target, attribute, replacement = patches[0]
    with patched(target, attribute, replacement), _all_patched(patches[1:]):
        yield


def profile_top(profiler: cProfile.Profile, top: int) -> dict[str, Any]:
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{short_path(filename)}:{line}({name})",
                "ncalls": ncalls,
                "tottime_s": r4(tottime),
                "cumtime_s": r4(cumtime),
            }
        )
    total = stats.total_tt  # type: ignore[attr-defined]
    for row in rows:
        row["tottime_share"] = r4(row["tottime_s"] / total) if total else 0.0
    return {
        "total_s": r3(total),
        "by_tottime": sorted(rows, key=lambda r: -r["tottime_s"])[:top],
        "ours_by_cumtime": sorted(
            (r for r in rows if r["function"].startswith(OWN_PREFIXES) or "_make_api_call" in r["function"]),
            key=lambda r: -r["cumtime_s"],
        )[:top],
    }


def profile_product(ds: Dataset, requests: int, top: int) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    product_pass(ds, bodies=ds.bodies[:requests])
    profiler.disable()
    return {"requests": min(requests, len(ds.bodies)), **profile_top(profiler, top)}


# ---------------------------------------------------------------- (c) end to end


def end_to_end(datasets: list[Dataset], requests: int, quiet: bool) -> dict[str, Any]:  # noqa: PLR0915
    """POST the bodies to the local system's OTLP/HTTP routes (gateway → authorizer → otlp_api
    handler → moto), timed per request with the AWS calls inside it. No pollers: the worker
    does not run, so this is the ingest side only."""
    import httpx

    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.settings import get_settings, reset_settings

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msotlp{uuid.uuid4().hex[:6]}"
    reset_settings()
    progress("(c) starting the local system (moto emulator + gateway)", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    from molesignal.observability import logger

    devnull = open(os.devnull, "w")  # noqa: SIM115
    previous_stream = logger.registered_handler.setStream(devnull)  # type: ignore[union-attr]
    try:
        http = httpx.Client(base_url=system.url, timeout=120)
        admin_password, root_password = "BenchAdmin123!", "BenchRoot123!"
        setup = http.post(
            "/api/v1/auth/setup", json={"user": "bench", "password": admin_password, "root_password": root_password}
        )
        setup.raise_for_status()
        org_id = setup.json()["org_id"]
        root = http.post("/api/v1/auth/login", json={"user": "root", "password": root_password}).json()
        quota = http.put(
            f"/api/v1/orgs/{org_id}/quotas",
            json={"ingest_qps": 100_000, "query_qps": 100, "storage_bytes": 1_000_000_000_000},
            headers={"Authorization": f"Bearer {root['access_token']}"},
        )
        quota.raise_for_status()
        admin = http.post("/api/v1/auth/login", json={"user": "bench", "password": admin_password}).json()
        created = http.post(
            "/api/v1/tokens",
            json={"name": "b", "role": "ingest", "kind": "mtk"},
            headers={"Authorization": f"Bearer {admin['access_token']}"},
        )
        created.raise_for_status()
        headers = {"Authorization": f"Bearer {created.json()['token']}", "Content-Type": PROTOBUF}

        def post(ds: Dataset, body: bytes) -> dict[str, Any]:
            response = http.post(f"/v1/{ds.signal}", content=body, headers=headers)
            if response.status_code != 202:
                raise SystemExit(f"OTLP request failed: {response.status_code} {response.text[:300]}")
            answer: dict[str, Any] = response.json()
            return answer

        for ds in datasets:  # warm-up: first AWS clients, the KMS data key, the queue URL
            for body in ds.bodies[:2]:
                post(ds, body)
        rows: dict[str, list[float]] = {ds.name: [] for ds in datasets}
        aws: dict[str, list[float]] = {ds.name: [] for ds in datasets}
        ops: dict[str, dict[str, int]] = {ds.name: {} for ds in datasets}
        counted: dict[str, int] = {ds.name: 0 for ds in datasets}
        progress(f"(c) {requests} requests per dataset, end to end", quiet)
        with AwsCallTimer() as timer:
            for n in range(requests):
                shift = n % len(datasets)
                for ds in datasets[shift:] + datasets[:shift]:
                    body = ds.bodies[(n + 2) % len(ds.bodies)]
                    gc.collect()
                    timer.take()
                    t0 = time.perf_counter()
                    answer = post(ds, body)
                    rows[ds.name].append(time.perf_counter() - t0)
                    calls = timer.take()
                    aws[ds.name].append(sum(c[2] for c in calls))
                    counted[ds.name] += sum(answer["counts"].values())
                    for service, op, _s in calls:
                        key = f"{service}:{op}"
                        ops[ds.name][key] = ops[ds.name].get(key, 0) + 1
        out: dict[str, Any] = {"requests": requests, "endpoint": get_settings().aws_endpoint_url, "datasets": {}}
        for ds in datasets:
            samples, aws_s = rows[ds.name], aws[ds.name]
            med = statistics.median(samples) * 1000
            records = counted[ds.name] / requests
            out["datasets"][ds.name] = {
                "route": f"POST /v1/{ds.signal}",
                "records_per_request_mean": round(records, 1),
                "body_bytes_mean": round(statistics.mean(map(len, ds.bodies))),
                "ms_median": r3(med),
                "ms_min": r3(min(samples) * 1000),
                "aws_ms_median": r3(statistics.median(aws_s) * 1000),
                "non_aws_ms_median": r3(statistics.median(a - b for a, b in zip(samples, aws_s, strict=True)) * 1000),
                "ms_per_512_records": r3(med * 512 / records) if records else None,
                "aws_calls_per_request": {k: round(v / requests, 2) for k, v in sorted(ops[ds.name].items())},
                "samples_ms": [r3(x * 1000) for x in samples],
                "aws_samples_ms": [r3(x * 1000) for x in aws_s],
            }
        return out
    finally:
        system.stop()
        logger.registered_handler.setStream(previous_stream)  # type: ignore[union-attr]
        devnull.close()


# ---------------------------------------------------------------- report


def print_throughput(title: str, block: dict[str, Any]) -> None:
    print(f"\n{title}")
    header = (
        f"  {'dataset':<10} {'measure':<46} {'wall s':>8} {'cpu s':>8} {'records/s':>10} {'rec/cpu-s':>10}"
        f" {'µs/rec':>7} {'ms/req':>7} {'cores':>5} {'ratio':>8} {'slower':>7} {'min/min':>8}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    busy = 0
    for name, rows in block.items():
        for row in rows.values():
            print(
                f"  {name:<10} {row['label']:<46} {row['wall_s_median']:>8.3f} {row['cpu_s_median']:>8.3f}"
                f" {row['records_per_s']:>10,} {row['records_per_cpu_s']:>10,} {row['us_per_record']:>7.2f}"
                f" {row['ms_per_request']:>7.2f} {row['cores_used']:>5.2f} {row.get('ratio_to_baseline', 1):>8.5f}"
                f" {row.get('times_slower_than_baseline', 1):>6.0f}x {row.get('ratio_of_min', 1):>8.5f}"
            )
            busy += sum(1 for x in row["samples"] if x["wall_s"] > 1.1 * x["cpu_s"])
    if busy:
        print(f"  note: {busy} sample(s) took > 1.1x their CPU time in wall time: the machine was busy")


def print_report(result: dict[str, Any]) -> None:
    print("\ndatasets:")
    for name, d in result["datasets"].items():
        print(
            f"  {name:<10} {d['requests']} requests, {d['records']:,} {UNIT_OF[name]}, {d['body_bytes'] / 1e6:.1f} MB"
            f" protobuf ({d['bytes_per_record']:.0f} B/record), {d['content_share']:.1%} with content,"
            f" {d['flattened_columns_per_row_mean']:.0f} columns/row"
        )
    single = result["throughput"]["single_thread"]
    print_throughput(f"Arrow on 1 thread, {single['rounds']} round(s), medians", single["rows"])
    if "default_threads" in result["throughput"]:
        block = result["throughput"]["default_threads"]
        print_throughput(f"Arrow default threads ({block['arrow_cpu_count']} CPU), 1 round", block["rows"])
    print("\nstages of (a), one instrumented pass (share of the pass; µs per record):")
    for name, st in result["stages"].items():
        ordered = sorted(st["share"].items(), key=lambda kv: -kv[1])
        print(
            f"  {name:<10} "
            + ", ".join(f"{k} {v:.1%} ({st['us_per_record'][k]:.1f})" for k, v in ordered if v >= 0.005)
        )
        tt = st["to_table_split_s"]
        total_tt = sum(tt.values()) or 1.0
        print(
            f"  {'':<10} ingest function {st['ingest_function_share']:.0%} ({st['ingest_function_ms_per_request']:.1f}"
            f" ms/request), worker {st['worker_share']:.0%} ({st['worker_ms_per_request']:.1f} ms/message set);"
            f" hand-over (zstd, message, unzstd) {st['handover_share']:.1%}; to_table = Arrow read"
            f" {tt['arrow_read_fast'] / total_tt:.0%}, orjson fallback {tt['orjson_fallback_slow'] / total_tt:.0%}"
        )
        print(
            f"  {'':<10} instrumented pass {st['records_per_s_instrumented']:,} records/s;"
            f" without the hand-over {st['records_per_s_without_handover']:,} records/s"
        )
    if "end_to_end" in result:
        print("\n(c) end to end through the local system (ingest side; median ms per request):")
        for name, e in result["end_to_end"]["datasets"].items():
            print(
                f"  {name:<10} {e['route']:<16} {e['ms_median']:7.1f} ms (min {e['ms_min']:.1f}),"
                f" AWS calls {e['aws_ms_median']:.1f} ms, rest {e['non_aws_ms_median']:.1f} ms;"
                f" {e['records_per_request_mean']:.0f} records/request: "
                + ", ".join(f"{k} x{v:g}" for k, v in e["aws_calls_per_request"].items())
            )


def machine_info(default_threads: tuple[int, int]) -> dict[str, Any]:
    from google.protobuf.internal import api_implementation

    packages = (
        "protobuf",
        "opentelemetry-proto",
        "pyarrow",
        "orjson",
        "cramjam",
        "cryptography",
        "fastapi",
        "mangum",
        "moto",
        "boto3",
    )
    return {
        **interpreter_info(packages),
        "protobuf_implementation": api_implementation.Type(),
        "arrow_simd_level": pa.runtime_info().simd_level,
        "arrow_default_cpu_count": default_threads[0],
        "arrow_default_io_thread_count": default_threads[1],
    }


def load_datasets(names: list[str], requests: int, per_request: int, seed: int, quiet: bool) -> list[Dataset]:
    out = []
    for name in names:
        progress(f"generating {requests} {name} requests of {per_request} records", quiet)
        t0 = time.perf_counter()
        bodies = dataset.generate(name, requests, per_request, seed)
        generated = time.perf_counter() - t0
        description = dataset.describe(name, bodies)
        description["generate_s"] = r3(generated)
        request_class = otlp_decode.request_type(SIGNAL_OF[name])  # type: ignore[arg-type]
        ds = Dataset(name, bodies, description["records"], description, request_class)
        ds.cipher = ContentCipher("alias/molesignal-bench-content", kms=ds.kms)
        out.append(ds)
    return out


def warm_up(ds: Dataset, quiet: bool) -> dict[str, Any]:
    """One unmeasured pass: the stream schemas reach their steady state, caches warm up; and
    the output is checked (every record accepted, each content row beside its row)."""
    progress(f"warm-up pass: {ds.name}", quiet)
    t0 = time.perf_counter()
    out = product_pass(ds)
    out["warmup_s"] = r3(time.perf_counter() - t0)
    content = ds.description["records_with_content"]
    expected = {otlp_receiver.STREAMS[ds.signal]: ds.records}
    if content:
        expected[otlp_receiver.CONTENT_STREAM] = content
    if out["accepted"] != ds.records or out["skipped"] or out["rows"] != expected:
        raise SystemExit(f"{ds.name}: the product path did not land what was sent: {out} (expected {expected})")
    out["kms_calls"] = dict(ds.kms.calls)
    return out


def check_parquet(ds: Dataset) -> dict[str, Any]:
    """Land the first request once more, keeping the files, and read them back."""
    files: list[bytes] = []
    real = writer.encode_parquet

    def keep(table: pa.Table) -> bytes:
        body = real(table)
        files.append(body)
        return body

    with patched(writer, "encode_parquet", keep):
        out = product_pass(ds, bodies=ds.bodies[:1])
    rows = sum(pq.read_table(pa.BufferReader(body)).num_rows for body in files)
    if rows != sum(out["rows"].values()):
        raise SystemExit(f"{ds.name}: Parquet read back {rows} rows, landed {out['rows']}")
    return {"files": len(files), "rows": rows, "columns_first_file": pq.read_schema(pa.BufferReader(files[0])).names}


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=dataset.DEFAULT_REQUESTS, help="requests per dataset")
    parser.add_argument("--per-request", type=int, default=dataset.PER_REQUEST, help="records per request")
    parser.add_argument("--seed", type=int, default=dataset.DEFAULT_SEED)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds of (a)/(b) (default %(default)s)")
    parser.add_argument("--datasets", nargs="+", choices=dataset.SIGNALS, default=list(dataset.SIGNALS))
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS} requests per dataset, 2 rounds")
    parser.add_argument("--no-whatif", action="store_true", help="skip the what-if measure")
    parser.add_argument("--no-threads", action="store_true", help="skip the pair with Arrow's default threads")
    parser.add_argument("--no-e2e", action="store_true", help="skip (c): the local system end to end")
    parser.add_argument("--e2e-requests", type=int, default=DEFAULT_E2E_REQUESTS, help="(c) requests per dataset")
    parser.add_argument("--profile-requests", type=int, default=20, help="requests profiled with cProfile")
    parser.add_argument("--top", type=int, default=25, help="profile rows (default %(default)s)")
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/otlp-<UTC date>.json)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = min(args.requests, QUICK_REQUESTS)
        args.rounds = min(args.rounds, 2)
        args.e2e_requests = min(args.e2e_requests, 5)
        args.profile_requests = min(args.profile_requests, 5)
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be at least 1")
    out_path: Path = args.out or RESULTS_DIR / f"otlp-{now:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    quiet = args.quiet

    default_threads = (pa.cpu_count(), pa.io_thread_count())
    load_start = loadavg()
    started = time.perf_counter()
    datasets = load_datasets(args.datasets, args.requests, args.per_request, args.seed, quiet)

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    warmups = {ds.name: warm_up(ds, quiet) for ds in datasets}
    for ds in datasets:
        calibrate_baseline(ds)
    parquet_checks = {ds.name: check_parquet(ds) for ds in datasets}
    measures = [m for ds in datasets for m in make_measures(ds, not args.no_whatif)]
    run_rounds(measures, args.rounds, quiet, "1 thread")
    throughput: dict[str, Any] = {"single_thread": {"rounds": args.rounds, "rows": summarise(measures)}}
    stages = {}
    profiles = {}
    for ds in datasets:
        progress(f"instrumented pass (stages): {ds.name}", quiet)
        stages[ds.name] = stage_pass(ds)
        progress(f"cProfile over {args.profile_requests} requests: {ds.name}", quiet)
        profiles[ds.name] = profile_product(ds, args.profile_requests, args.top)

    if not args.no_threads:
        pa.set_cpu_count(default_threads[0])
        pa.set_io_thread_count(default_threads[1])
        threaded = [m for ds in datasets for m in make_measures(ds, False)]
        run_rounds(threaded, 1, quiet, "default threads")
        throughput["default_threads"] = {
            "rounds": 1,
            "arrow_cpu_count": default_threads[0],
            "rows": summarise(threaded),
        }
        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)

    result: dict[str, Any] = {
        "benchmark": "otlp",
        "date": now.isoformat(timespec="seconds"),
        "method": (
            "one process; Arrow pinned to 1 thread (pa.set_cpu_count(1), set_io_thread_count(1)); "
            "(a) product = OtlpReceiver.receive (decode_request, flatten, split_content, ContentCipher sealing on an "
            "in-process fake KMS) -> Ingestor.submit (normalize, field cap, encode_records) with _enqueue handing "
            "over in-process (message base64+JSON built and parsed, zstd decompressed) -> worker CPU part of "
            "Lake.append_batch (prepare, schema_of, split_by_hour, encode_parquet) per request and stream, stream "
            "schema in steady state; (b) baseline = Export*ServiceRequest.FromString(body) over the same bodies; "
            "measures round-robin, each round starting one later; wall = perf_counter, cpu = process_time; medians; "
            "ratio = baseline wall / measure wall (a throughput ratio); stages from one more instrumented pass"
        ),
        "parameters": {
            "requests": args.requests,
            "per_request": args.per_request,
            "seed": args.seed,
            "rounds": args.rounds,
            "quick": args.quick,
            "datasets": args.datasets,
        },
        "datasets": {ds.name: ds.description for ds in datasets},
        "warmup": warmups,
        "parquet_check": parquet_checks,
        "throughput": throughput,
        "stages": stages,
    }
    if not args.no_e2e:
        result["end_to_end"] = end_to_end(datasets, args.e2e_requests, quiet)
    result["profiles"] = profiles
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["machine"] = {**machine_info(default_threads), "loadavg_start": load_start, "loadavg_end": loadavg()}
    result["git"] = git_info()

    print_report(result)
    for name, prof in profiles.items():
        print(f"\n(a) profile, {name}, {prof['requests']} requests (cProfile, top by self time):")
        for row in prof["by_tottime"][:10]:
            print(
                f"  {row['tottime_s']:8.3f} s self ({row['tottime_share']:5.1%}) {row['cumtime_s']:8.3f} s cum"
                f" {row['ncalls']:>9}  {row['function']}"
            )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
