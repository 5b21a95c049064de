"""The lake writer against the emulator: exactly-once landing, hour partitions, schema
evolution that never drops a value, and a manifest that prunes by time."""

from __future__ import annotations

import io
import uuid
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from molesignal import aws
from molesignal.lake.layout import HOUR_US
from molesignal.lake.writer import Lake
from molesignal.quotas import Limiter
from molesignal.storage.table import Table

BASE = 1_800_000_000_000_000  # µs, an hour boundary in 2027


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


@pytest.fixture
def lake(system: Any) -> Lake:
    return Lake(Table())


def read_rows(lake: Lake, org: str, stream: str) -> list[dict[str, Any]]:
    s3 = aws.client("s3")
    rows: list[dict[str, Any]] = []
    for entry in lake.streams.manifest(org, stream):
        body = s3.get_object(Bucket=lake.bucket, Key=entry["key"])["Body"].read()
        rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return sorted(rows, key=lambda r: (r["_timestamp"], str(r.get("n"))))


def test_append_lands_once_even_when_redelivered(lake: Lake) -> None:
    org, stream, request = f"o{uuid.uuid4().hex[:6]}", "app", uuid.uuid4().hex
    body = ndjson([{"_timestamp": BASE + i, "n": i, "level": "info"} for i in range(100)])
    first = lake.append_batch(org, stream, request, body)
    assert (first.duplicate, first.rows) == (False, 100)
    again = lake.append_batch(org, stream, request, body)
    assert again.duplicate is True
    rows = read_rows(lake, org, stream)
    assert [r["n"] for r in rows] == list(range(100))
    assert {r["org_id"] for r in rows} == {org}
    stored = lake.streams.get(org, stream)
    assert stored.row_count == 100
    assert stored.schema == {"n": "int64", "level": "string", "org_id": "string", "_stream": "string"}
    assert stored.first_ts_us == BASE and stored.last_ts_us == BASE + 99
    assert Limiter(lake.table).usage(org)["storage_bytes"] == stored.bytes > 0


def test_crash_after_files_before_commit_is_recovered_without_duplicates(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, stream, request = f"o{uuid.uuid4().hex[:6]}", "app", uuid.uuid4().hex
    body = ndjson([{"_timestamp": BASE + i, "n": i} for i in range(10)])

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("killed between the S3 write and the commit")

    with monkeypatch.context() as patched:
        patched.setattr(Lake, "_commit", crash)
        with pytest.raises(RuntimeError):
            lake.append_batch(org, stream, request, body)
    assert read_rows(lake, org, stream) == []  # written files are invisible until committed
    assert lake.append_batch(org, stream, request, body).rows == 10
    assert [r["n"] for r in read_rows(lake, org, stream)] == list(range(10))


def test_rows_are_split_into_hour_partitions_and_the_manifest_prunes(lake: Lake) -> None:
    org, stream = f"o{uuid.uuid4().hex[:6]}", "app"
    rows = [{"_timestamp": BASE + h * HOUR_US + 5, "n": h} for h in (2, 0, 1)]
    result = lake.append_batch(org, stream, uuid.uuid4().hex, ndjson(rows))
    assert len(result.files) == 3
    assert all("/hour=" in f.key and f.key.startswith(f"lake/org={org}/stream={stream}/date=") for f in result.files)
    assert len(lake.streams.manifest(org, stream)) == 3
    window = lake.streams.manifest(org, stream, start_us=BASE + HOUR_US, end_us=BASE + 2 * HOUR_US)
    assert [e["hour_us"] for e in window] == [BASE + HOUR_US]


def test_type_conflicts_widen_and_never_drop_a_value(lake: Lake) -> None:
    org, stream = f"o{uuid.uuid4().hex[:6]}", "app"
    lake.append_batch(
        org, stream, uuid.uuid4().hex, ndjson([{"_timestamp": BASE, "code": 200, "ratio": 1, "ok": True}])
    )
    # a later batch brings text where a number was, a float where an int was, and a new field
    conflicting = [
        {"_timestamp": BASE + 1, "code": "E42", "ratio": 0.5, "ok": "yes", "extra": 1},
        {"_timestamp": BASE + 2, "code": 201, "ratio": 2, "ok": False},
    ]
    lake.append_batch(org, stream, uuid.uuid4().hex, ndjson(conflicting))
    schema = lake.streams.get(org, stream).schema
    assert schema["code"] == "string" and schema["ratio"] == "float64" and schema["ok"] == "string"
    assert schema["extra"] == "int64"
    rows = read_rows(lake, org, stream)
    assert [r["code"] for r in rows] == [200, "E42", "201"]  # first file keeps int, later file stores text
    assert [r["ok"] for r in rows] == [True, "yes", "false"]
    assert [r["ratio"] for r in rows] == [1, 0.5, 2.0]


def test_huge_integers_become_text_rather_than_losing_digits(lake: Lake) -> None:
    org, stream = f"o{uuid.uuid4().hex[:6]}", "app"
    big = 2**60 + 1
    lake.append_batch(
        org, stream, uuid.uuid4().hex, ndjson([{"_timestamp": BASE, "v": 0.5}, {"_timestamp": BASE + 1, "v": big}])
    )
    assert [r["v"] for r in read_rows(lake, org, stream)] == ["0.5", str(big)]


def test_iso_looking_text_stays_text(lake: Lake) -> None:
    org, stream = f"o{uuid.uuid4().hex[:6]}", "app"
    lake.append_batch(org, stream, uuid.uuid4().hex, ndjson([{"_timestamp": BASE, "when": "2024-01-01T00:00:00Z"}]))
    assert read_rows(lake, org, stream)[0]["when"] == "2024-01-01T00:00:00Z"
    assert lake.streams.get(org, stream).schema["when"] == "string"
