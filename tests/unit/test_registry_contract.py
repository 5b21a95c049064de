"""The registry is the one source of routes: it must be consistent with itself and with
the FastAPI apps that serve it."""

from __future__ import annotations

import importlib
from collections import Counter

import pytest

import registry
from molesignal.routing import match

REGISTRY = registry.REGISTRY


def test_route_keys_are_unique() -> None:
    keys = Counter(route.key for route, _ in REGISTRY.all_routes())
    assert [k for k, n in keys.items() if n > 1] == []


def test_exactly_one_default_route() -> None:
    defaults = [fn.name for route, fn in REGISTRY.all_routes() if route.path == registry.DEFAULT_ROUTE]
    assert defaults == ["platform_api"]


@pytest.mark.parametrize("function", REGISTRY.http, ids=lambda f: f.name)
def test_every_route_lives_under_its_group_prefix(function: registry.HttpFunction) -> None:
    for route in function.routes:
        if route.path == registry.DEFAULT_ROUTE:
            continue
        assert any(route.path == p or route.path.startswith(p.rstrip("/") + "/") for p in function.prefixes), route.key


def test_no_two_groups_share_a_prefix() -> None:
    owners = Counter(p for fn in REGISTRY.http for p in fn.prefixes)
    assert [p for p, n in owners.items() if n > 1 and p not in registry.SHARED_PREFIXES] == []


@pytest.mark.parametrize("prefix", sorted(registry.SHARED_PREFIXES))
def test_groups_sharing_a_path_never_share_a_method_on_it(prefix: str) -> None:
    by_method: dict[str, set[str]] = {}
    for route, function in REGISTRY.all_routes():
        if route.path == prefix:
            by_method.setdefault(route.method, set()).add(function.name)
    assert by_method and all(len(owners) == 1 for owners in by_method.values()), by_method


@pytest.mark.parametrize("function", REGISTRY.http, ids=lambda f: f.name)
def test_each_app_serves_exactly_its_registry_routes(function: registry.HttpFunction) -> None:
    app = importlib.import_module(function.handler.split(".")[0] + ".app").app
    served = {
        f"{method.upper()} {path}" for path, operations in app.openapi()["paths"].items() for method in operations
    }
    declared = {r.key for r in function.routes if r.path != registry.DEFAULT_ROUTE}
    assert served == declared


def test_every_route_resolves_to_itself() -> None:
    routes = [route for route, _ in REGISTRY.all_routes()]
    for route in routes:
        if route.path == registry.DEFAULT_ROUTE:
            continue
        concrete = route.path.replace("{token_id}", "abc").replace("{org_id}", "o1").replace("{user_id}", "u1")
        concrete = concrete.replace("{trace_id}", "t1").replace("{replay_id}", "r1").replace("{short_id}", "s1")
        found = match(routes, route.method, concrete)
        assert found is not None and found[0] is route, route.key


def test_handlers_and_workers_are_importable() -> None:
    dotted = [REGISTRY.authorizer.handler, *(f.handler for f in REGISTRY.http), *(w.handler for w in REGISTRY.workers)]
    dotted += [s.handler for s in REGISTRY.schedules]
    dotted += [REGISTRY.websocket.handler] if REGISTRY.websocket else []
    for name in dotted:
        module, _, attribute = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), name


def test_worker_queues_exist_in_resources() -> None:
    from molesignal.resources import RESOURCES

    queues = {q.logical for q in RESOURCES.queues}
    for worker in REGISTRY.workers:
        assert worker.queue in queues, worker.name


def test_basic_auth_is_accepted_only_on_ingest_protocol_routes() -> None:
    basic = REGISTRY.basic_auth_route_keys()
    owners = {fn.name for route, fn in REGISTRY.all_routes() if route.key in basic}
    assert owners == {"ingest_api", "otlp_api"}
    assert all(route.auth for route, _ in REGISTRY.all_routes() if route.key in basic)
    # neither the dead-letter routes (root) nor the sealed-content read take Basic
    assert not any("_dlq" in key or "/sessions/" in key for key in basic)
