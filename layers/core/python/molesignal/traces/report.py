"""The forensic Markdown report of a trace (``GET /v1/traces/{id}/report.md``)."""

from __future__ import annotations

from typing import Any

from molesignal.clock import iso
from molesignal.storage.table import Item
from molesignal.traces.digest import Digest, is_console_error, is_network_error, step_title

NEARBY_STEPS = 2  # network and console errors this many steps around the failure are "around it"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:300]


def render_report(item: Item, events: Digest, *, event_count: int, links: dict[str, str]) -> str:
    title = item.get("scenario_title") or item.get("scenario_slug")
    lines = [
        f"# Trace report: {title}",
        "",
        f"- **Status:** {item.get('status')}",
        f"- **Scenario:** `{item.get('scenario_slug')}` ({item.get('scenario_id')})",
        f"- **Trace:** `{item['trace_id']}` (short id `{item.get('short_id')}`)",
        f"- **Source:** {item.get('source') or '—'}; **commit:** {item.get('code_sha') or '—'}; "
        f"**PR:** {item.get('pr_number') or '—'}",
        f"- **Duration:** {item.get('duration_ms')} ms; **created:** {iso(int(item['created_at_us']))}; "
        f"**tier:** {item.get('tier')}",
        f"- **Events:** {event_count}; **steps:** {len(events.steps)}",
    ]
    if item.get("parent_trace_id"):
        lines.append(f"- **Replay of:** `{item['parent_trace_id']}` from step {item.get('replay_from_step')}")
    lines += ["", "## Failure", ""]
    failing = events.first_failing_step()
    lines.append(f"**Failure signature:** `{item.get('failure_signature') or '—'}`")
    lines.append("")
    if failing is None:
        lines.append("No step or assertion failed.")
        failing_index = None
    else:
        failing_index = int(failing["index"])
        lines += [
            f"**First failing {failing['kind']}:** step {failing_index} — {_cell(step_title(failing))}",
            "",
            f"> {_cell(failing.get('message') or 'no message')}",
        ]
    lines += ["", "## Steps", "", "| # | kind | step | ok | duration ms | message |", "|---|---|---|---|---|---|"]
    for step in events.steps:
        mark = "✗" if step.get("ok") is False else "✓"
        lines.append(
            f"| {step['index']} | {step['kind']} | {_cell(step_title(step))} | {mark} | "
            f"{_cell(step.get('duration_ms'))} | {_cell(step.get('message') if step.get('ok') is False else '')} |"
        )

    def near(event: dict[str, Any]) -> str:
        index = events.index_of(event)
        if failing_index is None or index is None:
            return ""
        return " ← around the failure" if abs(index - failing_index) <= NEARBY_STEPS else ""

    network_errors = [e for e in events.network if is_network_error(e)]
    lines += ["", "## Network errors", ""]
    lines += [
        f"- step {events.index_of(e) or '?'}: `{_cell(e.get('method'))} {_cell(e.get('url'))}` → "
        f"{_cell(e.get('status') or e.get('message'))}{near(e)}"
        for e in network_errors
    ] or ["None."]
    console_errors = [e for e in events.console + events.errors if is_console_error(e)]
    lines += ["", "## Console errors", ""]
    lines += [f"- step {events.index_of(e) or '?'}: {_cell(e.get('message'))}{near(e)}" for e in console_errors] or [
        "None."
    ]
    lines += ["", "## Links", ""]
    lines += [f"- {name}: {url}" for name, url in links.items()]
    if events.truncated:
        lines += ["", "_The report covers the first 200,000 events only._"]
    return "\n".join(lines) + "\n"
