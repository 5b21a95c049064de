"""The embedded AWS emulator's cost per request: requests served per CPU-second of the emulator
process, for the calls the ingest path makes (DynamoDB, SQS, S3).

Each ``--trees`` entry is a checkout (default: this one); for each round and each tree the
script starts ``python -m molesignal emulator`` from that tree's code (a fresh durable data
directory, fsync as ``make dev`` has it), creates the single table as ``provision`` does, and
runs ``--clients`` threads of boto3 calls per workload:

* ``get_item`` — the authorizer's token read (``GetItem``, consistent);
* ``update_item`` — the rate window (``UpdateItem ADD #n :one SET expires_at = :exp``,
  ``ReturnValues=ALL_NEW``);
* ``transact_write_items`` — a worker commit's shape: two conditional Puts, an Update with a
  condition, a ConditionCheck;
* ``query`` — one partition of 20 items, ``begins_with`` on the sort key;
* ``commit`` — the ingest worker's commit as ``lake/writer.py`` sends it: four landed
  markers, a manifest entry, the conditional Delete of the file's pending-GC record, the
  stream's Update (its whole schema, 100 fields, under ``version = :current``) and the
  storage-usage Update;
* ``sqs_send`` — the ingest function's hand-over: ``SendMessage`` of a 200 KB body;
* ``sqs_receive_delete`` — the worker's ``ReceiveMessage`` of one such message, then
  ``DeleteMessageBatch`` (the queue is filled before, outside the measurement);
* ``s3_put`` / ``s3_get`` — a 400 KB Parquet-sized object written, then read back.

The SQS and S3 workloads make a tenth of ``--requests`` (their bodies are large).

The e2e benchmark's counts per MiB (``docs/performance.md``, ADR 0033) turn these into the
emulator's CPU per MiB by operation.

It reads the emulator process's user + kernel CPU (``/proc``) before and after each workload:
**requests per CPU-second** is the figure (the client side's CPU is not counted; the wall
time is reported too). Trees alternate within each round, so a noisy machine hits both alike;
the ratio of medians is the result.

    .venv/bin/python bench/emulator/run.py --trees /tmp/base,. --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "layers" / "core" / "python"):  # the client side's code: this tree's
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

import boto3  # noqa: E402
from bench.common import git_info, interpreter_info, loadavg, progress, r3, tree_cpu_s  # noqa: E402
from botocore.config import Config  # noqa: E402

from molesignal.lake.writer import STREAM_COMMIT_NAMES, STREAM_COMMIT_UPDATE  # noqa: E402
from molesignal.provision import create_table_request  # noqa: E402
from molesignal.resources import RESOURCES  # noqa: E402

RESULTS_DIR = REPO / "bench" / "results"
TABLE = "bench-table"
DUMMY_KEY = "testing"  # the emulator checks no signatures
BUCKET = "bench-bucket"
QUEUE = "bench-queue"
WORKLOADS = (
    "get_item",
    "update_item",
    "transact_write_items",
    "query",
    "commit",
    "sqs_send",
    "sqs_receive_delete",
    "s3_put",
    "s3_get",
)
SCHEMA = {"M": {f"field_{i:03d}": {"S": "string" if i % 3 else "int64"} for i in range(100)}}
MESSAGE = "A" * 200_000  # a base64 Arrow payload's size
OBJECT = os.urandom(400_000)  # a Parquet file's size (incompressible, as Parquet nearly is)


def start_emulator(tree: Path, port: int, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree / "layers" / "core" / "python")
    argv = [sys.executable, "-m", "molesignal", "emulator", "--port", str(port), "--data-dir", data_dir]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=tree)
    if process.stdout is None:
        raise RuntimeError("no pipe to the emulator")
    ready = json.loads(process.stdout.readline() or b"{}")
    if "url" not in ready:
        process.kill()
        raise RuntimeError(f"the emulator from {tree} did not start: {ready}")
    return process, str(ready["url"])


def client(url: str, clients: int, service: str = "dynamodb") -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_KEY,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=max(10, clients)),
    )


def create_table(ddb: Any) -> None:
    ddb.create_table(**create_table_request(RESOURCES.table, TABLE))  # the single table, as provisioned
    token = {
        "pk": {"S": "TOKEN#abc"},
        "sk": {"S": "TOKEN"},
        "org_id": {"S": "acme"},
        "user": {"S": "bench"},
        "role": {"S": "ingester"},
        "scopes": {"L": [{"S": "ingest"}, {"S": "query"}]},
        "created_us": {"N": "1765000000000000"},
        "owner_state": {"M": {"disabled": {"BOOL": False}, "role": {"S": "admin"}}},
    }
    ddb.put_item(TableName=TABLE, Item=token)
    for n in range(20):
        ddb.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "STREAM#acme#logs"}, "sk": {"S": f"FILE#{n:04d}"}, "bytes": {"N": str(1000 + n)}},
        )


def commit(ddb: Any, tag: str, client_no: int, step: int) -> None:
    """The worker's commit (``lake/writer.py``): markers, manifest, GC release, stream, usage."""
    key = f"{tag}-{client_no}-{step}"
    stream_key = {"pk": {"S": "ORG#acme"}, "sk": {"S": f"STREAM#{tag}-{client_no}"}}
    condition = "version = :current" if step else "attribute_not_exists(pk)"
    values: dict[str, Any] = {
        ":schema": SCHEMA,
        ":next": {"N": str(step + 1)},
        ":first": {"N": "1795419095935733"},
        ":last": {"N": str(1795420160035306 + step)},
        ":name": {"S": f"{tag}-{client_no}"},
        ":org": {"S": "acme"},
        ":now": {"N": "1796624847395917"},
        ":cap": {"N": "1000"},
        ":retention": {"N": "30"},
        ":rows": {"N": "5056"},
        ":bytes": {"N": "399845"},
        ":files": {"N": "1"},
        ":kind": {"S": "stream"},
    }
    if step:
        values[":current"] = {"N": str(step)}
    markers = [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"pk": {"S": f"LANDED#acme#{key}-{m}"}, "sk": {"S": "LANDED"}, "rows": {"N": "5056"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for m in range(4)
    ]
    manifest = {
        "Put": {
            "TableName": TABLE,
            "Item": {
                "pk": {"S": f"MANIFEST#acme#{tag}-{client_no}"},
                "sk": {"S": f"00001795417200000000#{key}"},
                "kind": {"S": "lake_file"},
                "key": {"S": f"lake/org=acme/stream=s/date=2026-11-23/hour=07/{key}.parquet"},
                "rows": {"N": "5056"},
                "bytes": {"N": "399845"},
                "min_ts_us": {"N": "1795419095935733"},
                "max_ts_us": {"N": "1795420160035306"},
                "hour_us": {"N": "1795417200000000"},
                "request_id": {"S": key},
                "created_at_us": {"N": "1796624847395917"},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    release = {
        "Delete": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "ORG#acme#LAKEGC"}, "sk": {"S": f"PENDING#{key}"}},
            "ConditionExpression": "attribute_not_exists(pk) OR #state = :pending",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {":pending": {"S": "pending"}},
        }
    }
    stream = {
        "Update": {
            "TableName": TABLE,
            "Key": stream_key,
            "UpdateExpression": STREAM_COMMIT_UPDATE,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": dict(STREAM_COMMIT_NAMES),
            "ExpressionAttributeValues": values,
        }
    }
    usage = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "ORG#acme"}, "sk": {"S": f"USAGE#{tag}-{client_no}"}},
            "UpdateExpression": "ADD stored_bytes :b SET updated_us = :u",
            "ExpressionAttributeValues": {":b": {"N": "399845"}, ":u": {"N": str(step)}},
        }
    }
    ddb.transact_write_items(TransactItems=[*markers, manifest, release, stream, usage])


