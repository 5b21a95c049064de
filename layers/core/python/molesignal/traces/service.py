"""Trace ingest and reads: the domain calls behind ``traces_api``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from molesignal.auth.principal import Principal, Role
from molesignal.clock import iso, now_us
from molesignal.errors import Conflict, Forbidden, Invalid, NotFound
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Item, Table
from molesignal.traces import bundle as bundles
from molesignal.traces.blobs import BlobStore, blob_key, run_prefix, upload_key
from molesignal.traces.events import EventFilter, EventLog, chunked, normalize_events
from molesignal.traces.model import ARTIFACT_ROLES, FINISHED, SHA256, SLUG, SOURCES, is_trace_id, scenario_id
from molesignal.traces.playwright_trace import extract_events
from molesignal.traces.repository import ListQuery, TraceRepository

_COMMIT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
READ_ROLES = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
WRITE_ROLES = (Role.EDITOR, Role.ADMIN)
INGEST_ROLES = (Role.INGEST, Role.EDITOR, Role.ADMIN)
MAX_LIST_LIMIT = 200
MAX_EVENTS_LIMIT = 5000


@dataclass(frozen=True)
class IngestForm:
    scenario_slug: str | None = None
    source: str | None = None
    commit_sha: str | None = None
    pr_number: int | None = None
    parent_trace_id: str | None = None
    replay_from_step: int | None = None
    replay_id: str | None = None
    scenario_title: str | None = None

    def check(self) -> None:
        if self.scenario_slug is not None and not SLUG.match(self.scenario_slug):
            raise Invalid("invalid argument: scenario_slug must be 1-200 of letters, digits, '.', '_', '/', '-'")
        if self.source is not None and self.source not in SOURCES:
            raise Invalid(f"invalid argument: source must be one of {', '.join(SOURCES)}")
        if self.commit_sha is not None and not _COMMIT.match(self.commit_sha):
            raise Invalid("invalid argument: commit_sha must be 1-64 of letters, digits, '.', '_', '-'")
        if self.pr_number is not None and not 0 < self.pr_number < 2**31:
            raise Invalid("invalid argument: pr_number must be a positive integer")
        if self.parent_trace_id is not None and not is_trace_id(self.parent_trace_id):
            raise Invalid("invalid argument: parent_trace_id must be a trace id")
        if self.replay_from_step is not None and not 0 <= self.replay_from_step < 2**31:
            raise Invalid("invalid argument: replay_from_step must be a non-negative integer")
        if self.scenario_title is not None and len(self.scenario_title) > 500:
            raise Invalid("invalid argument: scenario_title is longer than 500 characters")


def check_access(principal: Principal, item: Item, roles: tuple[Role, ...]) -> None:
    """Spec 003 answers another org's trace with 403 (not 404 as the /api/v1 family does)."""
    if principal.role is not Role.ROOT and item.get("org_id") != principal.org_id:
        raise Forbidden("forbidden: this trace belongs to another org", code="cross_org")
    principal.require(*roles)


def check_sha256(sha256: str) -> None:
    if not SHA256.match(sha256):
        raise Invalid("invalid argument: sha256 must be 64 lower-case hex digits (no 'sha256:' prefix)")


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_EVENTS_LIMIT:
        raise Invalid(f"invalid argument: limit must be 1-{MAX_EVENTS_LIMIT}")
    if offset < 0:
        raise Invalid("invalid argument: offset must be 0 or more")


def _source(form: IngestForm, summary: bundles.Summary) -> str | None:
    source = form.source or summary.extra.get("source")
    if source is not None and source not in SOURCES:
        raise Invalid(f"invalid argument: summary.json source must be one of {', '.join(SOURCES)}")
    return None if source is None else str(source)


def _search_text(item: Item) -> str:
    parts = [
        item.get("scenario_slug"),
        item.get("scenario_title"),
        item.get("failure_signature"),
        item.get("code_sha"),
        item.get("status"),
        (item.get("first_failure") or {}).get("message"),
    ]
    return " ".join(str(p) for p in parts if p).lower()[:2000]


