"""The column-at-a-time NDJSON encoder says exactly what one JSON dump per row would say."""

from __future__ import annotations

import json
import random
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest

from molesignal.query.ndjson import encode_batch
from molesignal.query.values import jsonable


def row_by_row(batch: pa.RecordBatch) -> bytes:
    """The encoder it replaces: a dict per row, ``jsonable`` per value, one dump per row."""
    return b"".join(orjson.dumps({k: jsonable(v) for k, v in row.items()}) + b"\n" for row in batch.to_pylist())


def parsed(ndjson: bytes) -> list[Any]:
    return [json.loads(line) for line in ndjson.splitlines()]


EVERY_TYPE = """
SELECT range AS i, (range % 200)::UTINYINT AS u, range * 1.5 AS d, (range / 3)::FLOAT AS f, 1.0::DOUBLE AS one,
  CASE WHEN range % 5 = 0 THEN NULL ELSE 'q"\\b' || chr((range % 40)::INTEGER) || 'é😀' END AS s,
  range % 2 = 0 AS b, TIMESTAMP '2020-01-01' + to_microseconds(range) AS ts, [range, NULL] AS l,
  {'a': range, 'b': 'x'} AS st, NULL AS n, 'nan'::DOUBLE AS nan, '-inf'::DOUBLE AS inf, -0.0::DOUBLE AS nz,
  123.45::DECIMAL(10, 2) AS dec, 'a'::ENUM('a', 'b') AS e, DATE '2020-01-02' AS dt, INTERVAL 3 DAY AS iv,
  '\\x00\\x01'::BLOB AS bl, 9223372036854775807 AS mx, 18446744073709551615::UBIGINT AS umx, 0.1::FLOAT AS f01,
  1e300 AS huge_double, MAP {'k': range} AS m, -5::TINYINT AS neg,
  170141183460469231731687303715884105727::HUGEINT - range AS huge, (range / 7)::DECIMAL(38, 10) AS exact,
  TIMESTAMPTZ '2020-01-01 00:00:00+00' + to_seconds(range) AS tz
FROM range(3000)
"""


def test_every_type_encodes_as_the_row_by_row_dump() -> None:
    reader = duckdb.connect().execute(EVERY_TYPE).fetch_record_batch(1000)
    for batch in reader:
        assert parsed(encode_batch(batch)) == parsed(row_by_row(batch))


@pytest.mark.parametrize("seed", range(5))
def test_random_strings_with_control_characters_and_quotes(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = ['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "a", "é", "\u2028", "😀", "/", " "]
    values = [
        None if rng.random() < 0.1 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for _ in range(500)
    ]
    batch = pa.record_batch({"text": pa.array(values, pa.string()), "big": pa.array(values, pa.large_string())})
    assert parsed(encode_batch(batch)) == parsed(row_by_row(batch))


def test_floats_keep_their_fraction_and_non_finite_values_are_null() -> None:
    batch = pa.record_batch({"x": pa.array([1.0, -0.0, 1e20, 1e-7, 2.5, float("nan"), float("inf"), None])})
    lines = encode_batch(batch).splitlines()
    assert lines[:5] == [b'{"x":1.0}', b'{"x":-0.0}', b'{"x":1e+20}', b'{"x":1e-7}', b'{"x":2.5}']
    assert lines[5:] == [b'{"x":null}'] * 3


def test_column_names_are_escaped_and_every_line_ends_in_a_newline() -> None:
    batch = pa.record_batch({'a"b\n': pa.array([1, 2]), "é": pa.array(["x", None])})
    assert encode_batch(batch) == '{"a\\"b\\n":1,"é":"x"}\n{"a\\"b\\n":2,"é":null}\n'.encode()


def test_an_empty_batch_is_no_lines() -> None:
    assert encode_batch(pa.record_batch({"x": pa.array([], pa.int64())})) == b""


def test_a_sliced_batch_encodes_only_its_own_rows() -> None:
    batch = pa.record_batch({"i": pa.array(range(10)), "s": pa.array([f"v{i}" for i in range(10)])})
    assert parsed(encode_batch(batch.slice(3, 4))) == [{"i": i, "s": f"v{i}"} for i in range(3, 7)]
