"""``python -m molesignal sql``: an interactive SQL client for ``POST /v1/api/sql`` (spec 004).

Interactive (a terminal on stdin): statements end with ``;`` and may span lines; results are
printed as aligned tables; line editing and history (``~/.molesignal/sql_history``) come from
readline; ``USE ns`` is remembered and sent as ``namespace_id`` with every later request, and
kept for the next session (per server URL, ``~/.molesignal/sql_state.json``), as spec 004
describes for its CLI. ``\\q`` (or ``quit``, ``exit``, Ctrl-D) leaves.

Non-interactive: ``-c 'SQL'`` or ``-f file.sql`` (or SQL piped on stdin) runs once and exits 1
on an error; ``--format table|json|csv`` chooses the output.

Credentials: ``--token`` or ``MOLESIGNAL_SQL_TOKEN``; otherwise ``--user``/``--password`` or
``MOLESIGNAL_SQL_USER``/``MOLESIGNAL_SQL_PASSWORD`` sign in through ``/api/v1/auth/login``.
Only the standard library talks HTTP here, so the shell runs wherever MoleSignal's code does.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from molesignal.settings import get_settings

_USE = re.compile(r"^\s*USE\s+(?:NAMESPACE\s+)?\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*$", re.IGNORECASE)
_QUIT = {"\\q", "quit", "exit", "quit;", "exit;"}
_TIMEOUT_S = 60


class ShellError(Exception):
    """An answer that is not a success: its spec 004 code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class Connection:
    url: str
    token: str
    namespace: str | None = None

    def post(self, path: str, body: dict[str, Any], *, auth: bool = True) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - the URL is the user's own server
            self.url.rstrip("/") + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
                return dict(json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            raise _answer_error(exc) from None
        except urllib.error.URLError as exc:
            raise ShellError("CONNECTION_FAILED", f"{self.url}: {exc.reason}") from None

    def sql(self, text: str) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sql": text}
        if self.namespace:
            body["namespace_id"] = self.namespace
        answer = self.post("/v1/api/sql", body)
        if answer.get("status") != "success":
            error = answer.get("error") or {}
            raise ShellError(str(error.get("code", "ERROR")), str(error.get("message", answer)))
        used = [m.group(1) for m in map(_USE.match, split_statements(text)) if m]
        if used:  # the request succeeded, so every USE in it did
            self.namespace = used[-1]
        return list(answer.get("results") or [])


def _answer_error(exc: urllib.error.HTTPError) -> ShellError:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    error = body.get("error")
    if isinstance(error, dict):  # spec 004 envelope
        return ShellError(str(error.get("code", exc.code)), str(error.get("message", "")))
    return ShellError(str(body.get("code", exc.code)), str(error or exc.reason))


def split_statements(text: str) -> list[str]:
    """Statements separated by ``;`` outside quotes and comments (for noticing ``USE``)."""
    statements, current, quote = [], [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render_table(result: dict[str, Any]) -> str:
    names = [str(c["name"]) for c in result.get("schema") or []]
    if not names:
        return str(result.get("message") or f"OK ({result.get('row_count', 0)} rows)")
    rows = [[_text(v) for v in row] for row in result.get("rows") or []]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    numeric = [
        all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in result.get("rows") or [])
        for i in range(len(names))
    ]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    count = int(result.get("row_count", len(rows)))
    who = f", as {result['as_user']}" if result.get("as_user") else ""
    body = [rule, line(names), rule, *(line(r) for r in rows), rule]
    return "\n".join([*body, f"({count} row{'s' if count != 1 else ''}{who})"])


def render_csv(result: dict[str, Any]) -> str:
    names = [str(c["name"]) for c in result.get("schema") or []]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if names:
        writer.writerow(names)
        writer.writerows([[("" if v is None else _text(v)) for v in row] for row in result.get("rows") or []])
    return out.getvalue().rstrip("\n")


def show(results: list[dict[str, Any]], output_format: str, out: TextIO) -> None:
    if output_format == "json":
        out.write(json.dumps(results, indent=1) + "\n")
        return
    render = render_csv if output_format == "csv" else render_table
    out.write("\n\n".join(render(r) for r in results) + "\n")


@dataclass
class State:
    """The last namespace per server, kept between sessions."""

    path: Path
    namespaces: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            found = {}
        namespaces = found.get("namespaces") if isinstance(found, dict) else None
        return cls(path, {str(k): str(v) for k, v in (namespaces or {}).items()})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"namespaces": self.namespaces}, indent=1))