def first_failure(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first failing assertion, else the first failing step or event."""
    failing = [e for e in events if e.get("ok") is False]
    if not failing:
        return None
    chosen = next((e for e in failing if e.get("kind") == "assertion"), failing[0])
    return {k: chosen.get(k) for k in ("seq", "ts", "kind", "step_id", "message", "title") if chosen.get(k) is not None}


@dataclass
class Ingested:
    item: Item
    events: int


@dataclass
class TraceService:
    table: Table = field(default_factory=Table)

    def __post_init__(self) -> None:
        self.blobs = BlobStore()
        self.repo = TraceRepository(self.table)
        self.log = EventLog(self.table, self.blobs)

    # --- reads --------------------------------------------------------------------
    def trace(self, principal: Principal, trace_id: str, roles: tuple[Role, ...] = READ_ROLES) -> Item:
        if not is_trace_id(trace_id):
            raise NotFound(f"not found: trace {trace_id!r}")
        item = self.repo.get(trace_id)
        if item is None:
            raise NotFound(f"not found: trace {trace_id!r}")
        check_access(principal, item, roles)
        return item

    def list_traces(self, principal: Principal, query: ListQuery) -> tuple[list[Item], str | None]:
        principal.require(*READ_ROLES)
        if not 1 <= query.limit <= MAX_LIST_LIMIT:
            raise Invalid(f"invalid argument: limit must be 1-{MAX_LIST_LIMIT}")
        return self.repo.search(query)

    def signed_urls(self, item: Item, *, expires_s: int | None = None) -> dict[str, str | None]:
        """Presigned GETs of the trace's artifacts (none while the trace is cold)."""
        artifacts = item.get("artifacts") or {}
        blobs = item.get("blobs") or {}
        urls: dict[str, str | None] = {}
        for role in ARTIFACT_ROLES:
            sha = artifacts.get(role)
            if sha is None or item.get("tier") == "cold":
                urls[role] = None
                continue
            info = blobs.get(sha) or {}
            urls[role] = self.blobs.presign_get(
                blob_key(item["org_id"], sha),
                filename=info.get("name"),
                content_type=info.get("content_type"),
                expires_s=expires_s,
            )
        return urls

    def blob_url(self, principal: Principal, trace_id: str, sha256: str) -> str:
        check_sha256(sha256)
        return self.blob_url_of(self.trace(principal, trace_id), sha256)

    def blob_url_of(self, item: Item, sha256: str, *, expires_s: int | None = None) -> str:
        """A presigned GET of one of this trace's blobs; a blob it does not list is not found."""
        check_sha256(sha256)
        info = (item.get("blobs") or {}).get(sha256)
        if info is None:
            raise NotFound(f"not found: blob {sha256} in this trace")
        self.require_readable(item)
        return self.blobs.presign_get(
            blob_key(item["org_id"], sha256),
            filename=info.get("name"),
            content_type=info.get("content_type"),
            expires_s=expires_s,
        )

    @staticmethod
    def require_readable(item: Item) -> None:
        if item.get("tier") == "cold":
            raise Conflict(
                "conflict: this trace is in the cold tier; POST /v1/traces/{id}/restore and retry when it is hot",
                code="trace_cold",
            )

    def events(
        self, principal: Principal, trace_id: str, selection: EventFilter, *, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        check_page(limit, offset)
        return self.events_of(self.trace(principal, trace_id), selection, limit=limit, offset=offset)

    def events_of(self, item: Item, selection: EventFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
        """A slice of this trace's events (the caller has already been let in)."""
        check_page(limit, offset)
        self.require_readable(item)
        return self.log.slice(f"TRACE#{item['trace_id']}", selection, limit=limit, offset=offset)

    def all_events(self, item: Item) -> Iterator[dict[str, Any]]:
        self.require_readable(item)
        return self.log.all_events(f"TRACE#{item['trace_id']}")

    # --- bundle ingest -----------------------------------------------------------
    def bundle_from_upload(self, principal: Principal, upload_id: str) -> bytes:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
            raise Invalid("invalid argument: upload_id is malformed")
        key = upload_key(principal.org_id, upload_id)
        size = self.blobs.size(key)
        if size is None:
            raise Invalid(
                "invalid argument: no bundle was uploaded under this upload_id (PUT it to the upload URL first)"
            )
        if size > get_settings().trace_bundle_max_bytes:
            self.blobs.delete(key)
            raise Invalid(
                f"invalid bundle: larger than {get_settings().trace_bundle_max_bytes} bytes", code="invalid_bundle"
            )
        return self.blobs.get_bytes(key)

    def new_upload(self, principal: Principal) -> dict[str, Any]:
        principal.require(*INGEST_ROLES)
        upload_id = uuid.uuid4().hex
        ttl = get_settings().trace_upload_url_ttl_s
        return {
            "upload_id": upload_id,
            "method": "PUT",
            "url": self.blobs.presign_put(upload_key(principal.org_id, upload_id), expires_s=ttl),
            "expires_in": ttl,
            "max_bytes": get_settings().trace_bundle_max_bytes,
        }

    def ingest(self, principal: Principal, data: bytes, form: IngestForm, *, upload_id: str | None = None) -> Ingested:
        principal.require(*INGEST_ROLES)
        form.check()
        files = bundles.read_members(data)
        roles = bundles.artifact_roles(files)
        summary = bundles.parse_summary(roles.get("summary"))
        slug = form.scenario_slug or summary.scenario_slug
        if not slug:
            raise Invalid("invalid argument: scenario_slug is required (form field or summary.json)")
        if not SLUG.match(slug):
            raise Invalid("invalid argument: scenario_slug must be 1-200 of letters, digits, '.', '_', '/', '-'")
        if "ndjson" in roles:
            events = bundles.parse_events_ndjson(roles["ndjson"])
        elif "playwright" in roles:
            events = extract_events(roles["playwright"].data)
            derived = bundles.BundleFile.of("events.ndjson", b"".join(orjson.dumps(e) + b"\n" for e in events))
            files.append(derived)
            roles["ndjson"] = derived
        else:
            events = []
        parent = self._parent(principal, form)
        trace_id = str(uuid.uuid4())
        created = now_us()
        org_id = principal.org_id
        prefix = run_prefix(org_id, trace_id, created)
        for file in {f.sha256: f for f in files}.values():
            self.blobs.put_blob(org_id, file.sha256, file.data, file.content_type)
        chunks = self.log.write_chunks(f"TRACE#{trace_id}", prefix, events, first_chunk=0)
        status = bundles.finished_status(summary.status, events)
        failure = first_failure(events)
        times = [e["ts"] for e in events]
        item: Item = {
            "trace_id": trace_id,
            "org_id": org_id,
            "scenario_slug": slug,
            "scenario_title": form.scenario_title or summary.scenario_title or slug,
            "scenario_id": scenario_id(org_id, slug),
            "status": status,
            "source": _source(form, summary),
            "code_sha": form.commit_sha or summary.code_sha,
            "pr_number": form.pr_number,
            "failure_signature": summary.failure_signature,
            "duration_ms": summary.duration_ms
            if summary.duration_ms is not None
            else (max(times) - min(times) if times else 0),
            "started_at_ms": summary.started_at_ms or (min(times) if times else created // 1000),
            "created_at_us": created,
            "tier": "hot",
            "tier_clock_us": created,
            "pinned": False,
            "s3_prefix": prefix,
            "artifacts": {role: file.sha256 for role, file in roles.items()},
            "blobs": {f.sha256: {"name": f.name, "size": f.size, "content_type": f.content_type} for f in files},
            "first_failure": failure,
            "step_count": sum(1 for e in events if e.get("kind") in ("step", "assertion")),
            "parent_trace_id": parent,
            "replay_from_step": form.replay_from_step,
            "replay_id": form.replay_id,
            "ingested_by": principal.actor,
        }
        item["search"] = _search_text(item)
        created_item = self.repo.create(item, event_count=len(events), chunk_count=len(chunks))
        if upload_id is not None:
            self.blobs.delete(upload_key(org_id, upload_id))
        return Ingested(created_item, len(events))

    def _parent(self, principal: Principal, form: IngestForm) -> str | None:
        if form.parent_trace_id is None:
            return None
        parent = self.repo.get(form.parent_trace_id)
        if parent is None:
            raise Invalid(f"invalid argument: parent_trace_id {form.parent_trace_id} names no trace")
        check_access(principal, parent, (*INGEST_ROLES, Role.VIEWER))
        return form.parent_trace_id

    # --- live (internal) ingest ----------------------------------------------------
    def start_live(self, org_id: str, form: IngestForm) -> Item:
        form.check()
        if not form.scenario_slug:
            raise Invalid("invalid argument: scenario_slug is required")
        if self.table.get(*keys.org(org_id)) is None:
            raise Invalid(f"invalid argument: org {org_id!r} does not exist")
        trace_id = str(uuid.uuid4())
        created = now_us()
        item: Item = {
            "trace_id": trace_id,
            "org_id": org_id,
            "scenario_slug": form.scenario_slug,
            "scenario_title": form.scenario_title or form.scenario_slug,
            "scenario_id": scenario_id(org_id, form.scenario_slug),
            "status": "running",
            "source": form.source,
            "code_sha": form.commit_sha,
            "pr_number": form.pr_number,
            "duration_ms": 0,
            "started_at_ms": created // 1000,
            "created_at_us": created,
            "tier": "hot",
            "tier_clock_us": created,
            "pinned": False,
            "s3_prefix": run_prefix(org_id, trace_id, created),
            "artifacts": {},
            "blobs": {},
            "step_count": 0,
            "ingested_by": "internal",
        }
        item["search"] = _search_text(item)
        return self.repo.create(item, event_count=0, chunk_count=0)

    def append_live(self, trace_id: str, raw: list[Any]) -> int:
        item = self.repo.get(trace_id) if is_trace_id(trace_id) else None
        if item is None:
            raise NotFound(f"not found: trace {trace_id!r}")
        if item["status"] != "running":
            raise Conflict(f"conflict: trace {trace_id} is {item['status']}, not running", code="trace_not_running")
        if not raw:
            raise Invalid("invalid argument: no events")
        counted = self.repo.counters(trace_id)
        events = normalize_events(raw, source="request", first_seq=int(counted.get("event_count", 0)))
        parts = list(chunked(events))
        first_chunk, _ = self.repo.add_events(trace_id, len(events), len(parts))
        self.log.write_chunks(f"TRACE#{trace_id}", item["s3_prefix"], events, first_chunk=first_chunk)
        steps = sum(1 for e in events if e.get("kind") in ("step", "assertion"))
        failure = first_failure(events)
        if steps or (failure and not item.get("first_failure")):
            self.repo.update(
                trace_id,
                lambda current: {
                    "step_count": int(current.get("step_count", 0)) + steps,
                    "first_failure": current.get("first_failure") or failure,
                },
            )
        return int(self.repo.counters(trace_id).get("event_count", 0))

    def finish_live(
        self, trace_id: str, status: str, *, duration_ms: int | None, failure_signature: str | None
    ) -> Item:
        if status not in FINISHED:
            raise Invalid(f"invalid argument: status must be one of {', '.join(sorted(FINISHED))}")
        item = self.repo.get(trace_id) if is_trace_id(trace_id) else None
        if item is None:
            raise NotFound(f"not found: trace {trace_id!r}")
        if item["status"] != "running":
            raise Conflict(f"conflict: trace {trace_id} is already {item['status']}", code="trace_not_running")
        events = list(self.log.all_events(f"TRACE#{trace_id}"))
        ndjson = bundles.BundleFile.of("events.ndjson", b"".join(orjson.dumps(e) + b"\n" for e in events))
        self.blobs.put_blob(item["org_id"], ndjson.sha256, ndjson.data, ndjson.content_type)
        elapsed = (now_us() - int(item["created_at_us"])) // 1000

        def finish(current: Item) -> dict[str, Any]:
            updated = {
                "status": status,
                "duration_ms": duration_ms if duration_ms is not None else elapsed,
                "failure_signature": failure_signature,
                "artifacts": {**(current.get("artifacts") or {}), "ndjson": ndjson.sha256},
                "blobs": {
                    **(current.get("blobs") or {}),
                    ndjson.sha256: {"name": ndjson.name, "size": ndjson.size, "content_type": ndjson.content_type},
                },
            }
            updated["search"] = _search_text({**current, **updated})
            return updated

        return self.repo.update(trace_id, finish)


def public_summary(item: Item) -> dict[str, Any]:
    return {
        "id": item["trace_id"],
        "short_id": item.get("short_id"),
        "scenario_id": item.get("scenario_id"),
        "scenario_slug": item.get("scenario_slug"),
        "scenario_title": item.get("scenario_title"),
        "status": item.get("status"),
        "source": item.get("source"),
        "tier": item.get("tier"),
        "pinned": bool(item.get("pinned")),
        "duration_ms": item.get("duration_ms"),
        "code_sha": item.get("code_sha"),
        "pr_number": item.get("pr_number"),
        "failure_signature": item.get("failure_signature"),
        "parent_trace_id": item.get("parent_trace_id"),
        "created_at": iso(int(item["created_at_us"])),
    }


def public_detail(item: Item, counters: Item, signed_urls: dict[str, str | None]) -> dict[str, Any]:
    blobs = item.get("blobs") or {}
    share_expires = item.get("share_expires_at_us")
    return {
        **public_summary(item),
        "s3_prefix": item.get("s3_prefix"),
        "signed_urls": signed_urls,
        "signed_urls_expire_in": get_settings().trace_signed_url_ttl_s,
        "replay_from_step": item.get("replay_from_step"),
        "total_size_bytes": sum(int(b.get("size", 0)) for b in blobs.values()),
        "blob_count": len(blobs),
        "blobs": [
            {"sha256": sha, "name": b.get("name"), "size": b.get("size"), "content_type": b.get("content_type")}
            for sha, b in sorted(blobs.items(), key=lambda kv: str(kv[1].get("name")))
        ],
        "event_count": int(counters.get("event_count", 0)),
        "step_count": int(item.get("step_count", 0)),
        "started_at": iso(int(item["started_at_ms"]) * 1000) if item.get("started_at_ms") else None,
        "first_failure": item.get("first_failure"),
        "share": {
            "visibility": item.get("share_visibility"),
            "expires_at": iso(int(share_expires)) if share_expires else None,
        }
        if item.get("share_visibility")
        else None,
        "restore_status": item.get("restore_status"),
    }
