"""Topics benchmark (spec 004): consuming and publishing, each against a baseline in the same run.

    .venv/bin/python bench/topics/consume.py [--messages 20000] [--batch 1000] [--limit 1000]
        [--out bench/results/topics-consume-<date>.json]

Everything goes through the local gateway of an embedded system (DynamoDB is the emulator's):

(a) messages/s consumed per consumer group: two groups read the whole topic at once, each
    ``POST /v1/api/topics/consume`` with ``limit`` followed by ``/ack`` of what it got;
    baseline: the same messages read straight from the table by one DynamoDB ``Query`` per
    page of ``limit`` (the storage alone), in the same run.
(b) DynamoDB requests per 1,000 messages consumed (consume + ack), counted by the AWS call
    timer around every botocore call of the process.
(c) DynamoDB requests per 1,000 messages published: ``INSERT`` of ``--batch`` rows into a
    table that a topic sources, minus the same ``INSERT`` into a table no topic sources,
    alternating statement by statement; and the publishing time that adds per statement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import (
    CODE_PATHS,
    REPO,
    AwsCallTimer,
    access_token,
    git_info,
    host_info,
    interpreter_info,
    loadavg,
    progress,
    r3,
    setup_org_user,
)

for path in CODE_PATHS:
    sys.path.insert(0, str(path))

PASSWORD = "BenchUser1234!"  # noqa: S105 - a throwaway system's


def _dynamodb(calls: list[tuple[str, str, float]]) -> Counter[str]:
    return Counter(operation for service, operation, _ in calls if service == "dynamodb")


class Api:
    def __init__(self, http: Any, token: str) -> None:
        self.http, self.headers = http, {"Authorization": f"Bearer {token}"}

    def sql(self, sql: str) -> Any:
        response = self.http.post("/v1/api/sql", json={"sql": sql}, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{sql[:80]}: {response.text}")
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.text}")
        return dict(response.json())


def _values(first: int, count: int) -> str:
    return ", ".join(f"({i}, 'item-{i}', {i % 7})" for i in range(first, first + count))


def bench_publish(api: Api, timer: AwsCallTimer, args: argparse.Namespace, quiet: bool) -> dict[str, Any]:
    """(c), which also fills the topic that (a) and (b) read."""
    progress(f"publishing {args.messages} messages in INSERTs of {args.batch} rows", quiet)
    with_topic: list[float] = []
    without: list[float] = []
    added: Counter[str] = Counter()
    baseline: Counter[str] = Counter()
    next_id = 0
    for _ in range(args.messages // args.batch):
        for table, seconds, counts in (("app.sourced", with_topic, added), ("app.plain", without, baseline)):
            timer.take()
            started = time.perf_counter()
            api.sql(f"INSERT INTO {table} VALUES {_values(next_id, args.batch)}")  # noqa: S608 - generated numbers
            seconds.append(time.perf_counter() - started)
            counts.update(_dynamodb(timer.take()))
        next_id += args.batch
    published = len(with_topic) * args.batch
    extra = {op: added[op] - baseline[op] for op in sorted(set(added) | set(baseline))}
    return {
        "c_publish": {
            "messages": published,
            "insert_with_topic_p50_ms": r3(statistics.median(with_topic) * 1000),
            "insert_without_topic_p50_ms": r3(statistics.median(without) * 1000),
            "dynamodb_requests_added_per_1000_messages": r3(sum(extra.values()) * 1000 / published),
            "dynamodb_requests_added_by_operation": extra,
        }
    }


def _consume_group(api: Api, topic: str, group: str, total: int, limit: int, out: dict[str, Any]) -> None:
    started = time.perf_counter()
    got = 0
    start: Any = "Earliest"
    while got < total:
        page = api.post(
            "/v1/api/topics/consume", {"topic_id": topic, "group_id": group, "start": start, "limit": limit}
        )
        messages = page["messages"]
        if not messages:
            raise RuntimeError(f"group {group} stopped at {got} of {total}")
        got += len(messages)
        api.post("/v1/api/topics/ack", {"topic_id": topic, "group_id": group, "upto_offset": messages[-1]["offset"]})
    out[group] = {"messages": got, "seconds": r3(time.perf_counter() - started)}


def bench_consume(api: Api, timer: AwsCallTimer, topic: str, args: argparse.Namespace, quiet: bool) -> dict[str, Any]:
    from molesignal.storage.table import Table
    from molesignal.topics.catalog import Topics
    from molesignal.topics.log import TopicLog

    total = (args.messages // args.batch) * args.batch
    progress(f"two groups consuming {total} messages each, pages of {args.limit}", quiet)
    timer.take()
    groups: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_consume_group, args=(api, topic, f"group-{n}", total, args.limit, groups))
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = _dynamodb(timer.take())
    consumed = sum(g["messages"] for g in groups.values())

    progress("baseline: the same pages read straight from DynamoDB", quiet)
    table = Table()
    definition = Topics(table).get(args.org, topic)
    log = TopicLog(table)
    started = time.perf_counter()
    offset = 0
    while offset < total:
        page = log.read(definition, 0, offset, args.limit)
        offset = page[-1].offset + 1
    raw_seconds = time.perf_counter() - started
    per_group = {name: r3(g["messages"] / g["seconds"]) for name, g in sorted(groups.items())}
    return {
        "a_consume": {
            "messages_per_group": total,
            "messages_per_s_per_group": per_group,
            "baseline_raw_query_messages_per_s": r3(total / raw_seconds),
            "ratio_to_baseline": r3(statistics.fmean(per_group.values()) / (total / raw_seconds)),
        },
        "b_consume_requests": {
            "dynamodb_requests_per_1000_messages": r3(sum(calls.values()) * 1000 / consumed),
            "by_operation": dict(sorted(calls.items())),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per INSERT")
    parser.add_argument("--limit", type=int, default=1000, help="consume page size")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    quiet = args.quiet

    import httpx

    import registry
    from molesignal.local.system import LocalSystem
    from molesignal.observability import logger
    from molesignal.settings import reset_settings

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["MOLESIGNAL_RESOURCE_PREFIX"] = f"msbenchtopics{uuid.uuid4().hex[:6]}"
    reset_settings()
    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[union-attr]  # noqa: SIM115
    progress("starting the local system", quiet)
    system = LocalSystem(registry.REGISTRY, port=0, emulator_port=0, run_pollers=False, run_scheduler=False).start()
    result: dict[str, Any] = {
        "benchmark": "topics-consume",
        "when": datetime.now(UTC).isoformat(),
        "git": git_info(),
        "host": host_info(),
        "interpreter": interpreter_info(["moto", "boto3", "httpx"]),
        "load_before": loadavg(),
        "parameters": vars(args) | {"out": str(args.out) if args.out else None},
    }
    try:
        http = httpx.Client(base_url=system.url, timeout=600)
        args.org = "bench-topics"
        setup_org_user(http, args.org, "dba", "dba", PASSWORD)
        token = access_token(http, "dba", PASSWORD)
        api = Api(http, token)
        api.sql("CREATE NAMESPACE app")
        for name in ("sourced", "plain"):
            api.sql(f"CREATE SHARED TABLE app.{name} (id BIGINT PRIMARY KEY, item TEXT, qty INT)")
        api.sql("CREATE TOPIC orders PARTITIONS 1")
        api.sql("ALTER TOPIC orders ADD SOURCE app.sourced ON INSERT")
        with AwsCallTimer() as timer:
            result |= bench_publish(api, timer, args, quiet)
            result |= bench_consume(api, timer, "orders", args, quiet)
    finally:
        system.stop()
    result["load_after"] = loadavg()
    del args.org
    out = args.out or REPO / "bench" / "results" / f"topics-consume-{datetime.now(UTC):%Y-%m-%d}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k[:2] in ("a_", "b_", "c_")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
