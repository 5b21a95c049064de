"""The SQL shell (``python -m molesignal sql``) against the running system: driven through a
pseudo-terminal like a person would (prompt, multi-line statements, aligned tables, USE kept
between sessions, history), and non-interactively (-c, -f, stdin, --format json|csv)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import Session, create_org, create_user, sql_ok


@pytest.fixture
def dba(client: httpx.Client, root: Session) -> Session:
    admin = create_user(client, root, "admin", org_id=create_org(client, root))
    dba = create_user(client, admin, "dba")
    sql_ok(client, dba, "CREATE NAMESPACE app; CREATE SHARED TABLE app.items (id BIGINT PRIMARY KEY, name TEXT)")
    return dba


def shell_env(base_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLESIGNAL_SQL_")}
    return {**env, "MOLESIGNAL_SQL_URL": base_url, "MOLESIGNAL_SQL_HOME": str(home), "TERM": "dumb", **extra}


def run_shell(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "molesignal", "sql", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


class Terminal:
    """The shell on a pseudo-terminal: what is typed, and what it printed so far."""

    def __init__(self, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "molesignal", "sql"], stdin=slave, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never printed {text!r}; got:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace").replace("\r\n", "\n")
                except OSError:  # the shell exited
                    break
        assert text in self.seen, self.seen
        before, _, self.seen = self.seen.partition(text)
        return before

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> int:
        code = self.process.wait(timeout=30)
        os.close(self.master)
        return code


def test_an_interactive_session_through_a_pseudo_terminal(base_url: str, dba: Session, tmp_path: Path) -> None:
    env = shell_env(base_url, tmp_path, MOLESIGNAL_SQL_TOKEN=dba.access_token)
    first = Terminal(env)
    first.expect("molesignal:default> ")
    first.type("USE app;")
    first.expect("molesignal:app> ")
    first.type("INSERT INTO items (id, name)")  # a statement over two lines
    first.expect("-> ")
    first.type("VALUES (1, 'apple'), (22, 'kiwi');")
    first.expect("molesignal:app> ")
    first.type("SELECT id, name FROM items ORDER BY id;")
    table = first.expect("molesignal:app> ")
    assert "| id | name  |" in table
    assert "|  1 | apple |" in table and "| 22 | kiwi  |" in table  # numbers right-aligned
    assert "(2 rows" in table
    first.type("SELECT * FROM nowhere;")
    assert "ERROR TABLE_NOT_FOUND" in first.expect("molesignal:app> ")
    first.type("\\q")
    assert first.close() == 0
    assert "SELECT id, name FROM items ORDER BY id;" in (tmp_path / "sql_history").read_text()
    # the next session starts in the namespace the last one used
    second = Terminal(env)
    second.expect("molesignal:app> ")
    second.type("SELECT count(*) AS n FROM items;")
    assert "| n |" in second.expect("molesignal:app> ")
    os.write(second.master, b"\x04")  # Ctrl-D
    assert second.close() == 0


def test_non_interactive_modes_and_formats(base_url: str, dba: Session, tmp_path: Path) -> None:
    env = shell_env(base_url, tmp_path, MOLESIGNAL_SQL_TOKEN=dba.access_token)
    sql_ok_env = run_shell(env, "-n", "app", "-c", "INSERT INTO items VALUES (7, 'fig, dried')")
    assert sql_ok_env.returncode == 0, sql_ok_env.stderr
    as_json = run_shell(env, "-c", "SELECT id, name FROM app.items", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    results: list[dict[str, Any]] = json.loads(as_json.stdout)
    assert results[0]["rows"] == [[7, "fig, dried"]] and results[0]["schema"][0]["name"] == "id"
    as_csv = run_shell(env, "-c", "SELECT id, name FROM app.items", "--format", "csv")
    assert as_csv.stdout == 'id,name\n7,"fig, dried"\n'
    script = tmp_path / "q.sql"
    script.write_text("USE app;\nSELECT name FROM items WHERE id = 7;\n")
    from_file = run_shell(env, "-f", str(script), "--format", "csv")
    assert from_file.stdout.endswith('name\n"fig, dried"\n'), from_file.stdout
    piped = run_shell(env, "--format", "csv", stdin="SELECT 1 AS one")
    assert piped.stdout == "one\n1\n"


def test_the_molesignal_command_runs_the_same_shell(base_url: str, dba: Session, tmp_path: Path) -> None:
    env = shell_env(base_url, tmp_path, MOLESIGNAL_SQL_TOKEN=dba.access_token, MOLESIGNAL_PYTHON=sys.executable)
    command = Path(__file__).resolve().parents[2] / "bin" / "molesignal"
    answer = subprocess.run(
        [str(command), "sql", "-c", "SELECT 2 AS two", "--format", "csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (answer.returncode, answer.stdout) == (0, "two\n2\n"), answer.stderr


def test_errors_exit_1_with_the_documents_code(base_url: str, dba: Session, tmp_path: Path) -> None:
    env = shell_env(base_url, tmp_path, MOLESIGNAL_SQL_TOKEN=dba.access_token)
    failed = run_shell(env, "-c", "SELEC 1")
    assert failed.returncode == 1 and "ERROR INVALID_SQL" in failed.stderr
    refused = run_shell(shell_env(base_url, tmp_path, MOLESIGNAL_SQL_TOKEN="ms_bogus_token"), "-c", "SELECT 1")
    assert refused.returncode == 1 and "ERROR" in refused.stderr
    nothing = run_shell(shell_env(base_url, tmp_path), "-c", "SELECT 1")
    assert nothing.returncode == 1 and "NO_CREDENTIALS" in nothing.stderr


def test_signs_in_with_a_user_and_password_from_the_environment(
    base_url: str, client: httpx.Client, root: Session, tmp_path: Path
) -> None:
    admin = create_user(client, root, "admin", org_id=create_org(client, root))
    env = shell_env(base_url, tmp_path, MOLESIGNAL_SQL_USER=admin.user, MOLESIGNAL_SQL_PASSWORD=admin.password)
    answer = run_shell(env, "-c", "SHOW NAMESPACES", "--format", "json")
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)[0]["row_count"] >= 1
