"""The read-only trace viewer behind ``/r/{shortId}`` (and ``/embed``): one server-rendered
page — step timeline, the failing assertion, network, console, video. Every value from the
bundle is HTML-escaped; the page runs no script, and its Content-Security-Policy allows
nothing but its own inline styles and the presigned video."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlparse

from molesignal.clock import iso
from molesignal.storage.table import Item
from molesignal.traces.digest import Digest, is_console_error, is_network_error, step_title

MAX_ROWS = 2000

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #dde1e7}
h1{font-size:18px;margin:0 0 4px} h2{font-size:15px;margin:20px 0 8px}
main{padding:0 20px 20px} .meta{color:#5a6270} .ok{color:#167a3e} .fail{color:#b42318}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;background:#e8eaee}
.badge.failed,.badge.error{background:#fde8e7;color:#b42318} .badge.passed{background:#e3f4ea;color:#167a3e}
.failure{background:#fff4f3;border:1px solid #f3c1bd;padding:10px 14px;border-radius:6px}
table{border-collapse:collapse;width:100%;background:#fff} td,th{border-bottom:1px solid #eceef2;
padding:4px 8px;text-align:left;vertical-align:top} th{font-weight:600;color:#5a6270}
tr.failed td{background:#fff7f6} code{font-size:12px} video{max-width:100%;background:#000}
""".strip()


def content_security_policy(video_url: str | None, *, embed: bool) -> str:
    media = "'none'"
    if video_url:
        parsed = urlparse(video_url)
        media = f"{parsed.scheme}://{parsed.netloc}"
    ancestors = "*" if embed else "'none'"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; media-src {media}; "
        f"frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
    )


def _row(cells: list[Any], css: str = "") -> str:
    tds = "".join(f"<td>{escape('' if c is None else str(c))}</td>" for c in cells)
    return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"


def _table(headers: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="meta">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    more = "" if len(rows) <= MAX_ROWS else f'<p class="meta">{len(rows) - MAX_ROWS} more not shown.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows[:MAX_ROWS])}</tbody></table>{more}"


def render_viewer(item: Item, events: Digest, *, video_url: str | None, embed: bool) -> str:
    title = str(item.get("scenario_title") or item.get("scenario_slug") or "trace")
    status = str(item.get("status"))
    failing = events.first_failing_step()
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<meta name="robots" content="noindex">',
        f"<title>{escape(title)} — trace {escape(str(item.get('short_id')))}</title>",
        f"<style>{_STYLE}</style></head><body>",
    ]
    if not embed:
        parts.append(
            f'<header><h1>{escape(title)} <span class="badge {escape(status)}">{escape(status)}</span></h1>'
            f'<div class="meta">scenario <code>{escape(str(item.get("scenario_slug")))}</code> · '
            f"{escape(str(item.get('duration_ms')))} ms · commit {escape(str(item.get('code_sha') or '—'))} · "
            f"{escape(iso(int(item['created_at_us'])))} · tier {escape(str(item.get('tier')))}</div></header>"
        )
    parts.append("<main>")
    if failing is not None:
        signature = item.get("failure_signature")
        signed = f"<br>Signature: <code>{escape(str(signature))}</code>" if signature else ""
        parts.append(
            f'<h2>Failing {escape(str(failing["kind"]))}</h2><div class="failure" role="alert">'
            f"<strong>Step {failing['index']}: {escape(step_title(failing))}</strong><br>"
            f"{escape(str(failing.get('message') or 'no message'))}{signed}</div>"
        )
    if video_url:
        parts.append(f'<h2>Video</h2><video controls preload="metadata" src="{escape(video_url)}"></video>')
    step_rows = [
        _row(
            [
                s["index"],
                s["kind"],
                step_title(s),
                "✗" if s.get("ok") is False else "✓",
                s.get("duration_ms"),
                s.get("message") if s.get("ok") is False else "",
            ],
            "failed" if s.get("ok") is False else "",
        )
        for s in events.steps
    ]
    parts.append('<h2 id="steps">Steps</h2>')
    parts.append(_table(["#", "kind", "step", "ok", "ms", "message"], step_rows, "No steps recorded."))
    network_rows = [
        _row(
            [events.index_of(e), e.get("method"), e.get("url"), e.get("status"), e.get("duration_ms")],
            "failed" if is_network_error(e) else "",
        )
        for e in events.network
        if e["kind"] == "network.response"
    ]
    parts.append('<h2 id="network">Network</h2>')
    parts.append(_table(["step", "method", "url", "status", "ms"], network_rows, "No network traffic recorded."))
    console_rows = [
        _row(
            [events.index_of(e), e.get("level") or e["kind"], e.get("message")], "failed" if is_console_error(e) else ""
        )
        for e in events.console + events.errors
    ]
    parts.append('<h2 id="console">Console</h2>')
    parts.append(_table(["step", "level", "message"], console_rows, "No console output recorded."))
    if events.truncated:
        parts.append('<p class="meta">Only the first 200,000 events are shown.</p>')
    parts.append("</main></body></html>")
    return "".join(parts)
