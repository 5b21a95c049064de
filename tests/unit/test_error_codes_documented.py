"""Every machine-readable error code an answer can carry is in docs/api.md's table, and
every code there is one the code base produces: read from the source (``code=`` arguments,
rejection codes, the error classes' own codes where a class is raised without one, the web
layer's status-derived codes), so a new code cannot ship undocumented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "functions", ROOT / "layers" / "core" / "python" / "molesignal"]
# Codes of errors that are caught inside the service and never become an answer.
NEVER_ANSWERED = {"content_undecryptable": "the content reader reports such a record in its own `error` field"}
# Codes built at run time from a value: f"{kind.value}_rate_limited" for each RateKind.
RUNTIME_CODES = {"ingest_rate_limited", "query_rate_limited"}


def _documented() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text[text.index("### Error codes") : text.index("## Health and platform")]
    lower = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            lower |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    upper = set(re.findall(r"`([A-Z][A-Z_]{2,})`", section))
    return lower | upper


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _class_code(node: ast.ClassDef) -> str | None:
    for statement in node.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "code" for t in targets) and isinstance(
            statement.value,
            ast.Constant,  # type: ignore[union-attr]
        ):
            return str(statement.value.value)  # type: ignore[union-attr]
    return None


def _default_code(node: ast.FunctionDef) -> str | None:
    arguments = node.args.args + node.args.kwonlyargs
    defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + list(node.args.defaults)
    defaults += list(node.args.kw_defaults)
    for argument, default in zip(arguments, defaults, strict=True):
        if argument.arg == "code" and isinstance(default, ast.Constant) and default.value:
            return str(default.value)
    return None


def _declared(trees: list[ast.Module]) -> tuple[dict[str, str], set[str]]:
    """Codes a call may produce without naming one (class and parameter defaults), and the
    web layer's status-derived codes."""
    implicit: dict[str, str] = {}
    codes: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            found = _class_code(node) if isinstance(node, ast.ClassDef) else None
            found = _default_code(node) if isinstance(node, ast.FunctionDef) else found
            if found:
                implicit[node.name] = found  # type: ignore[union-attr]
            names = [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else []
            if {"_HTTP_CODES", "_SQL_CODES", "_SQL_RENAMED"} & set(names) and isinstance(node.value, ast.Dict):  # type: ignore[union-attr]
                codes |= {str(v.value) for v in node.value.values if isinstance(v, ast.Constant)}  # type: ignore[union-attr]
    return implicit, codes


def _call_codes(node: ast.Call, implicit: dict[str, str]) -> set[str]:
    name = _call_name(node)
    keyword = next((k for k in node.keywords if k.arg == "code"), None)
    if keyword is not None:
        return {str(keyword.value.value)} if isinstance(keyword.value, ast.Constant) else set()
    if name in implicit:
        return {implicit[name]}
    if name in ("Rejection", "error_response"):  # (index | request, [status,] code, message)
        literal = [a.value for a in node.args[1:3] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        return set(literal[:1])
    owner = getattr(node.func, "value", None)
    if name == "get" and getattr(owner, "id", "") == "_HTTP_CODES" and isinstance(node.args[-1], ast.Constant):
        return {str(node.args[-1].value)}  # the fallback for other statuses
    return set()


def _produced() -> set[str]:
    trees = [ast.parse(path.read_text()) for root in SOURCES for path in root.rglob("*.py")]
    implicit, codes = _declared(trees)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                codes |= _call_codes(node, implicit)
    return (codes | RUNTIME_CODES) - set(NEVER_ANSWERED)


def test_every_produced_code_is_documented() -> None:
    assert sorted(_produced() - _documented()) == []


def test_every_documented_code_is_produced() -> None:
    assert sorted(_documented() - _produced()) == []
