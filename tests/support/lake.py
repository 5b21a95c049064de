"""Driving the ingest worker from tests: drain the queue through the real poller, then read
what landed through the manifest."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow.parquet as pq

import registry
from molesignal import aws
from molesignal.lake.streams import Streams
from molesignal.local.pollers import QueuePoller
from molesignal.settings import get_settings
from molesignal.storage.table import Table

INGEST_WORKER = next(w for w in registry.REGISTRY.workers if w.name == "ingest_worker")


def queue_depth(logical: str = "ingest", *, visible_only: bool = False) -> int:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().queue_name(logical))["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    hidden = 0 if visible_only else int(attributes["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["ApproximateNumberOfMessages"]) + hidden


@contextmanager
def landing_one_by_one() -> Iterator[None]:
    """``drain_ingest`` hands the worker one message per invocation: each request lands as
    its own file (a batch's requests for one stream share one)."""
    global INGEST_WORKER
    previous = INGEST_WORKER
    INGEST_WORKER = dataclasses.replace(previous, batch_size=1)
    try:
        yield
    finally:
        INGEST_WORKER = previous


def drain_ingest(timeout_s: float = 60) -> int:
    """Run the ingest worker until the queue is empty; returns messages handled."""
    return drain(INGEST_WORKER, timeout_s)


def drain(worker: Any, timeout_s: float, *, visible_only: bool = False) -> int:
    """Run ``worker`` through the real poller until its queue is empty (``visible_only``: until
    nothing is left to receive now); returns messages handled."""
    poller = QueuePoller(worker, wait_seconds=0)
    handled = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = poller.poll_once()
        handled += got
        if got == 0:
            if queue_depth(worker.queue, visible_only=visible_only) == 0:
                return handled
            time.sleep(0.2)
    raise AssertionError(f"the {worker.queue} queue did not drain")


def landed_rows(org_id: str, stream: str) -> list[dict[str, Any]]:
    table = Table()
    s3 = aws.client("s3")
    bucket = get_settings().resource_name("lake")
    rows: list[dict[str, Any]] = []
    for entry in Streams(table).manifest(org_id, stream):
        body = s3.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return sorted(rows, key=lambda r: r["_timestamp"])
