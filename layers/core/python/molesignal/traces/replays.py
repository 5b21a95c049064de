"""Layer 2 replays: queued by the API, dispatched by the replay worker to the org's runner.

The runner is an HTTPS endpoint of the customer's CI. The worker POSTs it a JSON job signed
with HMAC-SHA256 (``X-MoleSignal-Signature: t=<unix s>,v1=<hex of HMAC(secret, "<t>.<body>")>``);
the runner replays the scenario from the step and uploads the resulting bundle to
``POST /v1/traces/ingest`` with ``parent_trace_id``, ``replay_from_step`` and ``replay_id``.
Statuses: ``queued`` → ``running`` (the runner accepted the job) → ``succeeded`` (its bundle
arrived) or ``failed`` (the runner refused it, or could not be reached after the queue's
retries), or its bundle did not arrive within ``replay_upload_timeout_s`` of the runner
accepting it). At most ``replay_max_concurrent`` replays per org are queued or running at once.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from molesignal import aws
from molesignal.auth.principal import Principal, Role
from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from molesignal.settings import get_settings
from molesignal.storage.table import ConditionFailed, Item, Table
from molesignal.traces.service import INGEST_ROLES, READ_ROLES, WRITE_ROLES, TraceService

TERMINAL = frozenset({"succeeded", "failed"})
MAX_QUEUE_DELAY_S = 900  # SQS's longest DelaySeconds
SIGNATURE_HEADER = "X-MoleSignal-Signature"
_ACTIVE = "REPLAYS_ACTIVE"


class RunnerUnavailable(Exception):
    """The runner could not be reached or answered 5xx: the queue delivers the job again."""


def replay_key(replay_id: str) -> tuple[str, str]:
    return f"REPLAY#{replay_id}", "META"


def runner_key(org_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", "REPLAYRUNNER"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_runner_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return url
    loopback = False
    if parsed.scheme == "http" and parsed.hostname:
        try:
            loopback = ipaddress.ip_address(parsed.hostname).is_loopback
        except ValueError:
            loopback = parsed.hostname == "localhost"
    if loopback and get_settings().trusts_org_header:  # local and test stages only
        return url
    raise Invalid("invalid argument: the runner url must be https (http only to loopback on local/test stages)")


def public_replay(item: Item) -> dict[str, Any]:
    return {
        "id": item["replay_id"],
        "trace_id": item["trace_id"],
        "status": item["status"],
        "from_step": int(item.get("from_step", 0)),
        "triggered_via": item.get("triggered_via", "api"),
        "replay_trace_id": item.get("replay_trace_id"),
        "error": item.get("error"),
        "created_at": iso(int(item["created_at_us"])),
        "updated_at": iso(int(item["updated_at_us"])),
    }


@dataclass
class Replays:
    service: TraceService = field(default_factory=TraceService)

    @property
    def table(self) -> Table:
        return self.service.table

    # --- the runner ---------------------------------------------------------------------
    def configure_runner(self, principal: Principal, url: str) -> tuple[Item, str]:
        principal.require(Role.ADMIN)
        secret = secrets.token_urlsafe(32)
        pk, sk = runner_key(principal.org_id)
        item = {
            "pk": pk,
            "sk": sk,
            "kind": "replay_runner",
            "url": check_runner_url(url),
            "secret": secret,
            "updated_at_us": now_us(),
            "updated_by": principal.actor,
        }
        self.table.put(item)
        return item, secret

    def runner(self, principal: Principal) -> Item:
        principal.require(Role.ADMIN)
        found = self.table.get(*runner_key(principal.org_id))
        if found is None:
            raise NotFound("not found: no replay runner is configured for this org")
        return found

    # --- queueing -------------------------------------------------------------------------
    def enqueue(
        self, principal: Principal, trace_id: str, *, from_step: int, edits: dict[str, Any], api_base: str
    ) -> Item:
        trace = self.service.trace(principal, trace_id, WRITE_ROLES)
        if trace.get("tier") != "hot":
            raise Conflict(
                f"conflict: replays need a hot trace; this one is {trace.get('tier')} "
                f"(POST /v1/traces/{trace_id}/restore first)",
                code="trace_not_hot",
            )
        if from_step > int(trace.get("step_count", 0)):
            raise Invalid(
                f"invalid argument: from_step {from_step} is past the trace's {trace.get('step_count', 0)} steps"
            )
        replay_id = str(uuid.uuid4())
        moment = now_us()
        pk, sk = replay_key(replay_id)
        item = {
            "pk": pk,
            "sk": sk,
            "kind": "replay",
            "replay_id": replay_id,
            "org_id": trace["org_id"],
            "trace_id": trace_id,
            "scenario_slug": trace.get("scenario_slug"),
            "status": "queued",
            "from_step": from_step,
            "edits": edits,
            "triggered_via": "api",
            "api_base": api_base,
            "requested_by": principal.actor,
            "created_at_us": moment,
            "updated_at_us": moment,
        }
        limit = get_settings().replay_max_concurrent
        apk, ask = f"ORG#{trace['org_id']}", _ACTIVE
        try:
            self.table.transact(
                [
                    self.table.update_op(
                        apk,
                        ask,
                        "ADD n :one",
                        values={":one": 1, ":max": limit},
                        condition="attribute_not_exists(n) OR n < :max",
                    ),
                    self.table.put_op(item, condition="attribute_not_exists(pk)"),
                    self.table.put_op(
                        {
                            "pk": f"TRACE#{trace_id}",
                            "sk": f"REPLAY#{moment:016d}#{replay_id}",
                            "kind": "trace_replay",
                            "replay_id": replay_id,
                        }
                    ),
                ]
            )
        except ConditionFailed as exc:
            raise RateLimited(
                f"rate limited: {limit} replays are already queued or running for this org",
                retry_after_s=30,
                code="replay_concurrency",
            ) from exc
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=get_settings().queue_name("replays"))["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"replay_id": replay_id}))
        return item

    def get(self, principal: Principal, replay_id: str, roles: tuple[Role, ...] = READ_ROLES) -> Item:
        found = self.table.get(*replay_key(replay_id)) if _is_uuid(replay_id) else None
        if found is None:
            raise NotFound(f"not found: replay {replay_id!r}")
        if principal.role is not Role.ROOT and found["org_id"] != principal.org_id:
            raise Forbidden("forbidden: this replay belongs to another org", code="cross_org")
        principal.require(*roles)
        return found

    def list_for_trace(self, principal: Principal, trace_id: str) -> list[Item]:
        self.service.trace(principal, trace_id)
        pointers = self.table.query_all(f"TRACE#{trace_id}", sk_prefix="REPLAY#")
        found = (self.table.get(*replay_key(p["replay_id"])) for p in reversed(pointers))
        return [f for f in found if f is not None]

    # --- status changes -----------------------------------------------------------------
    def transition(self, replay_id: str, to: str, *, allowed_from: tuple[str, ...], **fields: Any) -> Item | None:
        """Move a replay between statuses; None when it was not in ``allowed_from``."""
        current = self.table.get(*replay_key(replay_id))
        if current is None or current["status"] not in allowed_from:
            return None
        values: dict[str, Any] = {":to": to, ":now": now_us(), ":from": current["status"]}
        sets = ["#s = :to", "updated_at_us = :now"]
        names = {"#s": "status"}
        for i, (name, value) in enumerate(fields.items()):
            sets.append(f"#f{i} = :f{i}")  # names like "error" are DynamoDB reserved words
            names[f"#f{i}"] = name
            values[f":f{i}"] = value
        operations = [
            self.table.update_op(
                *replay_key(replay_id),
                "SET " + ", ".join(sets),
                names=names,
                values=values,
                condition="#s = :from",
            )
        ]
        if to in TERMINAL:
            operations.append(
                self.table.update_op(f"ORG#{current['org_id']}", _ACTIVE, "ADD n :minus", values={":minus": -1})
            )
        try:
            self.table.transact(operations)
        except ConditionFailed:
            return None  # another worker or upload moved it first
        return self.table.get(*replay_key(replay_id))

    def check_completable(self, principal: Principal, replay_id: str, *, parent_trace_id: str | None) -> None:
        """Before a replay's bundle is stored: it must name an open replay of its parent."""
        replay = self.get(principal, replay_id, INGEST_ROLES)  # the runner's key may be an ingest key
        if parent_trace_id != replay["trace_id"]:
            raise Invalid("invalid argument: parent_trace_id is not the trace this replay replays")
        if replay["status"] in TERMINAL:
            raise Conflict(f"conflict: replay {replay_id} is already {replay['status']}", code="replay_finished")

    def complete(self, replay_id: str, *, trace_id: str) -> None:
        """The runner's bundle arrived: the replay succeeded."""
        self.transition(replay_id, "succeeded", allowed_from=("queued", "running"), replay_trace_id=trace_id)

    # --- the worker -----------------------------------------------------------------------
    def dispatch(self, replay_id: str, *, final_attempt: bool) -> str:
        """Send a queued replay to its org's runner; returns the replay's status afterwards."""
        replay = self.table.get(*replay_key(replay_id))
        if replay is None or replay["status"] != "queued":
            return "gone" if replay is None else str(replay["status"])
        runner = self.table.get(*runner_key(replay["org_id"]))
        if runner is None:
            self.transition(replay_id, "failed", allowed_from=("queued",), error="no replay runner is configured")
            return "failed"
        body = json.dumps(self._job(replay), separators=(",", ":")).encode()
        try:
            status = self._post(runner, replay_id, body)
        except RunnerUnavailable as exc:
            if not final_attempt:
                raise
            self.transition(replay_id, "failed", allowed_from=("queued",), error=f"runner unreachable: {exc}")
            return "failed"
        if 200 <= status < 300:
            dispatched = now_us()
            if self.transition(replay_id, "running", allowed_from=("queued",), dispatched_at_us=dispatched):
                self._watch(replay_id, deadline_us=dispatched + get_settings().replay_upload_timeout_s * 1_000_000)
            return "running"
        self.transition(replay_id, "failed", allowed_from=("queued",), error=f"the runner refused the job ({status})")
        return "failed"

    def expire(self, replay_id: str, *, deadline_us: int) -> str:
        """A running replay whose bundle has not arrived by ``deadline_us`` fails; before the
        deadline the watch goes back on the queue (SQS delays a message 15 minutes at most)."""
        replay = self.table.get(*replay_key(replay_id))
        if replay is None or replay["status"] != "running":
            return "gone" if replay is None else str(replay["status"])
        if now_us() < deadline_us:
            self._watch(replay_id, deadline_us=deadline_us)
            return "running"
        timeout_s = (deadline_us - int(replay.get("dispatched_at_us", deadline_us))) // 1_000_000
        moved = self.transition(
            replay_id,
            "failed",
            allowed_from=("running",),
            error=f"the runner accepted the job but uploaded no bundle within {timeout_s} s",
        )
        return str(moved["status"]) if moved else "running"

    @staticmethod
    def _watch(replay_id: str, *, deadline_us: int) -> None:
        """Queue a check of a running replay's upload deadline, delivered when it is due."""
        delay_s = max(0, min(MAX_QUEUE_DELAY_S, -(-(deadline_us - now_us()) // 1_000_000)))
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=get_settings().queue_name("replays"))["QueueUrl"]
        body = json.dumps({"replay_id": replay_id, "deadline_us": deadline_us})
        sqs.send_message(QueueUrl=url, MessageBody=body, DelaySeconds=delay_s)

    @staticmethod
    def _job(replay: Item) -> dict[str, Any]:
        return {
            "replay_id": replay["replay_id"],
            "trace_id": replay["trace_id"],
            "org_id": replay["org_id"],
            "scenario_slug": replay.get("scenario_slug"),
            "from_step": int(replay.get("from_step", 0)),
            "edits": replay.get("edits") or {},
            "upload": {
                "url": f"{replay.get('api_base', '')}/v1/traces/ingest",
                "fields": {
                    "parent_trace_id": replay["trace_id"],
                    "replay_from_step": int(replay.get("from_step", 0)),
                    "replay_id": replay["replay_id"],
                    "scenario_slug": replay.get("scenario_slug"),
                },
            },
        }

    @staticmethod
    def _post(runner: Item, replay_id: str, body: bytes) -> int:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked when the runner is configured
            check_runner_url(str(runner["url"])),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "MoleSignal-Replays/1",
                "X-MoleSignal-Replay-Id": replay_id,
                SIGNATURE_HEADER: sign(str(runner["secret"]), body, int(time.time())),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=get_settings().replay_runner_timeout_s) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise RunnerUnavailable(str(exc)) from exc
        if status >= 500:
            raise RunnerUnavailable(f"the runner answered {status}")
        return status


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
