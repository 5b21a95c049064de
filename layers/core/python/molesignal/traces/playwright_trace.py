"""Steps, network and console events read from a Playwright ``trace.zip``.

A Playwright trace is a zip whose ``<name>.trace`` members are NDJSON of trace events and
whose ``<name>.network`` members hold HAR entries as ``resource-snapshot`` events (format
version 9 as written by Playwright 1.4x-1.6x; older traces carry the same fields). Times
are monotonic milliseconds; the ``context-options`` event pairs one with the wall clock.

Mapping: each API call (``before``/``after``, or one ``action``) becomes a ``step`` event
(``assertion`` for ``expect`` calls) at its start with ``duration_ms``, ``ok`` and the
error message; each HAR entry a ``network.request`` at its start and a
``network.response`` (``status``) at its end; ``console`` messages and page errors are
``console`` and ``error`` events; DOM snapshots are ``dom`` events naming the snapshot.
Every non-step event gets the ``step_id`` of the call running at its time.
"""

from __future__ import annotations

import bisect
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

import orjson

from molesignal.errors import Invalid


@dataclass
class _Call:
    call_id: str
    start: float
    end: float | None = None
    title: str = ""
    method: str = ""
    class_name: str = ""
    parent_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    last_log: str | None = None


@dataclass
class _Context:
    wall_offset_ms: float = 0.0  # wall = monotonic + offset
    calls: dict[str, _Call] = field(default_factory=dict)
    others: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _lines(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    if name not in archive.namelist():
        return []
    out = []
    for line in archive.read(name).splitlines():
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a trace cut off mid-line (the browser died) keeps what it has
        if isinstance(value, dict):
            out.append(value)
    return out


def _title(call: _Call) -> str:
    if call.title:
        return call.title
    target = call.params.get("selector") or call.params.get("url") or call.params.get("expression") or ""
    name = f"{call.class_name}.{call.method}" if call.class_name else call.method
    return f"{name} {target}".strip() if isinstance(target, str) else name


def _error_message(error: Any) -> str | None:
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("name") or "error")
    return None if error is None else str(error)


def _read_context(archive: zipfile.ZipFile, prefix: str) -> _Context:
    context = _Context()
    for event in _lines(archive, f"{prefix}.trace") + _lines(archive, f"{prefix}.network"):
        kind = event.get("type")
        if kind == "context-options":
            if isinstance(event.get("wallTime"), int | float) and isinstance(event.get("monotonicTime"), int | float):
                context.wall_offset_ms = float(event["wallTime"]) - float(event["monotonicTime"])
        elif kind in ("before", "action"):
            call = context.calls.setdefault(str(event.get("callId")), _Call(str(event.get("callId")), 0.0))
            call.start = float(event.get("startTime") or 0.0)
            call.title = str(event.get("title") or "")
            call.method = str(event.get("method") or "")
            call.class_name = str(event.get("class") or "")
            call.parent_id = event.get("parentId")
            call.params = _obj(event.get("params"))
            if kind == "action":
                call.end = float(event.get("endTime") or call.start)
                call.error = _error_message(event.get("error"))
        elif kind == "after":
            call = context.calls.setdefault(str(event.get("callId")), _Call(str(event.get("callId")), 0.0))
            call.end = float(event.get("endTime") or 0.0)
            call.error = _error_message(event.get("error"))
        elif kind == "log" and isinstance(event.get("message"), str):
            logged = context.calls.get(str(event.get("callId")))
            if logged is not None:
                logged.last_log = event["message"].strip()
        elif kind == "console":
            location = _obj(event.get("location"))
            context.others.append(
                (
                    _num(event.get("time")),
                    {
                        "kind": "console",
                        "level": str(event.get("messageType") or "log"),
                        "message": str(event.get("text") or ""),
                        "url": location.get("url"),
                        "ok": event.get("messageType") != "error",
                    },
                )
            )
        elif kind == "event" and event.get("method") == "pageError":
            params = _obj(event.get("params"))
            context.others.append(
                (
                    _num(event.get("time")),
                    {"kind": "error", "ok": False, "message": _error_message(params.get("error")) or "page error"},
                )
            )
        elif kind == "resource-snapshot":
            context.others.extend(_network(event.get("snapshot")))
        elif kind == "frame-snapshot":
            snapshot = _obj(event.get("snapshot"))
            context.others.append(
                (
                    _num(snapshot.get("timestamp")),
                    {
                        "kind": "dom",
                        "snapshot": snapshot.get("snapshotName"),
                        "url": snapshot.get("frameUrl"),
                        "call_id": snapshot.get("callId"),
                    },
                )
            )
    return context


