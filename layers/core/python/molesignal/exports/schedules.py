"""Scheduled exports: an export job spec run on a ``rate(...)`` or ``cron(...)`` expression.

A schedule is an item of its org (``ORG#<org>`` / ``EXPORTSCHEDULE#<id>``) plus one *due*
marker in a shared partition (``EXPORTSCHEDULES#DUE`` / ``<next run µs>#<org>#<id>``), so the
ticker (the ``export_scheduler`` function, every minute) reads only what is due, whatever the
number of orgs. Each run creates an ordinary export job (listed with the org's exports, with
``schedule_id``) whose id is derived from the schedule and the run time: a ticker that
crashes after creating it and runs the same schedule again makes the same job, not a second.

An events selection without ``from``/``to`` (or SQL without them) exports a **window**: the
events *received* since the previous run's window ended up to ``settle`` before this run (the
events worker has landed them by then), so consecutive runs export every event exactly once,
late-arriving ones included. Runs missed while nothing ticked are folded into the next one.
The job runs as the admin who last saved the schedule.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import replace
from typing import Any

from molesignal.auth.principal import Principal, Role
from molesignal.clock import now_us
from molesignal.errors import Conflict, DomainError, NotFound, Unprocessable
from molesignal.events.model import iso_us
from molesignal.exports.jobs import Exports, ExportSpec
from molesignal.exports.timing import check_expression, next_run_us
from molesignal.observability import logger
from molesignal.settings import get_settings
from molesignal.storage.table import ConditionFailed, Item, Table

SCHEDULE_ROLES = (Role.ADMIN,)
MAX_SCHEDULES = 50  # per org
DUE_PARTITION = "EXPORTSCHEDULES#DUE"
_US = 1_000_000


def schedule_key(org_id: str, schedule_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", f"EXPORTSCHEDULE#{schedule_id}"


def due_key(next_us: int, org_id: str, schedule_id: str) -> tuple[str, str]:
    return DUE_PARTITION, f"{next_us:020d}#{org_id}#{schedule_id}"


def new_schedule_id() -> str:
    return "xs_" + secrets.token_hex(8)


def run_export_id(schedule_id: str, run_us: int) -> str:
    """A UUIDv7 at the run time whose random bits come from the schedule: the same run of the
    same schedule always names the same export job."""
    ms, within = divmod(run_us, 1000)
    bits = int.from_bytes(hashlib.sha256(f"{schedule_id}#{run_us}".encode()).digest()[:8], "big") >> 2
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | within << 64 | 0b10 << 62 | bits
    return str(uuid.UUID(int=value))


def windowed(spec: ExportSpec, start_us: int, end_us: int) -> ExportSpec:
    """The run's spec: an open selection gets this run's receive-time window."""
    if spec.events is not None and spec.events.from_us is None and spec.events.to_us is None:
        return replace(spec, events=replace(spec.events, received_after_us=start_us, received_before_us=end_us))
    if spec.sql is not None and spec.sql_from_us is None and spec.sql_to_us is None:
        return replace(spec, sql_from_us=start_us, sql_to_us=end_us)
    return spec


def public_schedule(item: Item) -> dict[str, Any]:
    spec = ExportSpec.from_item(item["spec"])
    export: dict[str, Any] = {"format": spec.format, "gzip": spec.gzip, "retention_hours": spec.retention_hours}
    if spec.events is not None:
        export["events"] = {k: v for k, v in spec.events.listing().items() if v not in (None, [], "asc")}
    else:
        export["sql"] = {"query": spec.sql, "from": spec.sql_from_us, "to": spec.sql_to_us}
    out: dict[str, Any] = {
        "id": item["schedule_id"],
        "name": item["name"],
        "schedule": item["expression"],
        "enabled": bool(item["enabled"]),
        "export": export,
        "delivery": item.get("delivery") or {"type": "bucket"},
        "next_run_at": iso_us(int(item["next_run_us"])) if item.get("next_run_us") and item["enabled"] else None,
        "window_start": iso_us(int(item["window_start_us"])),
        "created_at": iso_us(int(item["created_at_us"])),
        "updated_at": iso_us(int(item["updated_at_us"])),
        "runs": int(item.get("runs", 0)),
    }
    for name in ("last_run_at_us", "last_export_id", "last_error"):
        if item.get(name):
            out[name.removesuffix("_us")] = iso_us(int(item[name])) if name.endswith("_us") else item[name]
    return out


class ExportSchedules:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    # --- reading --------------------------------------------------------------------------
    def get(self, org_id: str, schedule_id: str) -> Item:
        item = self.table.get(*schedule_key(org_id, schedule_id)) if schedule_id.startswith("xs_") else None
        if not item:
            raise NotFound(f"not found: export schedule {schedule_id!r}")
        return item

    def all(self, org_id: str) -> list[Item]:
        items = self.table.query_all(f"ORG#{org_id}", sk_prefix="EXPORTSCHEDULE#", consistent=True)
        return sorted(items, key=lambda i: (int(i["created_at_us"]), str(i["schedule_id"])))

    # --- writing --------------------------------------------------------------------------
    def create(
        self,
        principal: Principal,
        *,
        name: str,
        expression: str,
        spec: ExportSpec,
        delivery: dict[str, Any] | None,
        enabled: bool,
    ) -> Item:
        principal.require(*SCHEDULE_ROLES)
        if len(self.all(principal.org_id)) >= MAX_SCHEDULES:
            raise Conflict(f"conflict: an org has at most {MAX_SCHEDULES} export schedules")
        moment = now_us()
        expression = check_expression(expression, now_us=moment)
        Exports(self.table).check(principal, spec)
        schedule_id = new_schedule_id()
        pk, sk = schedule_key(principal.org_id, schedule_id)
        item: dict[str, Any] = {
            "pk": pk,
            "sk": sk,
            "kind": "export_schedule",
            "org_id": principal.org_id,
            "schedule_id": schedule_id,
            "name": _name(name),
            "expression": expression,
            "enabled": enabled,
            "spec": spec.to_item(),
            "delivery": delivery,
            "created_at_us": moment,
            "updated_at_us": moment,
            "anchor_us": moment,
            "window_start_us": moment,
            "next_run_us": next_run_us(expression, after_us=moment, anchor_us=moment),
            "created_by": principal.to_context(),
            "runs": 0,
            "revision": 0,  # every write moves it: a change and a run never overwrite each other
        }
        operations = [self.table.put_op(item, condition="attribute_not_exists(pk)")]
        if enabled and item["next_run_us"]:
            operations.append(self.table.put_op(_due_item(item)))
        self.table.transact(operations)
        return item

    def update(self, principal: Principal, schedule_id: str, changes: dict[str, Any]) -> Item:
        """``changes``: any of name, expression, enabled, spec (an ExportSpec), delivery."""
        principal.require(*SCHEDULE_ROLES)
        current = self.get(principal.org_id, schedule_id)
        moment = now_us()
        item = dict(current)
        if "name" in changes:
            item["name"] = _name(changes["name"])
        if "enabled" in changes:
            item["enabled"] = bool(changes["enabled"])
        if "spec" in changes:
            Exports(self.table).check(principal, changes["spec"])
            item["spec"] = changes["spec"].to_item()
        if "delivery" in changes:
            item["delivery"] = changes["delivery"]
        if "expression" in changes:
            item["expression"] = check_expression(changes["expression"], now_us=moment)
            item["anchor_us"] = moment
        item["updated_at_us"] = moment
        item["revision"] = int(current.get("revision", 0)) + 1
        item["created_by"] = principal.to_context()  # runs act as whoever saved it last
        item["next_run_us"] = next_run_us(item["expression"], after_us=moment, anchor_us=int(item["anchor_us"]))
        operations = [
            self.table.put_op(item, condition="revision = :seen", values={":seen": int(current.get("revision", 0))})
        ]
        if current.get("next_run_us") and current["enabled"]:
            operations.append(self.table.delete_op(*due_key(int(current["next_run_us"]), item["org_id"], schedule_id)))
        if item["enabled"] and item["next_run_us"]:
            operations.append(self.table.put_op(_due_item(item)))
        try:
            self.table.transact(operations)
        except ConditionFailed as exc:
            raise Conflict(f"conflict: export schedule {schedule_id} changed meanwhile; read it and try again") from exc
        return item

    def delete(self, principal: Principal, schedule_id: str) -> None:
        principal.require(*SCHEDULE_ROLES)
        current = self.get(principal.org_id, schedule_id)
        operations = [self.table.delete_op(*schedule_key(principal.org_id, schedule_id))]
        if current.get("next_run_us") and current["enabled"]:
            marker = due_key(int(current["next_run_us"]), principal.org_id, schedule_id)
            operations.append(self.table.delete_op(*marker))
        self.table.transact(operations)

    # --- the ticker -----------------------------------------------------------------------
    def due(self, now: int, limit: int = 100) -> list[tuple[int, str, str]]:
        response = self.table.client.query(
            TableName=self.table.name,
            KeyConditionExpression="pk = :pk AND sk <= :bound",
            ExpressionAttributeValues={":pk": {"S": DUE_PARTITION}, ":bound": {"S": f"{now:020d}~"}},
            ConsistentRead=True,
            Limit=limit,
        )
        found = []
        for raw in response.get("Items", []):
            run, org_id, schedule_id = str(self.table.unmarshal(raw)["sk"]).split("#", 2)
            found.append((int(run), org_id, schedule_id))
        return found

    def run_due(self, now: int | None = None) -> list[str]:
        """Create the export job of every schedule that is due; their ids."""
        now = now_us() if now is None else now
        created: list[str] = []
        for run_us, org_id, schedule_id in self.due(now):
            export_id = self.run_one(org_id, schedule_id, run_us, now)
            if export_id:
                created.append(export_id)
        return created

    def run_one(self, org_id: str, schedule_id: str, run_us: int, now: int) -> str | None:
        marker = due_key(run_us, org_id, schedule_id)
        item = self.table.get(*schedule_key(org_id, schedule_id))
        if item is None or not item["enabled"] or int(item.get("next_run_us") or 0) != run_us:
            self.table.delete(*marker)  # left behind by a change: the schedule has its own marker
            return None
        settle_us = int(get_settings().export_schedule_settle_s * _US)
        start, end = int(item["window_start_us"]), max(int(item["window_start_us"]), run_us - settle_us)
        spec = windowed(ExportSpec.from_item(item["spec"]), start, end)
        principal = Principal.from_context(dict(item["created_by"]))
        export_id = run_export_id(schedule_id, run_us)
        error = None
        try:
            Exports(self.table).create(
                principal, spec, schedule_id=schedule_id, export_id=export_id, delivery=item.get("delivery")
            )
        except DomainError as exc:  # e.g. SQL over a stream that was deleted since
            error = exc.message
            logger.warning("scheduled export refused", extra={"schedule_id": schedule_id, "error": error})
        following = next_run_us(str(item["expression"]), after_us=max(now, run_us), anchor_us=int(item["anchor_us"]))
        values: dict[str, Any] = {
            ":run": run_us,
            ":next": following or 0,
            ":at": now,
            ":export": export_id if error is None else "",
            ":end": end,
            ":one": 1,
        }
        expression = (
            "SET next_run_us = :next, last_run_at_us = :at, last_export_id = :export, window_start_us = :end "
            "ADD runs :one, revision :one"
        )
        if error:
            expression = expression.replace(" ADD", ", last_error = :error ADD")
            values[":error"] = error[:512]
        else:
            expression += " REMOVE last_error"
        pk, sk = schedule_key(org_id, schedule_id)
        operations = [
            self.table.update_op(pk, sk, expression, values=values, condition="next_run_us = :run"),
            self.table.delete_op(*marker),
        ]
        if following:
            operations.append(self.table.put_op(_due_item({**item, "next_run_us": following})))
        try:
            self.table.transact(operations)
        except ConditionFailed:
            return None  # another ticker moved it first; the job it made has the same id
        return export_id if error is None else None


def _due_item(item: Item) -> dict[str, Any]:
    pk, sk = due_key(int(item["next_run_us"]), str(item["org_id"]), str(item["schedule_id"]))
    return {"pk": pk, "sk": sk, "kind": "export_schedule_due"}


def _name(name: Any) -> str:
    text = str(name).strip()
    if not 1 <= len(text) <= 128:
        raise Unprocessable("invalid argument: name must be 1-128 characters")
    return text