def _home() -> Path:
    configured = get_settings().sql_home
    return Path(configured).expanduser() if configured else Path.home() / ".molesignal"


def _statements(lines: Iterator[str], prompt: Any) -> Iterator[str]:
    """Complete statements (text up to a ``;`` at a line's end), or a quit command."""
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not pending and stripped.lower() in _QUIT:
            return
        if not stripped and not pending:
            continue
        pending.append(line)
        if stripped.endswith(";"):
            yield "\n".join(pending)
            pending = []
        prompt(continued=bool(pending))
    if pending and "".join(pending).strip():
        yield "\n".join(pending)


def interactive(connection: Connection, state: State, output_format: str) -> int:
    import readline

    history = _home() / "sql_history"
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(history)
    readline.set_history_length(1000)
    prompt_text = {"value": ""}

    def prompt(*, continued: bool = False) -> None:
        ns = connection.namespace or "default"
        prompt_text["value"] = f"{' ' * len(ns)}    -> " if continued else f"molesignal:{ns}> "

    def lines() -> Iterator[str]:
        while True:
            try:
                yield input(prompt_text["value"])
            except EOFError:
                sys.stdout.write("\n")
                return
            except KeyboardInterrupt:  # abandon the statement being typed, as psql does
                sys.stdout.write("^C\n")
                yield ";"

    prompt()
    sys.stdout.write(f"Connected to {connection.url}. End statements with ';', \\q quits.\n")
    for statement in _statements(lines(), prompt):
        if statement.strip() == ";":
            prompt()
            continue
        try:
            show(connection.sql(statement), output_format, sys.stdout)
        except ShellError as exc:
            sys.stdout.write(f"ERROR {exc}\n")
        if connection.namespace:
            state.namespaces[connection.url] = connection.namespace
            state.save()
        prompt()
        sys.stdout.flush()
    history.parent.mkdir(parents=True, exist_ok=True)
    readline.write_history_file(history)
    return 0


def batch(connection: Connection, text: str, output_format: str) -> int:
    try:
        results = connection.sql(text)
    except ShellError as exc:
        sys.stderr.write(f"ERROR {exc}\n")
        return 1
    show(results, output_format, sys.stdout)
    return 0


def sign_in(url: str, token: str, user: str, password: str) -> str:
    if token:
        return token
    if not user or not password:
        raise ShellError("NO_CREDENTIALS", "give --token (MOLESIGNAL_SQL_TOKEN) or --user and --password")
    answer = Connection(url, "").post("/api/v1/auth/login", {"user": user, "password": password}, auth=False)
    return str(answer["access_token"])


def main(argv: list[str]) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="molesignal sql", description="SQL shell for MoleSignal (spec 004)")
    parser.add_argument("--url", default=settings.sql_url or f"http://{settings.host}:{settings.port}")
    parser.add_argument("--token", default=settings.sql_token)
    parser.add_argument("--user", default=settings.sql_user)
    parser.add_argument("--password", default=settings.sql_password)
    parser.add_argument("-n", "--namespace", help="default namespace (otherwise the last USE on this server)")
    parser.add_argument("-c", "--command", help="run this SQL and exit")
    parser.add_argument("-f", "--file", type=Path, help="run the SQL in this file and exit")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    args = parser.parse_args(argv)
    state = State.load(_home() / "sql_state.json")
    try:
        token = sign_in(args.url, args.token, args.user, args.password)
    except ShellError as exc:
        sys.stderr.write(f"ERROR {exc}\n")
        return 1
    connection = Connection(args.url, token, args.namespace or state.namespaces.get(args.url))
    if args.command is not None:
        return batch(connection, args.command, args.format)
    if args.file is not None:
        return batch(connection, args.file.read_text(), args.format)
    if not sys.stdin.isatty():
        return batch(connection, sys.stdin.read(), args.format)
    return interactive(connection, state, args.format)