def _network(entry: Any) -> list[tuple[float, dict[str, Any]]]:
    if not isinstance(entry, dict):
        return []
    request, response = _obj(entry.get("request")), _obj(entry.get("response"))
    start = entry.get("_monotonicTime")
    if not isinstance(start, int | float):
        return []
    took = max(0.0, _num(entry.get("time")))
    url, method = request.get("url"), request.get("method")
    status = response.get("status")
    status = int(status) if isinstance(status, int | float) else None
    failed = response.get("_failureText")
    request_event = {"kind": "network.request", "method": method, "url": url}
    response_event = {
        "kind": "network.response",
        "method": method,
        "url": url,
        "status": status,
        "duration_ms": round(float(took), 3),
        "ok": failed is None and status is not None and 0 < status < 400,
    }
    if failed:
        response_event["message"] = str(failed)
    elif status is not None and status >= 400:
        response_event["message"] = f"{method} {url} answered {status}"
    return [(float(start), request_event), (float(start) + took, response_event)]


def extract_events(trace_zip: bytes) -> list[dict[str, Any]]:
    """The events of a Playwright trace in MoleSignal's shape, ordered by time, numbered from 0."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(trace_zip))
    except zipfile.BadZipFile as exc:
        raise Invalid("invalid bundle: the Playwright trace is not a zip", code="invalid_bundle") from exc
    with archive:
        prefixes = sorted(name[: -len(".trace")] for name in archive.namelist() if name.endswith(".trace"))
        if not prefixes:
            raise Invalid("invalid bundle: the Playwright trace holds no .trace file", code="invalid_bundle")
        contexts = [_read_context(archive, prefix) for prefix in prefixes]
    timed: list[tuple[float, int, dict[str, Any]]] = []
    order = 0
    for context in contexts:
        offset = context.wall_offset_ms
        calls = sorted((c for c in context.calls.values() if c.start), key=lambda c: c.start)
        starts = [c.start for c in calls]
        for call in calls:
            end = call.end if call.end is not None else call.start
            is_expect = call.method.startswith("expect") or call.title.lower().startswith("expect")
            step: dict[str, Any] = {
                "kind": "assertion" if is_expect else "step",
                "step_id": call.call_id,
                "title": _title(call),
                "method": call.method,
                "duration_ms": round(max(0.0, end - call.start), 3),
                "ok": call.error is None,
            }
            if call.parent_id:
                step["parent_step_id"] = call.parent_id
            if call.error is not None:
                # "Expect failed" alone says little; the call's last log line says what was seen.
                step["message"] = f"{call.error}: {call.last_log}" if call.last_log else call.error
            timed.append((call.start + offset, order, step))
            order += 1
        for moment, event in context.others:
            # A response belongs to the step that sent its request.
            asked = moment - float(event.get("duration_ms") or 0.0) if event["kind"] == "network.response" else moment
            owner = _owner(calls, starts, asked)
            if owner is not None:
                event["step_id"] = owner
            timed.append((moment + offset, order, event))
            order += 1
    timed.sort(key=lambda t: (t[0], t[1]))
    events = []
    for seq, (moment, _, event) in enumerate(timed):
        events.append({"seq": seq, "ts": int(moment), **{k: v for k, v in event.items() if v is not None}})
    return events


def _owner(calls: list[_Call], starts: list[float], moment: float) -> str | None:
    """The innermost call running at ``moment``, else the last one started before it."""
    index = bisect.bisect_right(starts, moment) - 1
    best = None
    for call in reversed(calls[max(0, index - 50) : index + 1]):
        end = call.end if call.end is not None else call.start
        if call.start <= moment <= end:
            return call.call_id
        if best is None:
            best = call.call_id
    return best
