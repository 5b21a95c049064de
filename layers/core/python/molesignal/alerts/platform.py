"""MoleSignal's own alerts: quota rejections for an org, DLQ depth and worker failures for root.

- **Quota** (per org): every quota rejection raises a platform event (``platform_events``,
  once per org, quota and window, like its audit entry); the delivery worker turns it into
  an alert ``platform:quota:<quota>`` that fires for the org's destinations marked
  ``default_for_platform``, re-notifies at most every ``alert_platform_repeat_s`` while
  rejections go on, and resolves once none came for ``alert_platform_resolve_after_s``.
- **Deployment** (root): each evaluator run checks every DLQ's depth and the count of worker
  failures since its last run. A DLQ with messages, or failures since the last run, fires an
  alert for the destinations root marked ``deployment_alerts`` (in root's org); it resolves
  when the DLQ is empty again, or a run sees no new failure.
"""

from __future__ import annotations

from typing import Any

from molesignal import aws, counters
from molesignal.alerts.engine import PLATFORM_DEPLOYMENT, PLATFORM_ORG, AlertEngine, AlertSource
from molesignal.alerts.state import Observation, Policy
from molesignal.observability import logger
from molesignal.platform_events import QUOTA_EXCEEDED
from molesignal.queues import queue_url
from molesignal.resources import RESOURCES
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table

QUOTA_PREFIX = "platform:quota:"
DLQ_PREFIX = "platform:dlq:"
WORKER_FAILURES = "platform:worker-failures"
WORKER_FAILURE_COUNTER = "worker_failures_total"


def _org_policy() -> Policy:
    settings = get_settings()
    return Policy(
        repeat_interval_s=settings.alert_platform_repeat_s, resolve_after_s=settings.alert_platform_resolve_after_s
    )


def _deployment_policy() -> Policy:
    return Policy(repeat_interval_s=get_settings().alert_platform_repeat_s)


def quota_source(org_id: str, quota: str) -> AlertSource:
    return AlertSource(
        org_id=org_id,
        id=f"{QUOTA_PREFIX}{quota}",
        name=f"Quota exceeded: {quota}",
        kind="platform",
        severity="warning",
        policy=_org_policy(),
        message="Requests of org {{org}} were refused: its {{quota}} quota ({{limit}}) is exhausted.",
        labels={"quota": quota},
        platform=PLATFORM_ORG,
        template_values={"org": org_id, "quota": quota},
    )


def dlq_source(org_id: str, dlq: str) -> AlertSource:
    return AlertSource(
        org_id=org_id,
        id=f"{DLQ_PREFIX}{dlq}",
        name=f"Dead letters waiting: {dlq}",
        kind="platform",
        severity="critical",
        policy=_deployment_policy(),
        message="{{value}} messages are in the dead-letter queue {{queue}}; inspect and redrive them.",
        labels={"queue": dlq},
        platform=PLATFORM_DEPLOYMENT,
        template_values={"queue": dlq},
    )


def worker_failure_source(org_id: str) -> AlertSource:
    return AlertSource(
        org_id=org_id,
        id=WORKER_FAILURES,
        name="Worker failures",
        kind="platform",
        severity="critical",
        policy=_deployment_policy(),
        message="{{value}} worker invocations failed since the last check; see the workers' logs.",
        platform=PLATFORM_DEPLOYMENT,
    )


def source_for(table: Table, org_id: str, source_id: str) -> AlertSource | None:
    """The platform source behind a stored alert (the quiet sweep resolves quota alerts)."""
    if source_id.startswith(QUOTA_PREFIX):
        return quota_source(org_id, source_id[len(QUOTA_PREFIX) :])
    if source_id.startswith(DLQ_PREFIX):
        return dlq_source(org_id, source_id[len(DLQ_PREFIX) :])
    if source_id == WORKER_FAILURES:
        return worker_failure_source(org_id)
    return None


def on_event(table: Table, event: dict[str, Any]) -> None:
    if event.get("event") != QUOTA_EXCEEDED:
        logger.warning("unknown platform event", extra={"event": event.get("event")})
        return
    org_id, quota = str(event["org_id"]), str(event["quota"])
    details = dict(event.get("details") or {})
    sample = {"quota": quota, "window": event.get("window"), **details}
    observation = Observation({}, active=True, value=details.get("limit"), sample=sample)
    AlertEngine(table).observe(quota_source(org_id, quota), [observation], now_us=int(event["at_us"]))


def deployment_orgs(table: Table) -> list[str]:
    """Orgs holding destinations for the deployment's alerts (root's)."""
    items = table.query_all(keys.alert_deployment_destinations(), index="gsi1")
    return sorted({str(i["org_id"]) for i in items})


def check_deployment(table: Table, now_us: int) -> None:
    orgs = deployment_orgs(table)
    failures = _new_worker_failures(table)
    if not orgs:
        return
    sqs = aws.client("sqs")
    depths = {}
    for queue in RESOURCES.queues:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url(queue.dlq_logical), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        depths[queue.dlq_logical] = int(attributes.get("ApproximateNumberOfMessages", 0))
    engine = AlertEngine(table)
    for org_id in orgs:
        for dlq, depth in depths.items():
            observation = Observation({}, active=depth > 0, value=depth)
            engine.observe(dlq_source(org_id, dlq), [observation], now_us=now_us, complete=True)
        observation = Observation({}, active=failures > 0, value=failures)
        engine.observe(worker_failure_source(org_id), [observation], now_us=now_us, complete=True)


def _new_worker_failures(table: Table) -> int:
    """Worker failures counted since the previous check (the platform counter's increase)."""
    total = counters.read_all(table).get(WORKER_FAILURE_COUNTER, 0)
    pk, sk = keys.alert_platform_checkpoint()
    previous = table.get(pk, sk) or {}
    seen = int(previous.get("worker_failures_seen", 0))
    table.put({"pk": pk, "sk": sk, "kind": "alert_checkpoint", "worker_failures_seen": total})
    return max(0, total - seen)
