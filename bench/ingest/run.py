"""Ingest benchmark: the worker's decode→Parquet path against pyarrow's own JSON→Parquet,
stored bytes against raw and zstd NDJSON, and the ingest function's time per 1 MiB request.

All in one process, on a generated realistic log dataset (``bench/ingest/dataset.py``,
1,000,000 records by default):

(a) **worker**: ``molesignal.lake.writer`` ``prepare`` → ``split_by_hour`` → ``encode_parquet``
    per batch of canonical NDJSON, the CPU part of ``Lake.append_batch`` (no AWS I/O), with
    the stream schema as it evolves batch after batch (the steady state);
(b) **baseline**: ``pyarrow.json.read_json`` + ``pyarrow.parquet.write_table`` (defaults:
    snappy) on the same batches; (b') the same with zstd level 6 (the worker's until ADR 0031);
(c) **stored bytes**: the worker's Parquet against the raw and the canonical NDJSON and
    against zstd NDJSON (level 3, the zstd CLI default; level 19 on a sample of batches);
(d) **ingest function**: (d1) its CPU part — ``parse_json_records``, ``normalize``,
    ``encode_records`` — on 1 MiB NDJSON bodies, against a JSON-in/JSON-out floor; (d2) the
    whole Lambda handler (Mangum + FastAPI) with HTTP API 2.0 events, end to end through the
    local gateway and directly, against the embedded moto emulator, with the AWS calls timed.

Arrow is pinned to one thread for (a)/(b) so "per core" is honest; a second pair runs with
Arrow's default threads for information. The measures of (a)/(b) take turns round-robin
for ``--rounds`` rounds (medians), each round starting one measure later.

    .venv/bin/python bench/ingest/run.py                   # 1M records; table + bench/results/ingest-<date>.json
    .venv/bin/python bench/ingest/run.py --records 100000  # quick
    .venv/bin/python bench/ingest/run.py --check           # exit 1 when a target is missed
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import datetime as dt
import gc
import io
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO / "layers" / "core" / "python", REPO / "functions", REPO):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import cramjam  # noqa: E402
import dataset  # noqa: E402
import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.json as pj  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench.common import AwsCallTimer, git_info, interpreter_info, loadavg, progress, r3, r4, short_path  # noqa: E402

from molesignal.ingest import columnar, envelope  # noqa: E402
from molesignal.ingest.normalize import TIMESTAMP, check_stream_name, normalize  # noqa: E402
from molesignal.ingest.service import Ingestor, parse_json_records  # noqa: E402
from molesignal.lake import arrow_batch  # noqa: E402
from molesignal.lake import schema as S  # noqa: E402
from molesignal.lake.streams import Stream  # noqa: E402
from molesignal.lake.writer import (  # noqa: E402
    PARQUET_OPTIONS,
    Delivery,
    cluster,
    deliveries_table,
    encode_parquet,
    prepare,
    split_by_hour,
    stamp,
)

RESULTS_DIR = REPO / "bench" / "results"
OWN_PREFIXES = ("molesignal/", "ingest_api/", "authorizer/", "bench/")
MIB = 1 << 20
MB = 1e6
ORG = "bench-org"
STREAM_NAME = "bench"
DEFAULT_ROUNDS = 5
DEFAULT_CHUNK_MIB = 4.0
DEFAULT_EXTRA_CHUNKS_MIB = (1.0, 8.0)
DEFAULT_REQUESTS = 20
RECEIVED_US = dataset.START_US + dataset.SPAN_HOURS * 3600 * 1_000_000
TARGET_WORKER_RATIO = 0.5  # worker throughput / baseline throughput, at least
TARGET_RAW_RATIO = 0.1  # stored Parquet / raw NDJSON, at most
ZSTD_SAMPLE_BATCHES = 12  # level 19 takes ~3 s per 8 MiB: run it on every k-th batch only


# ---------------------------------------------------------------- data


@dataclass
class Data:
    raw: bytes  # the generated NDJSON, one record per line
    canonical: bytes  # what the ingest function hands the worker: normalised, orjson, one per line
    raw_ends: array  # byte offset after each record's newline
    canonical_ends: array
    description: dict[str, Any]

    @property
    def records(self) -> int:
        return len(self.canonical_ends)

    def chunk_bounds(self, chunk_bytes: int | None) -> list[tuple[int, int]]:
        """Record ranges [first, end) of consecutive batches of at most chunk_bytes of canonical
        NDJSON (one batch for None)."""
        if chunk_bytes is None:
            return [(0, self.records)]
        bounds, first, start = [], 0, 0
        ends = self.canonical_ends
        for i in range(self.records):
            if ends[i] - start > chunk_bytes and i > first:
                bounds.append((first, i))
                first, start = i, ends[i - 1]
        bounds.append((first, self.records))
        return bounds

    def canonical_batches(self, bounds: list[tuple[int, int]]) -> list[bytes]:
        ends = self.canonical_ends
        return [self.canonical[(ends[a - 1] if a else 0) : ends[b - 1]] for a, b in bounds]

    def raw_batches(self, bounds: list[tuple[int, int]]) -> Iterator[bytes]:
        ends = self.raw_ends
        for a, b in bounds:
            yield self.raw[(ends[a - 1] if a else 0) : ends[b - 1]]


def line_ends(blob: bytes) -> array:
    ends, pos, find = array("q"), 0, blob.find
    while True:
        nl = find(b"\n", pos)
        if nl < 0:
            break
        pos = nl + 1
        ends.append(pos)
    return ends


def canonical_line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(normalize(record, received_us=RECEIVED_US))


def load_data(records: int, seed: int, quiet: bool) -> Data:
    raw_path = dataset.ensure_raw(records, seed, quiet=quiet)
    canonical_path = raw_path.with_name(raw_path.name.replace("raw-", "canonical-"))
    if not canonical_path.exists():
        progress(f"normalising {records:,} records (cached: {canonical_path})", quiet)
        tmp = canonical_path.with_suffix(f".tmp{os.getpid()}")
        with raw_path.open("rb") as src, tmp.open("wb") as out:
            for line in src:
                out.write(canonical_line(orjson.loads(line)) + b"\n")
        tmp.replace(canonical_path)
    raw, canonical = raw_path.read_bytes(), canonical_path.read_bytes()
    data = Data(raw, canonical, line_ends(raw), line_ends(canonical), {})
    if len(data.raw_ends) != len(data.canonical_ends) or data.records != records:
        raise SystemExit(f"dataset cache is inconsistent: remove {raw_path.parent} and run again")
    # The worker input must be exactly what the ingest function produces.
    sample = [orjson.loads(line) for line in raw[: data.raw_ends[min(999, records - 1)]].splitlines()]
    produced = envelope.decode_payload(envelope.encode_records([normalize(r, received_us=RECEIVED_US) for r in sample]))
    if produced != canonical[: len(produced)]:
        raise SystemExit("canonical NDJSON differs from encode_records' output: remove the cache and run again")
    progress("describing the dataset", quiet)
    data.description = {
        "generator": "bench/ingest/dataset.py",
        "generator_version": dataset.GENERATOR_VERSION,
        "seed": seed,
        "span_hours": dataset.SPAN_HOURS,
        "raw": dataset.describe(raw_path),
        "canonical": {
            "records": data.records,
            "bytes": len(canonical),
            "record_bytes_mean": round(len(canonical) / data.records - 1, 1),
        },
    }
    return data


# ---------------------------------------------------------------- measuring


@dataclass
class Sample:
    wall_s: float
    cpu_s: float


@dataclass
class Measure:
    name: str
    label: str
    run: Callable[[], dict[str, int]]
    samples: list[Sample] = field(default_factory=list)
    output: dict[str, int] = field(default_factory=dict)

    def once(self) -> None:
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        out = self.run()
        w1, c1 = time.perf_counter(), time.process_time()
        self.samples.append(Sample(w1 - w0, c1 - c0))
        self.output = out


def worker_pass(batches: list[bytes], schemas: list[dict[str, str]], *, clustered: bool = True) -> dict[str, int]:
    """What Lake.append_batch does with the CPU, batch after batch: no DynamoDB, no S3."""
    parquet = files = rows = 0
    for ndjson, schema in zip(batches, schemas, strict=True):
        table = prepare(ndjson, ORG, Stream(org_id=ORG, name=STREAM_NAME, schema=schema))
        arrow_batch.schema_of(table)
        for _hour, part in split_by_hour(table):
            parquet += len(encode_parquet(cluster(part) if clustered else part))
            files += 1
        rows += table.num_rows
    return {"parquet_bytes": parquet, "files": files, "rows": rows}


def worker_raw_pass(raw_batches: list[bytes], schemas: list[dict[str, str]]) -> dict[str, int]:
    """``worker_pass`` for the native bodies of the same records, as version 2 messages hand
    them over (ADR 0022): Arrow reads each again and types its columns against the stream."""
    return _land_native([columnar.RawBody(raw, RECEIVED_US) for raw in raw_batches], schemas)


def worker_handed_over_pass(handed: list[bytes], schemas: list[dict[str, str]]) -> dict[str, int]:
    """``worker_raw_pass`` for the messages the ingest function now sends for those bodies
    (version 3, ADR 0028): the worker decodes the columns it read (zstd, Arrow IPC) instead of
    reading the body again."""
    return _land_native(
        (columnar.RawBody(None, RECEIVED_US, handed_over=columnar.decode_columns(payload)) for payload in handed),
        schemas,
    )


def _land_native(bodies: Iterable[columnar.RawBody], schemas: list[dict[str, str]]) -> dict[str, int]:
    """What the worker does with the CPU for each native body as its own batch (lazily made,
    so a handed-over body's decoding is timed)."""
    parquet = files = rows = 0
    for body, schema in zip(bodies, schemas, strict=True):
        stream = Stream(org_id=ORG, name=STREAM_NAME, schema=schema)
        table = stamp(deliveries_table([Delivery("bench", raw=body)], schema), ORG, stream)
        arrow_batch.schema_of(table)
        for _hour, part in split_by_hour(table):
            parquet += len(encode_parquet(cluster(part)))
            files += 1
        rows += table.num_rows
    return {"parquet_bytes": parquet, "files": files, "rows": rows}


def handed_over(raw_batches: list[bytes]) -> list[bytes]:
    """What the version 3 message carries for each body (``columnar.hand_over``)."""
    out = []
    for raw in raw_batches:
        columns = columnar.read(raw, RECEIVED_US)
        if columns is None:
            raise SystemExit("a benchmark body did not take the column-wise path")
        payload, payload_format = columnar.hand_over(columns, raw, RECEIVED_US)
        if payload_format != envelope.ARROW_COLUMNS:
            raise SystemExit("a benchmark body did not travel as columns")
        out.append(payload)
    return out


def baseline_pass(batches: list[bytes], *, use_threads: bool, **write_options: Any) -> dict[str, int]:
    parquet = rows = 0
    options = pj.ReadOptions(use_threads=use_threads)
    for ndjson in batches:
        table = pj.read_json(io.BytesIO(ndjson), read_options=options)
        sink = io.BytesIO()
        pq.write_table(table, sink, **write_options)
        parquet += len(sink.getvalue())
        rows += table.num_rows
    return {"parquet_bytes": parquet, "files": len(batches), "rows": rows}


def evolve_schemas(batches: list[bytes]) -> tuple[list[dict[str, str]], dict[str, str], int, float]:
    """The stream schema before each batch and after the last, as the worker would have
    stored it (unmeasured warm-up pass), how many batches took arrow_batch's orjson
    fallback (``_slow``), and the pass's seconds."""
    slow_calls = 0
    real_slow = arrow_batch._slow

    def counting_slow(ndjson: bytes, stream_schema: dict[str, str]) -> pa.Table:
        nonlocal slow_calls
        slow_calls += 1
        return real_slow(ndjson, stream_schema)

    schemas, current = [], {}
    started = time.perf_counter()
    arrow_batch._slow = counting_slow
    try:
        for ndjson in batches:
            schemas.append(current)
            table = prepare(ndjson, ORG, Stream(org_id=ORG, name=STREAM_NAME, schema=current))
            current = S.merge(current, arrow_batch.schema_of(table))
    finally:
        arrow_batch._slow = real_slow
    return schemas, current, slow_calls, time.perf_counter() - started


def make_measures(
    batches: list[bytes], schemas: list[dict[str, str]], *, threads: bool, raw: list[bytes] | None = None
) -> list[Measure]:
    zstd6 = {"compression": "zstd", "compression_level": 6}
    handed = [] if raw is None else handed_over(raw)
    raw_measure = (
        []
        if raw is None
        else [
            Measure(
                "worker_raw",
                "(a') worker on native bodies read column-wise (version 2 messages, ADR 0022)",
                lambda: worker_raw_pass(raw, schemas),
            ),
            Measure(
                "worker_handed_over",
                "(a'') worker on version 3 messages: the bodies' columns (ADR 0028)",
                lambda: worker_handed_over_pass(handed, schemas),
            ),
        ]
    )
    return [
        Measure(
            "worker",
            "(a) worker: prepare, split, cluster, encode_parquet",
            lambda: worker_pass(batches, schemas),
        ),
        Measure(
            "baseline",
            "(b) pyarrow read_json + write_table, snappy",
            lambda: baseline_pass(batches, use_threads=threads),
        ),
        Measure(
            "baseline_zstd6",
            "(b') pyarrow read_json + write_table, zstd 6",
            lambda: baseline_pass(batches, use_threads=threads, **zstd6),
        ),
        Measure(
            "worker_unclustered",
            "(info) worker without writer.cluster",
            lambda: worker_pass(batches, schemas, clustered=False),
        ),
        *raw_measure,
    ]


def run_rounds(measures: list[Measure], rounds: int, quiet: bool, what: str) -> None:
    for r in range(rounds):
        order = measures[r % len(measures) :] + measures[: r % len(measures)]
        for m in order:
            progress(f"{what}: round {r + 1}/{rounds}: {m.name}", quiet)
            m.once()


def summarise_measures(measures: list[Measure], input_bytes: int, records: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in measures:
        if not m.samples:
            continue
        wall = statistics.median(s.wall_s for s in m.samples)
        cpu = statistics.median(s.cpu_s for s in m.samples)
        out[m.name] = {
            "label": m.label,
            "wall_s_median": r3(wall),
            "cpu_s_median": r3(cpu),
            "wall_s_min": r3(min(s.wall_s for s in m.samples)),
            "mb_per_s": r3(input_bytes / MB / wall),
            "records_per_s": round(records / wall),
            "mb_per_cpu_s": r3(input_bytes / MB / cpu),
            "records_per_cpu_s": round(records / cpu),
            "cores_used": r3(cpu / wall),
            **m.output,
            "samples": [{"wall_s": r3(s.wall_s), "cpu_s": r3(s.cpu_s)} for s in m.samples],
        }
    base = out.get("baseline")
    if base:
        for name, row in out.items():
            row["ratio_to_baseline"] = r3(base["wall_s_median"] / row["wall_s_median"])
            row["cpu_ratio_to_baseline"] = r3(base["cpu_s_median"] / row["cpu_s_median"])
            if "baseline_zstd6" in out:
                row["ratio_to_baseline_zstd6"] = r3(out["baseline_zstd6"]["wall_s_median"] / row["wall_s_median"])
            row["ratio_of_min"] = r3(base["wall_s_min"] / row["wall_s_min"])
            _ = name
    return out


def stage_breakdown(batches: list[bytes], schemas: list[dict[str, str]]) -> dict[str, Any]:
    """Seconds per stage of the worker path, one pass, no profiler: to_table's Arrow read
    (``_fast``), its big-integer check (``may_have_rounded_integers``), its orjson fallback
    (``_slow``); the rest of prepare (stamping, sort); split_by_hour; cluster; encode_parquet."""
    t: dict[str, float] = dict.fromkeys(
        ("to_table", "fast_read", "big_int_check", "slow_fallback", "prepare_rest", "split", "cluster", "encode"), 0.0
    )
    slow_batches = 0
    for ndjson, schema in zip(batches, schemas, strict=True):
        gc.collect()
        c0 = time.perf_counter()
        arrow_batch.to_table(ndjson, schema)
        c1 = time.perf_counter()
        fast = arrow_batch._fast(ndjson, schema)
        c2 = time.perf_counter()
        hit = arrow_batch.may_have_rounded_integers(fast)
        c3 = time.perf_counter()
        if hit:
            arrow_batch._slow(ndjson, schema)
            slow_batches += 1
        c4 = time.perf_counter()
        table = prepare(ndjson, ORG, Stream(org_id=ORG, name=STREAM_NAME, schema=schema))
        c5 = time.perf_counter()
        parts = split_by_hour(table)
        c6 = time.perf_counter()
        clustered = [cluster(part) for _hour, part in parts]
        c6b = time.perf_counter()
        for part in clustered:
            encode_parquet(part)
        c7 = time.perf_counter()
        t["to_table"] += c1 - c0
        t["fast_read"] += c2 - c1
        t["big_int_check"] += c3 - c2
        t["slow_fallback"] += c4 - c3
        t["prepare_rest"] += max(0.0, (c5 - c4) - (c1 - c0))
        t["split"] += c6 - c5
        t["cluster"] += c6b - c6
        t["encode"] += c7 - c6b
    stages = ("to_table", "prepare_rest", "split", "cluster", "encode")
    total = sum(t[k] for k in stages)
    return {
        "seconds": {k: r3(v) for k, v in t.items()},
        "share_of_worker_path": {k: r3(t[k] / total) for k in stages},
        "to_table_split": {k: r3(t[k] / t["to_table"]) for k in ("fast_read", "big_int_check", "slow_fallback")},
        "batches_through_slow_fallback": slow_batches,
        "batches": len(batches),
    }


def profile_top(profiler: cProfile.Profile, top: int) -> dict[str, list[dict[str, Any]]]:
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{short_path(filename)}:{line}({name})",
                "ncalls": ncalls,
                "tottime_s": r3(tottime),
                "cumtime_s": r3(cumtime),
            }
        )
    return {
        "total_s": r3(stats.total_tt),  # type: ignore[attr-defined]
        "by_tottime": sorted(rows, key=lambda r: -r["tottime_s"])[:top],
        "by_cumtime": sorted(rows, key=lambda r: -r["cumtime_s"])[:top],
        # This repository's functions and the AWS calls, without the framework's wrappers.
        "ours_by_cumtime": sorted(
            (r for r in rows if r["function"].startswith(OWN_PREFIXES) or "_make_api_call" in r["function"]),
            key=lambda r: -r["cumtime_s"],
        )[:top],
    }