def one_call(aws: dict[str, Any], workload: str, n: int, tag: str, client_no: int = 0, step: int = 0) -> None:
    ddb, sqs, s3 = aws["dynamodb"], aws["sqs"], aws["s3"]
    if workload == "commit":
        commit(ddb, tag, client_no, step)
    elif workload == "sqs_send":
        sqs.send_message(QueueUrl=aws["queue_url"], MessageBody=MESSAGE)
    elif workload == "sqs_receive_delete":
        got = sqs.receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=1, WaitTimeSeconds=0)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got.get("Messages", []))]
        if entries:
            sqs.delete_message_batch(QueueUrl=aws["queue_url"], Entries=entries)
    elif workload == "s3_put":
        s3.put_object(Bucket=BUCKET, Key=f"lake/{tag}/{n}.parquet", Body=OBJECT)
    elif workload == "s3_get":
        s3.get_object(Bucket=BUCKET, Key=f"lake/read/{n % 20}.parquet")["Body"].read()
    elif workload == "get_item":
        ddb.get_item(TableName=TABLE, Key={"pk": {"S": "TOKEN#abc"}, "sk": {"S": "TOKEN"}}, ConsistentRead=True)
    elif workload == "update_item":
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "RATE#acme#ingest"}, "sk": {"S": f"W#{n // 50}"}},
            UpdateExpression="ADD #n :one SET expires_at = :exp",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str(1765000000 + n)}},
            ReturnValues="ALL_NEW",
        )
    elif workload == "transact_write_items":
        key = f"{tag}-{n}"
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": f"MANIFEST#{key}"}, "sk": {"S": "A"}, "rows": {"N": "1000"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": {"pk": {"S": f"LANDED#{key}"}, "sk": {"S": "L"}, "at": {"N": str(n)}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": f"STATS#{tag}-{n % 4}"}, "sk": {"S": "S"}},
                        "UpdateExpression": "ADD #rows :r, #bytes :b SET updated_us = :u",
                        "ExpressionAttributeNames": {"#rows": "rows", "#bytes": "bytes"},
                        "ExpressionAttributeValues": {":r": {"N": "1000"}, ":b": {"N": "4096"}, ":u": {"N": str(n)}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "TOKEN#abc"}, "sk": {"S": "TOKEN"}},
                        "ConditionExpression": "org_id = :org",
                        "ExpressionAttributeValues": {":org": {"S": "acme"}},
                    }
                },
            ]
        )
    else:
        ddb.query(
            TableName=TABLE,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :sk)",
            ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"},
            ExpressionAttributeValues={":pk": {"S": "STREAM#acme#logs"}, ":sk": {"S": "FILE#"}},
        )


