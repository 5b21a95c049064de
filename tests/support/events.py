"""Helpers for audit-event tests: a fresh org (its own chain), events, draining the worker,
and checking a chain from the lake's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

import registry
from molesignal.events import canonical, rows
from tests.support.api import Session, create_org, create_user
from tests.support.lake import drain, landed_rows

EVENTS_WORKER = next(w for w in registry.REGISTRY.workers if w.name == "events_worker")
EXPORT_WORKER = next(w for w in registry.REGISTRY.workers if w.name == "export_worker")
FANOUT_WORKER = next(w for w in registry.REGISTRY.workers if w.name == "fanout_worker")


def org_admin(client: httpx.Client, root: Session, *, plan: dict[str, Any] | None = None) -> Session:
    """An admin of a new org: every test gets a chain of its own. The org is on an Enterprise
    plan with room to spare unless ``plan`` says otherwise (tests of plan limits)."""
    org_id = create_org(client, root)
    body = plan or {"plan": "enterprise", "requests_per_minute": 1_000_000}
    response = client.put(f"/api/v1/orgs/{org_id}/plan", json=body, headers=root.headers)
    assert response.status_code == 200, response.text
    return create_user(client, root, "admin", org_id=org_id)


def event(action: str = "user.signed_in", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": action,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor": {"id": "user_1", "type": "user", "name": "Ada"},
        "targets": [{"id": "team_7", "type": "team"}],
        "context": {"location": "203.0.113.9", "user_agent": "pytest"},
        "metadata": {"plan": "pro", "seats": 3},
    }
    body.update(overrides)
    return body


def drain_events(timeout_s: float = 300) -> int:
    """Run the events worker through the real poller until its FIFO queue is empty."""
    return drain(EVENTS_WORKER, timeout_s)


def drain_exports(timeout_s: float = 300) -> int:
    return drain(EXPORT_WORKER, timeout_s)


def drain_fanout(timeout_s: float = 300) -> int:
    """Run the log-stream fan-out worker until its queue is empty (deliveries retried meanwhile)."""
    return drain(FANOUT_WORKER, timeout_s)


def chain_rows(org_id: str) -> list[dict[str, Any]]:
    """The org's audit_events rows from the lake, in sequence order."""
    return sorted(landed_rows(org_id, rows.STREAM), key=lambda r: int(r["seq"]))


def assert_unbroken(found: list[dict[str, Any]]) -> None:
    """Sequence 1..n without gaps or repeats, each hash linking the one before."""
    assert [int(r["seq"]) for r in found] == list(range(1, len(found) + 1))
    previous = canonical.GENESIS
    for row in found:
        public = rows.from_row(row)
        assert public["prev_hash"] == previous, f"seq {row['seq']} does not link to the one before"
        assert public["hash"] == canonical.link(previous, canonical.digest(public)), f"seq {row['seq']} altered"
        previous = public["hash"]


def rewrite_lake(org_id: str, change: Any) -> None:
    """Tamper with storage: ``change(rows) -> rows`` is applied to every audit_events file of
    the org and the objects are overwritten in place (the manifest is left as it was)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from molesignal import aws
    from molesignal.lake.streams import Streams
    from molesignal.settings import get_settings
    from molesignal.storage.table import Table

    s3 = aws.client("s3")
    bucket = get_settings().resource_name("lake")
    for entry in Streams(Table()).manifest(org_id, rows.STREAM):
        original = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()))
        changed = pa.Table.from_pylist(change(original.to_pylist()), schema=original.schema)
        sink = io.BytesIO()
        pq.write_table(changed, sink)
        s3.put_object(Bucket=bucket, Key=entry["key"], Body=sink.getvalue())


def sign_checkpoints() -> Any:
    from molesignal.local.scheduler import Scheduler

    return Scheduler(tuple(registry.REGISTRY.schedules)).fire("checkpoint_worker")
