"""Export jobs: created by the API, run by the export worker, downloaded through a link.

A job is an item in the single table (``ORG#<org>`` / ``EXPORT#<id>``) whose id is a UUIDv7,
so the org's listing is newest first by its sort key. The export file lives in the exports
bucket until the job expires; a download after that is 410 whether or not the object has
been removed yet (S3 lifecycle rules are not what enforces the lifetime).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal import aws
from molesignal.auth.principal import Principal, Role
from molesignal.clock import now_us
from molesignal.errors import Conflict, DomainError, Gone, NotFound, Unprocessable
from molesignal.events import rows
from molesignal.events.ids import is_event_id, new_ids
from molesignal.events.model import iso_us
from molesignal.events.reading import EventFilter
from molesignal.exports.formats import MEDIA, Writer, extension
from molesignal.query.deadline import Deadline
from molesignal.query.service import QueryRequest, QueryService
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

EXPORT_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
LINK_TTL_S = 900  # a presigned link lives 15 minutes, never past the export's own expiry
_US = 1_000_000


def export_key(org_id: str, export_id: str) -> tuple[str, str]:
    return f"ORG#{org_id}", f"EXPORT#{export_id}"


@dataclass(frozen=True)
class ExportSpec:
    format: str
    gzip: bool
    events: EventFilter | None
    sql: str | None
    sql_from_us: int | None
    sql_to_us: int | None
    retention_hours: int

    def to_item(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "gzip": self.gzip,
            "events": self.events.listing() if self.events else None,
            "sql": self.sql,
            "sql_from_us": self.sql_from_us,
            "sql_to_us": self.sql_to_us,
            "retention_hours": self.retention_hours,
        }

    @classmethod
    def from_item(cls, item: Item) -> ExportSpec:
        events = item.get("events")
        return cls(
            format=str(item["format"]),
            gzip=bool(item.get("gzip")),
            events=EventFilter(
                from_us=events.get("from"),
                to_us=events.get("to"),
                actions=tuple(events.get("actions") or ()),
                actor_id=events.get("actor_id"),
                target_id=events.get("target_id"),
                order="asc",
                received_after_us=events.get("received_after"),
                received_before_us=events.get("received_before"),
            )
            if events is not None
            else None,
            sql=item.get("sql"),
            sql_from_us=item.get("sql_from_us"),
            sql_to_us=item.get("sql_to_us"),
            retention_hours=int(item["retention_hours"]),
        )


def public(item: Item) -> dict[str, Any]:
    spec = ExportSpec.from_item(item["spec"])
    out: dict[str, Any] = {
        "id": item["export_id"],
        "status": item["status"],
        "format": spec.format,
        "gzip": spec.gzip,
        "kind": "sql" if spec.sql else "events",
        "created_at": iso_us(int(item["created_at_us"])),
        "expires_at": iso_us(int(item["expires_at_us"])),
    }
    if spec.events is not None:
        out["filters"] = {k: v for k, v in spec.events.listing().items() if v not in (None, [], "asc")}
    if spec.sql:
        out["sql"] = spec.sql
    for name in ("rows", "bytes"):
        if item.get(name) is not None:
            out[name] = int(item[name])
    if item.get("completed_at_us"):
        out["completed_at"] = iso_us(int(item["completed_at_us"]))
    if item.get("error"):
        out["error"] = item["error"]
    if item.get("schedule_id"):
        out["schedule_id"] = item["schedule_id"]
    if item.get("delivery"):
        out["delivery"] = {k: item["delivery"][k] for k in ("type", "log_stream_id") if k in item["delivery"]}
        for name in ("delivery_status", "delivery_detail"):
            if item.get(name):
                out["delivery"][name.removeprefix("delivery_")] = item[name]
    return out


class Exports:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    def check(self, principal: Principal, spec: ExportSpec) -> None:
        """Refuse SQL the guard refuses now, not minutes later in the worker."""
        principal.require(*EXPORT_ROLES)
        if spec.sql:
            QueryService(self.table).plan(principal, QueryRequest(sql=spec.sql))

    def create(
        self,
        principal: Principal,
        spec: ExportSpec,
        *,
        schedule_id: str | None = None,
        export_id: str | None = None,
        delivery: dict[str, Any] | None = None,
    ) -> Item:
        self.check(principal, spec)
        export_id = export_id or new_ids(1)[0][0]
        created = now_us()
        pk, sk = export_key(principal.org_id, export_id)
        item = {
            "pk": pk,
            "sk": sk,
            "kind": "export",
            "export_id": export_id,
            "org_id": principal.org_id,
            "status": "pending",
            "spec": spec.to_item(),
            "created_at_us": created,
            "expires_at_us": created + spec.retention_hours * 3600 * _US,
            "created_by": principal.to_context(),
            "schedule_id": schedule_id,
            "delivery": delivery,  # where a completed file is also sent (molesignal/exports/delivery.py)
        }
        from molesignal.storage.table import ConditionFailed

        try:
            self.table.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            return self.get(principal.org_id, export_id)  # a scheduled run already made it
        send_export(principal.org_id, export_id)
        return item

    def get(self, org_id: str, export_id: str) -> Item:
        item = self.table.get(*export_key(org_id, export_id)) if is_event_id(export_id) else None
        if not item:
            raise NotFound(f"not found: export {export_id!r}")
        return item

    def page(self, org_id: str, *, limit: int, before: str | None) -> tuple[list[Item], bool]:
        """Newest first; ``before`` is the id of the last export already shown."""
        condition = "pk = :pk AND begins_with(sk, :prefix)"
        values: dict[str, Any] = {":pk": f"ORG#{org_id}", ":prefix": "EXPORT#"}
        if before:
            condition = "pk = :pk AND sk BETWEEN :prefix AND :before"
            values[":before"] = f"EXPORT#{before}"
        response = self.table.client.query(
            TableName=self.table.name,
            KeyConditionExpression=condition,
            ExpressionAttributeValues={k: {"S": v} for k, v in values.items()},
            ScanIndexForward=False,
            Limit=limit + 2,
        )
        items = [self.table.unmarshal(raw) for raw in response.get("Items", [])]
        items = [i for i in items if i["export_id"] != before][: limit + 1]
        return items[:limit], len(items) > limit

    def total(self, org_id: str) -> int:
        response = self.table.client.query(
            TableName=self.table.name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"ORG#{org_id}"}, ":prefix": {"S": "EXPORT#"}},
            Select="COUNT",
        )
        return int(response.get("Count", 0))

    def download_url(self, org_id: str, export_id: str) -> str:
        """A presigned GET for a completed, unexpired export: 409 before, 410 after."""
        item = self.get(org_id, export_id)
        now = now_us()
        if now >= int(item["expires_at_us"]):
            raise Gone(
                f"gone: export {export_id} expired at {iso_us(int(item['expires_at_us']))}", code="export_expired"
            )
        if item["status"] != "completed":
            raise Conflict(f"conflict: export {export_id} is {item['status']}, not completed", code="export_not_ready")
        lifetime = max(1, min(LINK_TTL_S, (int(item["expires_at_us"]) - now) // _US))
        spec = ExportSpec.from_item(item["spec"])
        filename = f"export-{export_id}.{extension(spec.format, spec.gzip)}"
        return str(
            aws.client("s3", signature_version="s3v4").generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": get_settings().resource_name("exports"),
                    "Key": item["object_key"],
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=lifetime,
            )
        )

    # --- the worker ---------------------------------------------------------------------
    def run(self, org_id: str, export_id: str) -> Item:
        item = self.get(org_id, export_id)
        if item["status"] in ("completed", "failed"):
            return item  # a redelivered message
        spec = ExportSpec.from_item(item["spec"])
        principal = _principal(item)
        key = f"exports/org={org_id}/{export_id}.{extension(spec.format, spec.gzip)}"
        self._set(org_id, export_id, status="running")
        try:
            rows_written, size = self._write(principal, spec, key)
        except DomainError as exc:
            return self._set(org_id, export_id, status="failed", error=exc.message)
        return self._set(
            org_id,
            export_id,
            status="completed",
            rows=rows_written,
            bytes=size,
            object_key=key,
            completed_at_us=now_us(),
        )

    def _write(self, principal: Principal, spec: ExportSpec, key: str) -> tuple[int, int]:
        service = QueryService(self.table)
        settings = get_settings()
        handle, path = tempfile.mkstemp(prefix="molesignal-export-")
        try:
            with os.fdopen(handle, "wb") as sink:
                writer = Writer(sink, spec.format, gzipped=spec.gzip)
                if spec.events is not None:
                    _write_events(service, principal, spec.events, writer)
                else:
                    request = QueryRequest(sql=str(spec.sql), start_us=spec.sql_from_us, end_us=spec.sql_to_us)
                    for batch in service.stream_batches(
                        principal, request, deadline=Deadline(settings.export_query_timeout_s)
                    ):
                        writer.write_batch(batch)
                writer.close()
            size = os.path.getsize(path)
            media = MEDIA[spec.format]
            extra = {"ContentType": media, **({"ContentEncoding": "gzip"} if spec.gzip else {})}
            if spec.gzip:
                extra["ContentType"] = "application/gzip"
                extra.pop("ContentEncoding")
            aws.client("s3").upload_file(path, get_settings().resource_name("exports"), key, ExtraArgs=extra)
            return writer.rows, size
        finally:
            os.unlink(path)

    def mark_delivery(self, org_id: str, export_id: str, status: str, detail: str) -> Item:
        return self._set(org_id, export_id, delivery_status=status, delivery_detail=detail[:512])

    def _set(self, org_id: str, export_id: str, **changes: Any) -> Item:
        pk, sk = export_key(org_id, export_id)
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": v for k, v in changes.items()}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in changes)
        return self.table.update(pk, sk, expression, names=names, values=values)


def _principal(item: Item) -> Principal:
    return Principal.from_context(dict(item["created_by"]))


def _write_events(service: QueryService, principal: Principal, filters: EventFilter, writer: Writer) -> None:
    from molesignal.query.errors import TableNotFound

    where, params = filters.conditions()
    sql = "SELECT * FROM audit_events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"  # noqa: S608
    request = QueryRequest(sql=sql, start_us=filters.received_from_us(), params=params)
    try:
        batches = service.stream_batches(principal, request, deadline=Deadline(get_settings().export_query_timeout_s))
    except TableNotFound:
        return
    for batch in batches:
        writer.write_events(rows.from_row(row) for row in batch.to_pylist())


_queue_url: dict[str, str] = {}


def send_export(org_id: str, export_id: str) -> None:
    name = get_settings().queue_name("exports")
    sqs = aws.client("sqs")
    if name not in _queue_url:
        _queue_url[name] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    body = orjson.dumps({"v": 1, "kind": "export", "org_id": org_id, "export_id": export_id}).decode()
    sqs.send_message(QueueUrl=_queue_url[name], MessageBody=body)


def check_retention(hours: int) -> int:
    limit = get_settings().export_max_retention_hours
    if not 1 <= hours <= limit:
        raise Unprocessable(f"invalid argument: retention_hours must be 1-{limit}")
    return hours
