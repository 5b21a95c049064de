"""What the SQL routes are sent and what they answer, at the edges (issue 11: items 7, 11, 12).

* Multipart ``/v1/api/sql`` with ``params`` that are not a JSON array, without a ``sql``
  part, with an empty body or parts that are files: 400 in spec 004's envelope, never 500.
* TIMESTAMP WITH TIME ZONE results (``to_timestamp()``) come back as
  ISO 8601 text in UTC, through every route.
* Numbers beyond 64 bits in a request (a time range's end, a correlation window) are refused
  with 400; those in results are covered by the hostile-SQL corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import (
    ROOT_PASSWORD,
    Session,
    assert_core_error,
    assert_sql_error,
    create_org,
    create_user,
    ensure_setup,
    login,
)

T0 = 1_800_000_000_000_000


@pytest.fixture(scope="module")
def viewer(base_url: str) -> Iterator[Session]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ensure_setup(client)
        root = login(client, "root", ROOT_PASSWORD)
        admin = create_user(client, root, "admin", org_id=create_org(client, root))
        yield create_user(client, admin, "viewer")


def _multipart(client: httpx.Client, who: Session, parts: dict[str, Any]) -> httpx.Response:
    files = {name: (None, value) if isinstance(value, str) else value for name, value in parts.items()}
    return client.post("/v1/api/sql", files=files, headers=who.headers)


# --- multipart /v1/api/sql ----------------------------------------------------------------
def test_a_well_formed_multipart_query_runs(client: httpx.Client, viewer: Session) -> None:
    response = _multipart(client, viewer, {"sql": "SELECT $1 + 1 AS n", "params": "[41]"})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["rows"] == [[42]]


BAD_PARTS: list[tuple[str, dict[str, Any]]] = [
    ("params is a JSON object", {"sql": "SELECT 1", "params": '{"a": 1}'}),
    ("params is a JSON string", {"sql": "SELECT 1", "params": '"abc"'}),
    ("params is not JSON", {"sql": "SELECT 1", "params": "abc"}),
    ("params is a truncated array", {"sql": "SELECT 1", "params": "[1,"}),
    ("no sql part", {"params": "[]"}),
    ("an empty sql part", {"sql": ""}),
    ("sql sent as a file", {"sql": ("q.sql", b"SELECT 1", "application/sql")}),
    ("params sent as a file", {"sql": "SELECT 1", "params": ("p.json", b"[1]", "application/json")}),
    ("namespace_id sent as a file", {"sql": "SELECT 1", "namespace_id": ("n", b"x", "text/plain")}),
]


@pytest.mark.parametrize(("what", "parts"), BAD_PARTS, ids=[w for w, _ in BAD_PARTS])
def test_bad_multipart_parts_are_400_in_the_sql_envelope(
    client: httpx.Client, viewer: Session, what: str, parts: dict[str, Any]
) -> None:
    body = assert_sql_error(_multipart(client, viewer, parts), 400, "INVALID_REQUEST")
    assert "sql" in str(body["error"]) or "params" in str(body["error"]) or "namespace_id" in str(body["error"]), what


@pytest.mark.parametrize(
    ("what", "content", "content_type"),
    [
        ("an empty body", b"", "multipart/form-data; boundary=xyz"),
        ("only the closing boundary", b"--xyz--\r\n", "multipart/form-data; boundary=xyz"),
        ("no boundary in the content type", b"--xyz--\r\n", "multipart/form-data"),
        ("a part that never ends", b'--xyz\r\nContent-Disposition: form-data; name="sql"\r\n\r\nSELECT', None),
        ("garbage", b"\x00\x01 not multipart at all", "multipart/form-data; boundary=xyz"),
    ],
)
def test_broken_multipart_bodies_are_400_in_the_sql_envelope(
    client: httpx.Client, viewer: Session, what: str, content: bytes, content_type: str | None
) -> None:
    headers = {**viewer.headers, "content-type": content_type or "multipart/form-data; boundary=xyz"}
    response = client.post("/v1/api/sql", content=content, headers=headers)
    assert_sql_error(response, 400, "INVALID_REQUEST")


# --- TIMESTAMP WITH TIME ZONE -------------------------------------------------------------
TIMESTAMPTZ_SQL = (
    "SELECT to_timestamp(1800000000) AS t, to_timestamp(1800000000.5) AS m, "
    "[to_timestamp(0)] AS l, {'at': to_timestamp(1)} AS s"
)
TIMESTAMPTZ_ROW = {
    "t": "2027-01-15T08:00:00Z",
    "m": "2027-01-15T08:00:00.500000Z",
    "l": ["1970-01-01T00:00:00Z"],
    "s": {"at": "1970-01-01T00:00:01Z"},
}


def test_timestamptz_results_are_iso_text_in_utc_on_v1_api_sql(client: httpx.Client, viewer: Session) -> None:
    # The bad input, before: any TIMESTAMPTZ value answered 400 "Required module 'pytz' failed to import"
    response = client.post("/v1/api/sql", json={"sql": TIMESTAMPTZ_SQL}, headers=viewer.headers)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert [f["data_type"] for f in result["schema"]][:2] == ["Timestamp", "Timestamp"]
    assert result["rows"] == [list(TIMESTAMPTZ_ROW.values())]


@pytest.mark.parametrize("accept", ["application/json", "application/x-ndjson"])
def test_timestamptz_results_are_iso_text_in_utc_on_api_v1_query(
    client: httpx.Client, viewer: Session, accept: str
) -> None:
    body = {"sql": TIMESTAMPTZ_SQL, "time_range": {"start": 0, "end": T0}}
    response = client.post("/api/v1/query", json=body, headers={**viewer.headers, "accept": accept})
    assert response.status_code == 200, response.text
    rows = [json.loads(line) for line in response.text.splitlines()] if "ndjson" in accept else response.json()["rows"]
    assert rows == [TIMESTAMPTZ_ROW]


# --- numbers beyond 64 bits in requests ------------------------------------------------------
@pytest.mark.parametrize("end", [2**63, 2**64, 2**100])
def test_a_time_range_beyond_64_bits_is_400(client: httpx.Client, viewer: Session, end: int) -> None:
    # The bad input: time_range.end beyond a signed 64-bit µs count (it reached orjson in the cache key)
    body = json.dumps({"sql": "SELECT 1 AS one", "time_range": {"start": 0, "end": end}}).encode()
    response = client.post(
        "/api/v1/query", content=body, headers={**viewer.headers, "content-type": "application/json"}
    )
    assert "time_range.end" in assert_core_error(response, 400, "invalid_argument")["error"]


def test_the_largest_time_range_runs(client: httpx.Client, viewer: Session) -> None:
    body = {"sql": "SELECT 1 AS one", "time_range": {"start": 0, "end": 2**63 - 1}}
    response = client.post("/api/v1/query", json=body, headers=viewer.headers)
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [{"one": 1}]


@pytest.mark.parametrize("field", ["start", "end"])
def test_a_correlation_window_beyond_64_bits_is_400(client: httpx.Client, viewer: Session, field: str) -> None:
    params = {"trace_id": "ab" * 16, "start": 0, "end": 2**63 - 1, field: 2**70}
    response = client.get("/api/v1/correlate", params=params, headers=viewer.headers)
    assert_core_error(response, 400, "invalid_argument")


@pytest.mark.parametrize("param", [float("inf"), float("nan")], ids=["Infinity", "NaN"])
def test_a_param_that_is_no_finite_number_is_400(client: httpx.Client, viewer: Session, param: float) -> None:
    body = json.dumps({"sql": "SELECT $1 AS p", "params": [param]}).encode()  # Python writes Infinity / NaN
    response = client.post("/v1/api/sql", content=body, headers={**viewer.headers, "content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["status"] == "error"
