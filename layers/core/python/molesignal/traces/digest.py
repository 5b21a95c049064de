"""A trace's events grouped the way the report, the diff and the viewer read them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from molesignal.traces.model import NETWORK_KINDS, STEP_KINDS

MAX_DIGEST_EVENTS = 200_000  # beyond this the digest is cut (and says so)


@dataclass
class Digest:
    # step and assertion events, each with "index": its step's number, from 1
    steps: list[dict[str, Any]] = field(default_factory=list)
    network: list[dict[str, Any]] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    dom: list[dict[str, Any]] = field(default_factory=list)
    clone: list[dict[str, Any]] = field(default_factory=list)
    step_index: dict[str, int] = field(default_factory=dict)  # step_id -> its step number
    truncated: bool = False
    numbered: int = 0  # step numbers given so far

    def index_of(self, event: dict[str, Any]) -> int | None:
        step_id = event.get("step_id")
        return self.step_index.get(str(step_id)) if step_id is not None else None

    def first_failing_step(self) -> dict[str, Any] | None:
        failing = [s for s in self.steps if s.get("ok") is False]
        return next((s for s in failing if s["kind"] == "assertion"), failing[0] if failing else None)


def digest(events: Iterable[dict[str, Any]]) -> Digest:
    out = Digest()
    for count, event in enumerate(events):
        if count >= MAX_DIGEST_EVENTS:
            out.truncated = True
            break
        kind = event.get("kind")
        if kind in STEP_KINDS:
            # Step numbers count distinct step ids (a step and its assertions share one).
            step_id = event.get("step_id")
            if step_id is None or str(step_id) not in out.step_index:
                out.numbered += 1
                if step_id is not None:
                    out.step_index[str(step_id)] = out.numbered
            index = out.numbered if step_id is None else out.step_index[str(step_id)]
            out.steps.append({**event, "index": index})
        elif kind in NETWORK_KINDS:
            out.network.append(event)
        elif kind == "console":
            out.console.append(event)
        elif kind == "error":
            out.errors.append(event)
        elif kind == "dom":
            out.dom.append(event)
        elif kind == "clone":
            out.clone.append(event)
    return out


def step_title(step: dict[str, Any]) -> str:
    return str(step.get("title") or step.get("message") or step.get("step_id") or step.get("kind"))


def is_network_error(event: dict[str, Any]) -> bool:
    status = event.get("status")
    return event.get("kind") == "network.response" and (
        event.get("ok") is False or (isinstance(status, int) and status >= 400)
    )


def is_console_error(event: dict[str, Any]) -> bool:
    return event.get("ok") is False or str(event.get("level", "")).lower() in ("error", "assert")
