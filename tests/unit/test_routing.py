from __future__ import annotations

from dataclasses import dataclass

from molesignal.routing import allowed_methods, match


@dataclass(frozen=True)
class R:
    method: str
    path: str


ROUTES = [
    R("GET", "/api/v1/orgs/{org_id}"),
    R("GET", "/api/v1/orgs/mine"),
    R("GET", "/files/{rest+}"),
    R("ANY", "/anything"),
    R("POST", "/api/v1/orgs/{org_id}"),
]


def test_literal_segment_beats_parameter() -> None:
    found = match(ROUTES, "GET", "/api/v1/orgs/mine")
    assert found is not None and found[0] == R("GET", "/api/v1/orgs/mine")
    found = match(ROUTES, "GET", "/api/v1/orgs/o-1")
    assert found == (R("GET", "/api/v1/orgs/{org_id}"), {"org_id": "o-1"})


def test_parameter_matches_one_segment_and_greedy_matches_the_rest() -> None:
    assert match(ROUTES, "GET", "/api/v1/orgs/a/b") is None
    assert match(ROUTES, "GET", "/files/a/b/c") == (R("GET", "/files/{rest+}"), {"rest": "a/b/c"})


def test_any_matches_every_method_and_allowed_lists_methods() -> None:
    assert match(ROUTES, "DELETE", "/anything") is not None
    assert match(ROUTES, "DELETE", "/api/v1/orgs/x") is None
    assert allowed_methods(ROUTES, "/api/v1/orgs/x") == ["GET", "POST"]
    assert allowed_methods(ROUTES, "/nowhere") == []
