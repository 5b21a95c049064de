"""The health of each backing service (spec 004's ``GET /v1/api/cluster/health``).

KalamDB reports its Raft nodes there; MoleSignal has no nodes, its "cluster" is the stores
every function depends on: the single table, the buckets, the queues and their dead-letter
queues. Each is probed with the cheapest read its role may make (a GetItem of a key that
never exists, HeadBucket, GetQueueAttributes), all at once, each with its own latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from molesignal import aws
from molesignal.resources import RESOURCES
from molesignal.settings import get_settings
from molesignal.storage.table import Table

HEALTHY, DEGRADED, UNAVAILABLE = "healthy", "degraded", "unavailable"
_PROBE_KEY = "HEALTH#probe"  # never written: a read of it costs one item read


@dataclass(frozen=True)
class Probe:
    kind: str  # table, bucket, queue, dlq
    logical: str
    name: str
    run: Callable[[], dict[str, Any]]


def _table_probe(table: Table) -> dict[str, Any]:
    table.get(_PROBE_KEY, _PROBE_KEY, consistent=False)
    return {}


def _bucket_probe(name: str) -> dict[str, Any]:
    aws.client("s3").head_bucket(Bucket=name)
    return {}


def _queue_probe(name: str) -> dict[str, Any]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return {
        "depth": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def probes(table: Table) -> list[Probe]:
    settings = get_settings()
    found = [Probe("table", "table", table.name, partial(_table_probe, table))]
    for bucket in RESOURCES.buckets:
        name = settings.resource_name(bucket.logical)
        found.append(Probe("bucket", bucket.logical, name, partial(_bucket_probe, name)))
    for queue in RESOURCES.queues:
        for kind, logical in (("queue", queue.logical), ("dlq", queue.dlq_logical)):
            name = settings.queue_name(logical)
            found.append(Probe(kind, logical, name, partial(_queue_probe, name)))
    return found


def _run(probe: Probe) -> dict[str, Any]:
    started = time.perf_counter()
    entry: dict[str, Any] = {"kind": probe.kind, "name": probe.logical, "resource": probe.name}
    try:
        entry.update(probe.run())
        entry["status"] = HEALTHY
        if probe.kind == "dlq" and entry.get("depth", 0) > 0:
            entry["status"] = DEGRADED  # messages that failed every delivery wait for a redrive
    except Exception as exc:  # every failure is the answer here, never a 500
        entry["status"] = UNAVAILABLE
        entry["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return entry


def check(table: Table) -> dict[str, Any]:
    """``{status, services: [...]}``: unavailable if any store is, degraded if a DLQ holds messages."""
    started = time.perf_counter()
    found = probes(table)
    with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
        services = list(pool.map(_run, found))
    statuses = {s["status"] for s in services}
    status = UNAVAILABLE if UNAVAILABLE in statuses else DEGRADED if DEGRADED in statuses else HEALTHY
    return {"status": status, "services": services, "took": round((time.perf_counter() - started) * 1000, 3)}
