"""API Gateway (HTTP API) route matching, shared by the local gateway and the catch-all.

Rules as API Gateway applies them: a route's ``{name}`` matches one path segment,
``{name+}`` the rest of the path; a literal segment beats a parameter; ``ANY`` matches
every method; ``$default`` catches whatever no route matched. One trailing slash does not
change which route matches (``/api/v1/es/`` is ``GET /api/v1/es``; route paths cannot end
in ``/`` on API Gateway), while the event's ``rawPath`` keeps the slash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, TypeVar


class RouteLike(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


R = TypeVar("R", bound=RouteLike)


@dataclass(frozen=True)
class Template:
    regex: re.Pattern[str]
    specificity: tuple[int, int]  # (literal segments, -greedy) — higher wins


@lru_cache(maxsize=1024)
def compile_template(path: str) -> Template:
    pattern = ""
    literals = 0
    greedy = 0
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            pattern += f"/(?P<{segment[1:-2]}>.+)"
            greedy = 1
        elif segment.startswith("{") and segment.endswith("}"):
            pattern += f"/(?P<{segment[1:-1]}>[^/]+)"
        else:
            pattern += "/" + re.escape(segment)
            literals += 1
    return Template(re.compile(f"^{pattern or '/'}$"), (literals, -greedy))


def route_path(path: str) -> str:
    """The path a route is matched against: without one trailing slash (``/`` stays ``/``)."""
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def match(routes: Iterable[R], method: str, path: str) -> tuple[R, dict[str, str]] | None:
    """The most specific route for ``method path`` and its path parameters, or None."""
    path = route_path(path)
    best: tuple[tuple[int, int], R, dict[str, str]] | None = None
    for route in routes:
        if route.path == "$default" or route.method not in (method, "ANY"):
            continue
        template = compile_template(route.path)
        found = template.regex.match(path)
        if found and (best is None or template.specificity > best[0]):
            best = (template.specificity, route, found.groupdict())
    return (best[1], best[2]) if best else None


def allowed_methods(routes: Iterable[RouteLike], path: str) -> list[str]:
    """Methods some route accepts for ``path`` (for a 405's Allow header)."""
    path = route_path(path)
    methods = {
        route.method for route in routes if route.path != "$default" and compile_template(route.path).regex.match(path)
    }
    return sorted(methods)