def prepare(aws: dict[str, Any], workload: str, requests: int) -> None:
    """What a workload reads, in place before it is measured."""
    if workload == "sqs_receive_delete":
        for _ in range(requests):
            aws["sqs"].send_message(QueueUrl=aws["queue_url"], MessageBody=MESSAGE)
    elif workload == "s3_get":
        for n in range(20):
            aws["s3"].put_object(Bucket=BUCKET, Key=f"lake/read/{n}.parquet", Body=OBJECT)


def run_workload(aws: dict[str, Any], pid: int, workload: str, requests: int, clients: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    if workload.startswith(("sqs_", "s3_")):
        requests = max(clients, requests // 10)
    per_client = requests // clients
    prepare(aws, workload, per_client * clients + 5)
    for n in range(5):  # warm: moto imports and caches on first use
        one_call(aws, workload, n, tag + "w", 0, n)
    cpu0, t0 = tree_cpu_s(pid), time.perf_counter()

    def work(c: int) -> None:
        for n in range(per_client):
            one_call(aws, workload, c * per_client + n, tag, c, n)

    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu1 = time.perf_counter() - t0, tree_cpu_s(pid)
    cpu = (cpu1 or 0.0) - (cpu0 or 0.0)
    done = per_client * clients
    return {
        "requests": done,
        "wall_s": r3(wall),
        "emulator_cpu_s": r3(cpu),
        "requests_per_cpu_s": round(done / cpu, 1) if cpu > 0 else None,
        "emulator_cpu_ms_per_request": round(1000 * cpu / done, 3),
    }


def one_tree(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix="molesignal-emubench-")
    process, url = start_emulator(tree, args.port, data_dir)
    try:
        aws: dict[str, Any] = {s: client(url, args.clients, s) for s in ("dynamodb", "sqs", "s3")}
        create_table(aws["dynamodb"])
        aws["queue_url"] = aws["sqs"].create_queue(QueueName=QUEUE)["QueueUrl"]
        aws["s3"].create_bucket(Bucket=BUCKET)
        return {w: run_workload(aws, process.pid, w, args.requests, args.clients) for w in args.workloads}
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        subprocess.run(["rm", "-rf", data_dir], check=False)


def main(argv: list[str] | None = None) -> int:
    now = dt.datetime.now(dt.UTC)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trees", default=str(REPO), help="comma-separated checkouts; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per workload, tree and round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOLESIGNAL_EMULATOR_PORT", "4607")))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / f"emulator-{now:%Y-%m-%d}.json")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    trees = [Path(t).resolve() for t in args.trees.split(",") if t]
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in trees}
    loads = [loadavg()]
    for round_no in range(args.rounds):
        for tree in trees:
            progress(f"round {round_no + 1}/{args.rounds}: {tree}", args.quiet)
            runs[str(tree)].append(one_tree(tree, args))
            loads.append(loadavg())
    summary: dict[str, Any] = {}
    for workload in args.workloads:
        row: dict[str, Any] = {}
        for tree in trees:
            rates = [r[workload]["requests_per_cpu_s"] or 0.0 for r in runs[str(tree)]]
            row[str(tree)] = {"requests_per_cpu_s": rates, "median": statistics.median(rates)}
        if len(trees) > 1:
            base = row[str(trees[0])]["median"]
            for tree in trees[1:]:
                row[str(tree)]["vs_first"] = round(row[str(tree)]["median"] / base, 2) if base else None
        summary[workload] = row
    result = {
        "benchmark": "emulator",
        "when": now.isoformat(),
        "git": git_info(),
        "interpreter": interpreter_info(["boto3", "botocore", "moto", "werkzeug", "flask", "orjson"]),
        "loadavg": loads,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "trees": [str(t) for t in trees],
        "runs": runs,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    names = "".join(f"{Path(t).name[:18]:>20}" for t in trees)
    print(f"{'workload':<22}{names}   (requests per emulator CPU-second, median; x = against the first tree)")
    for workload, row in summary.items():
        cells = ""
        for t in trees:
            cell = row[str(t)]
            ratio = f" ({cell['vs_first']:.2f}x)" if "vs_first" in cell else " " * 8
            cells += f"{cell['median']:>12.0f}{ratio}"
        print(f"{workload:<22}{cells}")
    print(f"load average {loads[0]} → {loads[-1]}; {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