def profile_worker(batches: list[bytes], schemas: list[dict[str, str]], top: int) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    worker_pass(batches, schemas)
    profiler.disable()
    return {"batches": len(batches), "input_bytes": sum(map(len, batches)), **profile_top(profiler, top)}


# ---------------------------------------------------------------- storage


def parquet_columns(batches: list[bytes], schemas: list[dict[str, str]], top: int) -> dict[str, Any]:
    """Where the worker's Parquet bytes go, column by column (from the files' metadata), and
    what two writer settings would change, on the same tables (for information)."""
    sizes: dict[str, list[int]] = {}
    total = rows = 0
    # zstd -19 is slow: the writer settings are tried on about ZSTD_SAMPLE_BATCHES batches.
    step = max(1, len(batches) // ZSTD_SAMPLE_BATCHES)
    variants = {"worker_default": 0, "zstd_level_19": 0, "timestamp_delta_no_dictionary": 0}
    for number, (ndjson, schema) in enumerate(zip(batches, schemas, strict=True)):
        table = prepare(ndjson, ORG, Stream(org_id=ORG, name=STREAM_NAME, schema=schema))
        rows += table.num_rows
        for _hour, hour_rows in split_by_hour(table):
            part = cluster(hour_rows)
            body = encode_parquet(part)
            total += len(body)
            meta = pq.ParquetFile(io.BytesIO(body)).metadata
            for g in range(meta.num_row_groups):
                for c in range(meta.num_columns):
                    col = meta.row_group(g).column(c)
                    entry = sizes.setdefault(col.path_in_schema, [0, 0])
                    entry[0] += col.total_compressed_size
                    entry[1] += col.total_uncompressed_size
            if number % step:
                continue
            variants["worker_default"] += len(body)
            for name, options in (
                ("zstd_level_19", {**PARQUET_OPTIONS, "compression_level": 19}),
                (
                    "timestamp_delta_no_dictionary",
                    {
                        **PARQUET_OPTIONS,
                        "use_dictionary": [c for c in part.column_names if c != TIMESTAMP],
                        "column_encoding": {TIMESTAMP: "DELTA_BINARY_PACKED"},
                    },
                ),
            ):
                sink = io.BytesIO()
                pq.write_table(part, sink, **options)
                variants[name] += len(sink.getvalue())
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1][0])
    return {
        "parquet_bytes": total,
        "columns": len(sizes),
        "top_columns": [
            {
                "column": name,
                "compressed_bytes": comp,
                "share": r4(comp / total),
                "bytes_per_record": r3(comp / rows),
                "uncompressed_bytes": unc,
            }
            for name, (comp, unc) in ranked[:top]
        ],
        "other_columns_share": r4(sum(c for _n, (c, _u) in ranked[top:]) / total),
        "footer_and_headers_share": r4(1 - sum(c for _n, (c, _u) in ranked) / total),
        "writer_whatifs_every_nth_batch": step,
        "writer_whatifs_bytes": variants,
    }


