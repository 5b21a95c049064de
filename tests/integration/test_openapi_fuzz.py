"""The served OpenAPI document is valid, and no operation in it answers a server error.

Schemathesis reads ``/openapi.json`` from the live gateway and sends, to every operation
(the multipart ``/v1/api/sql`` included), the schema's examples, its coverage cases (edge
values, missing and wrong-typed fields, bodies of the wrong media type) and a few random
cases, authenticated as an org admin through an API token. The one check is Schemathesis'
``not_a_server_error``: every bad input must get a 4xx in its family's envelope. The run is
bounded (a few random examples per operation, a fixed seed) to stay well inside the suite's
time budget, and it runs against a deployment of its own so what it creates, deletes or
pauses touches no other test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import cramjam
import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from tests.integration.conftest import fresh_deployment
from tests.support.api import ADMIN_PASSWORD, ADMIN_USER, ROOT_PASSWORD, create_api_token, ensure_setup, login

SEED = 20261206
RANDOM_EXAMPLES_PER_OPERATION = 4

# Bodies for the media types Schemathesis cannot make from a JSON schema. NDJSON: lines of
# any JSON (Elasticsearch-style action lines among them) and lines that are not JSON.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_ACTION = st.builds(
    lambda action, index: {action: {"_index": index}},
    st.sampled_from(["index", "create", "update", "delete", "upsert"]),
    st.sampled_from(["fuzz", "Bad Index!", "", "_x"]),
)
_LINE = st.one_of(_ACTION.map(json.dumps), _JSON.map(json.dumps), st.text(max_size=16))
schemathesis.openapi.media_type(
    "application/x-ndjson", st.lists(_LINE, max_size=6).map(lambda lines: "\n".join(lines).encode())
)
# Protobuf: random bytes, raw or snappy-framed (what remote_write and Loki push send), so the
# decoders' error paths are reached past the decompression step too.
schemathesis.openapi.media_type(
    "application/x-protobuf",
    st.binary(max_size=256) | st.binary(max_size=256).map(lambda raw: bytes(cramjam.snappy.compress_raw(raw))),
)


@pytest.fixture(scope="module")
def gateway(system: Any) -> Iterator[dict[str, str]]:
    """A deployment of the fuzz's own: its base URL and an admin API token, with quotas
    raised so that requests reach validation instead of the rate limiter."""
    with fresh_deployment(), httpx.Client(base_url=str(system.url), timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        admin = login(client, ADMIN_USER, ADMIN_PASSWORD)
        raised = {"ingest_qps": 100_000, "query_qps": 100_000, "storage_bytes": 10**12}
        response = client.put(f"/api/v1/orgs/{admin.org_id}/quotas", json=raised, headers=root.headers)
        assert response.status_code == 200, response.text
        yield {"url": str(system.url), "token": create_api_token(client, admin, role="admin")}


def _document(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/openapi.json", timeout=30)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _local_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _local_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _local_refs(value)


def _resolves(document: dict[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False
    node: Any = document
    for escaped in ref[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_the_served_document_is_valid_openapi_and_every_reference_resolves(gateway: dict[str, str]) -> None:
    from openapi_spec_validator import validate

    document = _document(gateway["url"])
    validate(document)
    unresolved = sorted({ref for ref in _local_refs(document) if not _resolves(document, ref)})
    assert unresolved == []


def _served_by_this_code() -> dict[str, Any]:
    """The document the gateway serves, built in-process so Schemathesis can make one test per
    operation at collection time (its fixture-based loader does not run under pytest 9);
    ``test_the_fuzzed_document_is_the_served_one`` proves the two are the same."""
    from platform_api import openapi_merge

    return copy.deepcopy(openapi_merge.merged())


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        # A loaded 2-core machine must not turn slowness into a failure, nor a failure into minutes of shrinking.
        "suppress-health-check": ["too_slow", "filter_too_much"],
        "generation": {
            "max-examples": RANDOM_EXAMPLES_PER_OPERATION,
            "deterministic": True,
            "database": "none",
            "no-shrink": True,
        },
        "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(_served_by_this_code(), config=CONFIG)


def test_the_fuzzed_document_is_the_served_one(gateway: dict[str, str]) -> None:
    assert _document(gateway["url"]) == _served_by_this_code()


@schema.parametrize()
def test_no_operation_answers_a_server_error(case: Any, gateway: dict[str, str]) -> None:
    case.call_and_validate(
        base_url=gateway["url"],
        headers={"Authorization": f"Bearer {gateway['token']}"},
        checks=[not_a_server_error],
        timeout=30,
    )
