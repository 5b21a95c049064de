"""The org's log streams in the single table (``ORG#<org>#LOGSTREAMS`` / ``<id>``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from molesignal.auth.principal import Principal
from molesignal.clock import now_us
from molesignal.errors import Conflict, NotFound
from molesignal.logstreams.model import (
    DEFAULTS,
    FIELDS,
    MAX_LOG_STREAMS,
    SEALER,
    SECRET_FIELDS,
    LogStream,
    LogStreamType,
    check_config,
    check_name,
    new_log_stream_id,
    target_of,
)
from molesignal.settings import get_settings
from molesignal.storage.table import ConditionFailed, Table

_memo: dict[str, tuple[list[LogStream], float]] = {}
_memo_lock = threading.Lock()


def partition(org_id: str) -> str:
    return f"ORG#{org_id}#LOGSTREAMS"


class LogStreams:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    # --- reading --------------------------------------------------------------------------
    def get(self, org_id: str, stream_id: str) -> LogStream:
        item = self.table.get(partition(org_id), stream_id) if stream_id.startswith("ls_") else None
        if not item:
            raise NotFound(f"not found: log stream {stream_id!r}")
        return LogStream.from_item(item)

    def all(self, org_id: str) -> list[LogStream]:
        items = self.table.query_all(partition(org_id), consistent=True)
        return sorted((LogStream.from_item(i) for i in items), key=lambda s: s.created_at_us)

    def enabled(self, org_id: str) -> list[LogStream]:
        """The org's enabled log streams, as seen at most ``fanout_memo_s`` ago."""
        now = time.monotonic()
        with _memo_lock:
            held = _memo.get(org_id)
        if held is not None and now - held[1] < get_settings().fanout_memo_s:
            return held[0]
        found = [s for s in self.all(org_id) if s.enabled]
        with _memo_lock:
            if len(_memo) > 4096:
                _memo.clear()
            _memo[org_id] = (found, now)
        return found

    # --- writing --------------------------------------------------------------------------
    def create(
        self, principal: Principal, *, name: str, kind: LogStreamType, enabled: bool, config: dict[str, Any]
    ) -> LogStream:
        if len(self.all(principal.org_id)) >= MAX_LOG_STREAMS:
            raise Conflict(f"conflict: an org has at most {MAX_LOG_STREAMS} log streams")
        complete = {**DEFAULTS[kind], **{k: v for k, v in config.items() if v is not None}}
        check_config(kind, complete)
        stream_id = new_log_stream_id()
        moment = now_us()
        item: dict[str, Any] = {
            "pk": partition(principal.org_id),
            "sk": stream_id,
            "kind": "log_stream",
            "org_id": principal.org_id,
            "id": stream_id,
            "name": check_name(name),
            "type": kind.value,
            "enabled": enabled,
            "version": 1,
            "created_at_us": moment,
            "updated_at_us": moment,
            "created_by": principal.actor,
            **self._stored(principal.org_id, stream_id, kind, complete),
        }
        self.table.put(item, condition="attribute_not_exists(pk)")
        _forget(principal.org_id)
        return LogStream.from_item(item)

    def update(
        self,
        org_id: str,
        stream_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        config: dict[str, Any] | None = None,
    ) -> LogStream:
        current = self.get(org_id, stream_id)
        changes: dict[str, Any] = {"updated_at_us": now_us(), "version": current.version + 1}
        if name is not None:
            changes["name"] = check_name(name)
        if enabled is not None:
            changes["enabled"] = enabled
        # A new version re-seals the secrets under the same context (the memo keys on it).
        complete = {**current.settings, **current.secret_parts()}
        complete.pop("has_secret", None)
        complete.update({k: v for k, v in (config or {}).items() if v is not None})
        check_config(current.type, complete)
        changes.update(self._stored(org_id, stream_id, current.type, complete))
        names = {f"#{k}": k for k in changes}
        values = {f":{k}": v for k, v in changes.items()}
        values[":seen"] = current.version
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in changes)
        try:
            item = self.table.update(
                partition(org_id), stream_id, expression, names=names, values=values, condition="version = :seen"
            )
        except ConditionFailed as exc:
            raise Conflict(f"conflict: log stream {stream_id} changed meanwhile; read it and try again") from exc
        _forget(org_id)
        return LogStream.from_item(item)

    def delete(self, org_id: str, stream_id: str) -> None:
        self.get(org_id, stream_id)
        self.table.delete(partition(org_id), stream_id)
        _forget(org_id)

    def record_outcome(self, stream: LogStream, *, delivered: int, error: str | None) -> None:
        """The last delivery's outcome on the log stream (best effort: a deleted one is left alone)."""
        values: dict[str, Any] = {
            ":at": now_us(),
            ":outcome": "failed" if error else "delivered",
            ":n": delivered,
            ":f": 1 if error else 0,
        }
        expression = (
            "SET last_delivery_at_us = :at, last_outcome = :outcome ADD events_delivered :n, deliveries_failed :f"
        )
        if error:
            expression = expression.replace("last_outcome = :outcome", "last_outcome = :outcome, last_error = :error")
            values[":error"] = error[:512]
        else:
            expression += " REMOVE last_error"
        try:
            self.table.update(
                partition(stream.org_id), stream.id, expression, values=values, condition="attribute_exists(pk)"
            )
        except ConditionFailed:
            return

    # --- helpers --------------------------------------------------------------------------
    def _stored(self, org_id: str, stream_id: str, kind: LogStreamType, complete: dict[str, Any]) -> dict[str, Any]:
        secret = {k: v for k, v in complete.items() if k in SECRET_FIELDS}
        plain = {k: v for k, v in complete.items() if k in FIELDS[kind] and k not in SECRET_FIELDS}
        stored: dict[str, Any] = {"settings": plain, "has_secret": any(k != "url" for k in secret)}
        stored["url_display"] = target_of(kind, str(secret["url"])).display if "url" in secret else ""
        stored["sealed"] = SEALER.seal(org_id, stream_id, secret) if secret else ""
        return stored


def _forget(org_id: str) -> None:
    with _memo_lock:
        _memo.pop(org_id, None)