def storage(
    data: Data, bounds: list[tuple[int, int]], parquet_bytes: int, files: int, *, zstd19: str, quiet: bool
) -> dict[str, Any]:
    canonical = data.canonical_batches(bounds)
    raw = list(data.raw_batches(bounds))
    progress(f"zstd of {len(bounds)} batches", quiet)
    z3_canonical = sum(len(cramjam.zstd.compress(b, level=3)) for b in canonical)
    z3_raw = sum(len(cramjam.zstd.compress(b, level=3)) for b in raw)
    raw_bytes, canonical_bytes = len(data.raw), len(data.canonical)
    out: dict[str, Any] = {
        "batches": len(bounds),
        "parquet_files": files,
        "parquet_bytes": parquet_bytes,
        "raw_ndjson_bytes": raw_bytes,
        "canonical_ndjson_bytes": canonical_bytes,
        "zstd3_raw_bytes": z3_raw,
        "zstd3_canonical_bytes": z3_canonical,
        "parquet_bytes_per_record": r3(parquet_bytes / data.records),
        "parquet_to_raw": r4(parquet_bytes / raw_bytes),
        "parquet_to_canonical": r4(parquet_bytes / canonical_bytes),
        "parquet_to_zstd3_raw": r4(parquet_bytes / z3_raw),
        "parquet_to_zstd3_canonical": r4(parquet_bytes / z3_canonical),
        "raw_to_parquet_x": r3(raw_bytes / parquet_bytes),
        "zstd3_raw_x": r3(raw_bytes / z3_raw),
        "zstd3_canonical_x": r3(canonical_bytes / z3_canonical),
    }
    if zstd19 != "none":
        step = 1 if zstd19 == "all" else max(1, len(bounds) // ZSTD_SAMPLE_BATCHES)
        picked = list(range(0, len(bounds), step))
        progress(f"zstd -19 of {len(picked)} batches", quiet)
        z19_c = sum(len(cramjam.zstd.compress(canonical[i], level=19)) for i in picked)
        z19_r = sum(len(cramjam.zstd.compress(raw[i], level=19)) for i in picked)
        z3_c_s = sum(len(cramjam.zstd.compress(canonical[i], level=3)) for i in picked)
        in_c = sum(len(canonical[i]) for i in picked)
        in_r = sum(len(raw[i]) for i in picked)
        out["zstd19"] = {
            "batches_compressed": len(picked),
            "every_nth_batch": step,
            "zstd19_raw_x": r3(in_r / z19_r),
            "zstd19_canonical_x": r3(in_c / z19_c),
            "zstd19_vs_zstd3_canonical": r4(z19_c / z3_c_s),
            # Scaled to the whole dataset by the sample's ratio (exact when every batch is compressed).
            "zstd19_raw_bytes_est": round(raw_bytes * z19_r / in_r),
            "zstd19_canonical_bytes_est": round(canonical_bytes * z19_c / in_c),
            "parquet_to_zstd19_raw_est": r4(parquet_bytes / (raw_bytes * z19_r / in_r)),
        }
    return out


# ---------------------------------------------------------------- ingest function


def request_bodies(data: Data, body_bytes: int, count: int) -> list[bytes]:
    """Consecutive bodies of whole raw NDJSON records, each at most body_bytes."""
    bodies, start, ends = [], 0, data.raw_ends
    i = 0
    while len(bodies) < count and i < data.records:
        first = i
        while i < data.records and ends[i] - start <= body_bytes:
            i += 1
        if i == first:
            i += 1
        bodies.append(data.raw[start : ends[i - 1]])
        start = ends[i - 1]
    return bodies


class _NoTable:
    """Stands in for DynamoDB in the CPU-only run of Ingestor.submit: nothing is stored."""

    name = "none"

    def get(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class _CpuIngestor(Ingestor):
    """Ingestor.submit with the AWS parts taken out: the message is built, not sent."""

    def _send(self, message: envelope.IngestMessage, payload: bytes) -> None:
        inline = envelope.inline(payload)
        dataclasses.replace(message, payload_b64=inline).to_json()


def json_floor(body: bytes) -> bytes:
    """The least a JSON-in, JSON-out function can do: parse each line, serialise, zstd."""
    records = [orjson.loads(line) for line in body.split(b"\n") if line]
    return bytes(cramjam.zstd.compress(b"\n".join(orjson.dumps(r) for r in records) + b"\n", level=3))


def ingest_cpu(bodies: list[bytes], quiet: bool, top: int) -> dict[str, Any]:  # noqa: PLR0915
    progress(f"(d1) ingest CPU part on {len(bodies)} bodies", quiet)
    from molesignal.auth.principal import Principal, Role

    principal = Principal(org_id=ORG, user_id="bench", role=Role.INGEST, kind="api_token", credential_id="bench")
    ingestor = _CpuIngestor(table=_NoTable())  # type: ignore[arg-type]
    keys = (
        "floor",
        "parse",
        "normalize",
        "encode",
        "d1",
        "submit_cpu",
        "columnar",
        "columnar_handing_over",
        "submit_body_cpu",
    )
    rows: dict[str, list[float]] = {k: [] for k in keys}
    for n, body in enumerate(bodies):

        def floor(body: bytes = body) -> None:
            t0 = time.perf_counter()
            json_floor(body)
            rows["floor"].append(time.perf_counter() - t0)

        def spec_steps(body: bytes = body) -> None:
            gc.collect()
            t0 = time.perf_counter()
            items = parse_json_records(body)
            t1 = time.perf_counter()
            records = []
            for _index, raw in items:  # as Ingestor.submit does per record
                check_stream_name(STREAM_NAME)
                records.append(normalize(raw, received_us=RECEIVED_US))
            t2 = time.perf_counter()
            envelope.encode_records(records)
            t3 = time.perf_counter()
            rows["parse"].append(t1 - t0)
            rows["normalize"].append(t2 - t1)
            rows["encode"].append(t3 - t2)
            rows["d1"].append(t3 - t0)

        def submit(body: bytes = body) -> None:
            gc.collect()
            t0 = time.perf_counter()
            items = parse_json_records(body)
            result = ingestor.submit(principal, ((i, STREAM_NAME, raw) for i, raw in items))
            rows["submit_cpu"].append(time.perf_counter() - t0)
            if result.rejected:
                raise SystemExit(f"ingest CPU run rejected records: {result.rejections[:3]}")

        def column_wise(body: bytes = body) -> None:
            """ADR 0022 as it was: Arrow reads and checks the body, whose zstd goes to the worker as it is."""
            gc.collect()
            t0 = time.perf_counter()
            if columnar.read(body, RECEIVED_US) is None:
                raise SystemExit("a benchmark body did not take the column-wise path")
            envelope.compress(body.strip())
            rows["columnar"].append(time.perf_counter() - t0)

        def handing_over(body: bytes = body) -> None:
            """ADR 0028: Arrow reads and checks the body, and its columns go to the worker
            (Arrow IPC, zstd 1) unless a double was written as an integer."""
            gc.collect()
            t0 = time.perf_counter()
            columns = columnar.read(body, RECEIVED_US)
            if columns is None:
                raise SystemExit("a benchmark body did not take the column-wise path")
            columnar.hand_over(columns, body, RECEIVED_US)
            rows["columnar_handing_over"].append(time.perf_counter() - t0)

        def submit_body(body: bytes = body) -> None:
            gc.collect()
            t0 = time.perf_counter()
            result = ingestor.submit_body(principal, STREAM_NAME, body)
            rows["submit_body_cpu"].append(time.perf_counter() - t0)
            if result.rejected:
                raise SystemExit(f"ingest CPU run rejected records: {result.rejections[:3]}")

        steps: list[Callable[[], None]] = [floor, spec_steps, submit, column_wise, handing_over, submit_body]
        for step in steps[n % len(steps) :] + steps[: n % len(steps)]:
            step()
    profiler = cProfile.Profile()
    for body in bodies[:5]:
        profiler.enable()
        records = [normalize(raw, received_us=RECEIVED_US) for _i, raw in parse_json_records(body)]
        envelope.encode_records(records)
        profiler.disable()
    med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
    return {
        "profile_5_bodies": profile_top(profiler, top),
        "bodies": len(bodies),
        "body_bytes_mean": round(statistics.mean(map(len, bodies))),
        "records_per_body_mean": round(statistics.mean(b.count(b"\n") for b in bodies)),
        "ms_median": {k: r3(v) for k, v in med.items()},
        "ms_min": {k: r3(min(v) * 1000) for k, v in rows.items()},
        "d1_ms_per_mib": r3(med["d1"] * MIB / statistics.mean(map(len, bodies))),
        "columnar_ms_per_mib": r3(med["columnar"] * MIB / statistics.mean(map(len, bodies))),
        "columnar_handing_over_ms_per_mib": r3(med["columnar_handing_over"] * MIB / statistics.mean(map(len, bodies))),
        "submit_cpu_ms_per_mib": r3(med["submit_cpu"] * MIB / statistics.mean(map(len, bodies))),
        "submit_body_cpu_ms_per_mib": r3(med["submit_body_cpu"] * MIB / statistics.mean(map(len, bodies))),
        "submit_body_to_submit": r3(med["submit_body_cpu"] / med["submit_cpu"]),
        "d1_to_floor": r3(med["d1"] / med["floor"]),
        "submit_cpu_to_floor": r3(med["submit_cpu"] / med["floor"]),
        "mb_per_s_d1": r3(statistics.mean(map(len, bodies)) / MB / (med["d1"] / 1000)),
        "samples_ms": {k: [r3(x * 1000) for x in v] for k, v in rows.items()},
    }


def ingest_function(bodies: list[bytes], requests: int, quiet: bool, top: int) -> dict[str, Any]:  # noqa: PLR0915
    """(d2) The ingest Lambda handler: end to end through the local gateway (HTTP API 2.0
    events, authorizer, Mangum, FastAPI) and the handler alone, against the embedded emulator."""
    import httpx

    import registry
    from molesignal import routing
    from molesignal.local.loader import load_handler
    from molesignal.local.system import LocalSystem
    from molesignal.settings import get_settings, reset_settings

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbench{uuid.uuid4().hex[:6]}"
    reset_settings()
    progress("(d2) starting the local system (moto emulator + gateway)", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    # The handlers still format their log lines (as on Lambda), into /dev/null rather than over the table.
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
            json={"ingest_qps": 100_000, "query_qps": 1000, "storage_bytes": 10**15},
            headers={"Authorization": f"Bearer {root['access_token']}"},
        )
        # Not essential: one request at a time stays under the default 50 requests/s.
        quota_raised = quota.is_success or f"failed: {quota.status_code} {quota.text[:200]}"
        admin = http.post("/api/v1/auth/login", json={"user": "bench", "password": admin_password}).json()
        created = http.post(
            "/api/v1/tokens",
            json={"name": "bench", "role": "ingest"},
            headers={"Authorization": f"Bearer {admin['access_token']}"},
        )
        created.raise_for_status()
        headers = {"Authorization": f"Bearer {created.json()['token']}", "Content-Type": "application/x-ndjson"}
        path = f"/api/v1/ingest/{STREAM_NAME}"

        def post(body: bytes) -> None:
            response = http.post(path, content=body, headers=headers)
            if response.status_code != 202 or response.json()["accepted"] != body.count(b"\n"):
                raise SystemExit(f"ingest request failed: {response.status_code} {response.text[:300]}")

        for body in bodies[:3]:  # warm-up: first AWS clients, first queue URL lookup
            post(body)

        gateway = system.gateway
        found = routing.match([r for r, _ in gateway.routes], "POST", path) if gateway else None
        if gateway is None or found is None:
            raise SystemExit(f"no gateway route for POST {path}")
        route, params = found
        function = next(f for r, f in gateway.routes if r is route)
        ingest_handler = load_handler(function.handler)
        authorizer = load_handler(registry.REGISTRY.authorizer.handler)
        authorizer_context = gateway._context(registry.REGISTRY.authorizer)

        def event_for(body: bytes) -> dict[str, Any]:
            scope = {
                "type": "http",
                "method": "POST",
                "path": path,
                "query_string": b"",
                "http_version": "1.1",
                "client": ("127.0.0.1", 40000),
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
                + [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())],
            }
            return gateway._event(scope, body, route, params)

        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum runs the app on this thread's loop
        rows: dict[str, list[float]] = {"end_to_end": [], "authorizer": [], "handler": []}
        aws: dict[str, list[float]] = {"end_to_end": [], "handler": []}
        ops: dict[str, int] = {}
        progress(f"(d2) {requests} requests end to end and {requests} handler calls", quiet)
        with AwsCallTimer() as timer:
            for n in range(requests):
                body = bodies[n % len(bodies)]
                order = ("e2e", "direct") if n % 2 == 0 else ("direct", "e2e")
                for kind in order:
                    gc.collect()
                    timer.take()
                    if kind == "e2e":
                        t0 = time.perf_counter()
                        post(body)
                        rows["end_to_end"].append(time.perf_counter() - t0)
                        aws["end_to_end"].append(sum(c[2] for c in timer.take()))
                        continue
                    event = event_for(body)
                    t0 = time.perf_counter()
                    verdict = authorizer(gateway._authorizer_event(event), authorizer_context)
                    t1 = time.perf_counter()
                    timer.take()
                    event["requestContext"]["authorizer"] = {"lambda": verdict.get("context") or {}}
                    t2 = time.perf_counter()
                    result = ingest_handler(event, gateway._context(function))
                    t3 = time.perf_counter()
                    calls = timer.take()
                    if result.get("statusCode") != 202:
                        raise SystemExit(f"ingest handler answered {result.get('statusCode')}: {result.get('body')}")
                    rows["authorizer"].append(t1 - t0)
                    rows["handler"].append(t3 - t2)
                    aws["handler"].append(sum(c[2] for c in calls))
                    for service, op, _s in calls:
                        ops[f"{service}:{op}"] = ops.get(f"{service}:{op}", 0) + 1
            progress("(d2) profiling 5 handler calls", quiet)
            profiler = cProfile.Profile()
            for body in bodies[:5]:
                event = event_for(body)
                verdict = authorizer(gateway._authorizer_event(event), authorizer_context)
                event["requestContext"]["authorizer"] = {"lambda": verdict.get("context") or {}}
                profiler.enable()
                ingest_handler(event, gateway._context(function))
                profiler.disable()
        med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
        aws_med = {k: statistics.median(v) * 1000 for k, v in aws.items()}
        mean_body = statistics.mean(map(len, bodies))
        return {
            "requests": requests,
            "body_bytes_mean": round(mean_body),
            "endpoint": get_settings().aws_endpoint_url,
            "quota_raised": quota_raised,
            "ms_median": {k: r3(v) for k, v in med.items()},
            "aws_ms_median": {k: r3(v) for k, v in aws_med.items()},
            "ms_min": {k: r3(min(v) * 1000) for k, v in rows.items()},
            "aws_ms_min": {k: r3(min(v) * 1000) for k, v in aws.items()},
            "aws_calls_per_handler_call": {k: round(v / requests, 2) for k, v in sorted(ops.items())},
            "handler_ms_per_mib": r3(med["handler"] * MIB / mean_body),
            "end_to_end_ms_per_mib": r3(med["end_to_end"] * MIB / mean_body),
            "samples_ms": {k: [r3(x * 1000) for x in v] for k, v in rows.items()},
            "aws_samples_ms": {k: [r3(x * 1000) for x in v] for k, v in aws.items()},
            "profile_5_handler_calls": profile_top(profiler, top),
        }
    finally:
        system.stop()
        logger.registered_handler.setStream(previous_stream)  # type: ignore[union-attr]
        devnull.close()


# ---------------------------------------------------------------- report


def print_throughput(title: str, rows: dict[str, Any]) -> None:
    print(f"\n{title}")
    header = f"  {'measure':<50} {'wall s':>7} {'cpu s':>7} {'MB/s':>7} {'rec/s':>8} {'MB/cpu-s':>8}"
    header += f" {'cores':>5} {'ratio':>6} {'cpu':>5} {'min/min':>7} {'Parquet MB':>10}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in rows.values():
        print(
            f"  {row['label']:<50} {row['wall_s_median']:>7.2f} {row['cpu_s_median']:>7.2f} {row['mb_per_s']:>7.1f} "
            f"{row['records_per_s']:>8,} {row['mb_per_cpu_s']:>8.1f} {row['cores_used']:>5.2f} "
            f"{row.get('ratio_to_baseline', 1):>6.2f} {row.get('cpu_ratio_to_baseline', 1):>5.2f} "
            f"{row.get('ratio_of_min', 1):>7.2f} {row['parquet_bytes'] / MB:>10.1f}"
        )
    busy = sum(1 for row in rows.values() for x in row["samples"] if x["wall_s"] > 1.1 * x["cpu_s"])
    if busy and "1 thread" in title:
        print(f"  note: {busy} sample(s) took > 1.1x their CPU time in wall time: the machine was busy")


def print_report(result: dict[str, Any]) -> None:
    d = result["dataset"]
    print(
        f"\ndataset: {d['raw']['records']:,} records, raw NDJSON {d['raw']['bytes'] / MB:.1f} MB "
        f"({d['raw']['record_bytes_mean']:.0f} B/record), canonical NDJSON {d['canonical']['bytes'] / MB:.1f} MB "
        f"({d['canonical']['record_bytes_mean']:.0f} B/record)"
    )
    p = result["parameters"]
    for block in result["throughput"].values():
        print_throughput(f"{block['title']} — {block['batches']} batches, {block['rounds']} round(s)", block["rows"])
    stages = result["worker_stages"]
    print(
        f"\nworker stages (one pass, {p['chunk_mib']} MiB batches): "
        + ", ".join(f"{k} {v:.0%}" for k, v in stages["share_of_worker_path"].items())
        + "; to_table = "
        + ", ".join(f"{k} {v:.0%}" for k, v in stages["to_table_split"].items())
        + f"; {stages['batches_through_slow_fallback']}/{stages['batches']} batches took the orjson fallback"
    )
    print("\nstored bytes (worker Parquet vs NDJSON, same batches):")
    for key, s in result["storage"].items():
        line = (
            f"  {key:<10} {s['batches']:>4} batches {s['parquet_files']:>4} files:"
            f" Parquet {s['parquet_bytes'] / MB:8.2f} MB"
            f" = 1/{s['raw_to_parquet_x']:.1f} of raw, {s['parquet_to_canonical']:.3f} of canonical;"
            f" zstd-3 raw 1/{s['zstd3_raw_x']:.1f}, canonical 1/{s['zstd3_canonical_x']:.1f};"
            f" Parquet/zstd-3 = {s['parquet_to_zstd3_raw']:.2f} (raw),"
            f" {s['parquet_to_zstd3_canonical']:.2f} (canonical)"
        )
        print(line)
        if "zstd19" in s:
            z = s["zstd19"]
            print(
                f"  {'':<10} zstd-19 ({z['batches_compressed']} of {s['batches']} batches):"
                f" raw 1/{z['zstd19_raw_x']:.1f}, "
                f"canonical 1/{z['zstd19_canonical_x']:.1f}; Parquet/zstd-19 raw ≈ {z['parquet_to_zstd19_raw_est']:.2f}"
            )
    cols = result["parquet_columns"]
    print(
        "  biggest columns: "
        + ", ".join(
            f"{c['column']} {c['share']:.0%} ({c['bytes_per_record']:.1f} B/rec)" for c in cols["top_columns"][:8]
        )
    )
    w = cols["writer_whatifs_bytes"]
    print(
        f"  writer settings (info, same tables, every {cols['writer_whatifs_every_nth_batch']}th batch): "
        + ", ".join(f"{k} {v / w['worker_default']:.3f}x" for k, v in w.items() if k != "worker_default")
    )
    for key in ("ingest_cpu", "ingest_function"):
        if "error" in result.get(key, {}):
            print(f"\n{key}: FAILED: {result[key]['error']}")
    if "ms_median" in result.get("ingest_cpu", {}):
        c = result["ingest_cpu"]
        m = c["ms_median"]
        print(
            f"\n(d1) ingest CPU per request ({c['body_bytes_mean'] / MIB:.2f} MiB,"
            f" {c['records_per_body_mean']} records):"
            f" parse {m['parse']:.1f} + normalize {m['normalize']:.1f} + encode {m['encode']:.1f} = {m['d1']:.1f} ms"
            f" ({c['d1_ms_per_mib']:.1f} ms/MiB, {c['mb_per_s_d1']:.1f} MB/s);"
            f" Ingestor.submit without AWS {m['submit_cpu']:.1f} ms;"
            f" floor (orjson loads+dumps+zstd) {m['floor']:.1f} ms → {c['d1_to_floor']:.2f}x"
        )
        m = c["ms_min"]
        print(
            f"     fastest: parse {m['parse']:.1f} + normalize {m['normalize']:.1f} + encode {m['encode']:.1f}"
            f" = {m['d1']:.1f} ms; submit without AWS {m['submit_cpu']:.1f} ms; floor {m['floor']:.1f} ms"
        )
    if "ms_median" in result.get("ingest_function", {}):
        f = result["ingest_function"]
        m, a = f["ms_median"], f["aws_ms_median"]
        print(
            f"(d2) 1 MiB request: end to end {m['end_to_end']:.1f} ms (AWS calls {a['end_to_end']:.1f}),"
            f" authorizer {m['authorizer']:.1f} ms, ingest handler {m['handler']:.1f} ms"
            f" (AWS calls {a['handler']:.1f} ms: "
            + ", ".join(f"{k} x{v:g}" for k, v in f["aws_calls_per_handler_call"].items())
            + ")"
        )
        m, a = f["ms_min"], f["aws_ms_min"]
        print(
            f"     fastest: end to end {m['end_to_end']:.1f} ms, authorizer {m['authorizer']:.1f} ms,"
            f" handler {m['handler']:.1f} ms; AWS calls in the handler {a['handler']:.1f} ms at the fewest"
        )
    print("\ntargets:")
    for t in result["targets"]:
        print(f"  {t['status']:<4}  {t['name']}: {t['value']:.3f} (target {t['target']})")


def judge(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = result["throughput"]["single_thread"]["rows"]
    primary = result["storage"]["primary"]
    ratio = rows["worker"]["ratio_to_baseline"]
    z3 = min(primary["zstd3_raw_bytes"], primary["zstd3_canonical_bytes"])
    return [
        {
            "name": "worker throughput / pyarrow baseline (1 thread, wall medians)",
            "value": ratio,
            "target": f">= {TARGET_WORKER_RATIO}",
            "status": "PASS" if ratio >= TARGET_WORKER_RATIO else "FAIL",
        },
        {
            "name": "stored Parquet / raw NDJSON",
            "value": primary["parquet_to_raw"],
            "target": f"<= {TARGET_RAW_RATIO}",
            "status": "PASS" if primary["parquet_to_raw"] <= TARGET_RAW_RATIO else "FAIL",
        },
        {
            "name": "stored Parquet / zstd-3 NDJSON (the smaller of raw and canonical)",
            "value": r4(primary["parquet_bytes"] / z3),
            "target": "< 1",
            "status": "PASS" if primary["parquet_bytes"] < z3 else "FAIL",
        },
    ]


def machine_info(default_threads: tuple[int, int]) -> dict[str, Any]:
    return {
        **interpreter_info(
            ("pyarrow", "orjson", "cramjam", "fastapi", "starlette", "mangum", "moto", "boto3", "botocore")
        ),
        "arrow_simd_level": pa.runtime_info().simd_level,
        "arrow_default_cpu_count": default_threads[0],
        "arrow_default_io_thread_count": default_threads[1],
    }


def throughput_block(title: str, measures: list[Measure], batches: list[bytes], rounds: int, records: int) -> dict:
    return {
        "title": title,
        "batches": len(batches),
        "input_bytes": sum(map(len, batches)),
        "rounds": rounds,
        "rows": summarise_measures(measures, sum(map(len, batches)), records),
    }


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=dataset.DEFAULT_RECORDS, help="dataset size (default 1M)")
    parser.add_argument("--seed", type=int, default=dataset.DEFAULT_SEED)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds of (a)/(b) (default %(default)s)")
    parser.add_argument(
        "--chunk-mib", type=float, default=DEFAULT_CHUNK_MIB, help="worker batch, MiB of canonical NDJSON (judged)"
    )
    parser.add_argument(
        "--extra-chunk-mib",
        type=float,
        nargs="*",
        default=list(DEFAULT_EXTRA_CHUNKS_MIB),
        help="other batch sizes, one round each, for information (default: 1 8)",
    )
    parser.add_argument("--no-whole", action="store_true", help="skip the whole dataset as one batch")
    parser.add_argument("--no-threads", action="store_true", help="skip the pair with Arrow's default threads")
    parser.add_argument("--no-function", action="store_true", help="skip (d): the ingest function")
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="(d) requests (default %(default)s)")
    parser.add_argument("--request-mib", type=float, default=1.0, help="(d) request body size (default 1 MiB)")
    parser.add_argument(
        "--zstd19", choices=("sample", "all", "none"), default="sample", help="zstd -19 on a sample of batches"
    )
    parser.add_argument("--top", type=int, default=20, help="profile rows (default %(default)s)")
    parser.add_argument("--profile-batches", type=int, default=8, help="batches profiled with cProfile")
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / f"ingest-{now:%Y-%m-%d}.json",
        help="JSON results file (default bench/results/ingest-<UTC date>.json)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.records < 1000:
        parser.error("--rounds must be at least 1 and --records at least 1000")
    quiet = args.quiet

    default_threads = (pa.cpu_count(), pa.io_thread_count())
    load_start = loadavg()
    started = time.perf_counter()
    data = load_data(args.records, args.seed, quiet)
    records = data.records

    # --- (a)/(b), one thread
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    bounds = data.chunk_bounds(int(args.chunk_mib * MIB))
    batches = data.canonical_batches(bounds)
    progress(f"warm-up pass: {len(batches)} batches of ≤ {args.chunk_mib} MiB, stream schema evolving", quiet)
    schemas, final_schema, slow_batches, warmup_s = evolve_schemas(batches)
    measures = make_measures(batches, schemas, threads=False, raw=list(data.raw_batches(bounds)))
    run_rounds(measures, args.rounds, quiet, "1 thread")
    throughput: dict[str, Any] = {
        "single_thread": throughput_block(
            f"Arrow on 1 thread, {args.chunk_mib:g} MiB batches (judged)", measures, batches, args.rounds, records
        )
    }
    throughput["single_thread"]["warmup_pass_s"] = r3(warmup_s)
    throughput["single_thread"]["batches_through_slow_fallback"] = slow_batches
    progress("worker stage breakdown", quiet)
    stages = stage_breakdown(batches, schemas)
    progress("Parquet bytes per column", quiet)
    columns = parquet_columns(batches, schemas, 15)
    progress("profiling the worker path", quiet)
    worker_profile = profile_worker(batches[: args.profile_batches], schemas[: args.profile_batches], args.top)
    worker_out = measures[0].output
    storage_rows = {
        "primary": storage(
            data, bounds, worker_out["parquet_bytes"], worker_out["files"], zstd19=args.zstd19, quiet=quiet
        )
    }
    storage_rows["primary"]["chunk_mib"] = args.chunk_mib
    del measures

    # --- other batch sizes, for information
    for mib in args.extra_chunk_mib:
        b = data.chunk_bounds(int(mib * MIB))
        extra = data.canonical_batches(b)
        # The steady state: the stream's schema as the primary pass left it, for every batch.
        ms = make_measures(extra, [final_schema] * len(extra), threads=False)[:2]
        run_rounds(ms, 1, quiet, f"{mib:g} MiB batches")
        title = f"Arrow on 1 thread, {mib:g} MiB batches"
        throughput[f"chunk_{mib:g}mib"] = throughput_block(title, ms, extra, 1, records)
        storage_rows[f"{mib:g} MiB"] = storage(
            data, b, ms[0].output["parquet_bytes"], ms[0].output["files"], zstd19="none", quiet=quiet
        )
        del extra, ms
    if not args.no_whole:
        whole = [data.canonical]
        ms = make_measures(whole, [final_schema], threads=False)[:2]
        run_rounds(ms, 1, quiet, "whole dataset as one batch")
        title = "Arrow on 1 thread, the whole dataset as one batch"
        throughput["whole"] = throughput_block(title, ms, whole, 1, records)
        storage_rows["whole"] = storage(
            data, [(0, records)], ms[0].output["parquet_bytes"], ms[0].output["files"], zstd19="none", quiet=quiet
        )
        del ms

    # --- default threads, for information
    if not args.no_threads:
        pa.set_cpu_count(default_threads[0])
        pa.set_io_thread_count(default_threads[1])
        ms = make_measures(batches, schemas, threads=True)[:2]
        run_rounds(ms, 1, quiet, "default threads")
        throughput["default_threads"] = throughput_block(
            f"Arrow default threads ({default_threads[0]} CPU), {args.chunk_mib:g} MiB batches", ms, batches, 1, records
        )
        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
        del ms
    del batches

    result: dict[str, Any] = {
        "benchmark": "ingest",
        "date": now.isoformat(timespec="seconds"),
        "method": (
            "one process; Arrow pinned to 1 thread (pa.set_cpu_count(1), set_io_thread_count(1), baseline "
            "use_threads=False); worker = molesignal.lake.writer prepare + split_by_hour + encode_parquet per batch "
            "of canonical NDJSON with the stream schema evolving batch after batch; baseline = pyarrow.json.read_json "
            "+ pyarrow.parquet.write_table on the same bytes; measures round-robin, each round starting one later; "
            "wall = perf_counter, cpu = process_time; medians; MB = 10^6 bytes of canonical NDJSON input"
        ),
        "parameters": {
            "records": records,
            "seed": args.seed,
            "rounds": args.rounds,
            "chunk_mib": args.chunk_mib,
            "extra_chunk_mib": args.extra_chunk_mib,
            "requests": args.requests,
            "request_mib": args.request_mib,
            "zstd19": args.zstd19,
        },
        "dataset": data.description,
        "throughput": throughput,
        "worker_stages": stages,
        "storage": storage_rows,
        "parquet_columns": columns,
    }
    result["targets"] = judge(result)
    result["profiles"] = {"worker": worker_profile}
    result["machine"] = {**machine_info(default_threads), "loadavg_start": load_start}
    result["git"] = git_info()
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")  # (a)-(c) are kept even if (d) fails
    if not args.no_function:
        bodies = request_bodies(data, int(args.request_mib * MIB), max(args.requests, 5))
        for key, run in (
            ("ingest_cpu", lambda: ingest_cpu(bodies, quiet, args.top)),
            ("ingest_function", lambda: ingest_function(bodies, args.requests, quiet, args.top)),
        ):
            try:
                result[key] = run()
            except Exception as exc:  # a broken local system must not cost the throughput figures
                print(f"{key} failed: {exc!r}", file=sys.stderr)
                result[key] = {"error": repr(exc)}
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["machine"]["loadavg_end"] = loadavg()

    print_report(result)
    missed = [t for t in result["targets"] if t["status"] != "PASS"]
    if missed or worker_profile:
        print(f"\nworker path profile ({worker_profile['batches']} batches, cProfile, top by tottime):")
        for row in worker_profile["by_tottime"][:12]:
            print(
                f"  {row['tottime_s']:8.3f} s self {row['cumtime_s']:8.3f} s cum {row['ncalls']:>9}  {row['function']}"
            )
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {out}")
    if args.check and missed:
        print("missed: " + "; ".join(t["name"] for t in missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
