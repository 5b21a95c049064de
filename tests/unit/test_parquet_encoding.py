"""How the writer encodes a lake file (ADR 0031): text columns whose values hardly repeat are
written plain, the others with a dictionary, and the rows read back are the rows written."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from molesignal.lake.writer import encode_parquet, mostly_distinct

T0 = 1_800_000_000_000_000


def encodings(body: bytes) -> dict[str, set[str]]:
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    out: dict[str, set[str]] = {}
    for group in range(meta.num_row_groups):
        for index in range(meta.num_columns):
            chunk = meta.row_group(group).column(index)
            out.setdefault(chunk.path_in_schema, set()).update(chunk.encodings)
    return out


def sample_table(rows: int = 600) -> pa.Table:
    return pa.table(
        {
            "_timestamp": pa.array([T0 + i for i in range(rows)], pa.int64()),
            "trace_id": [f"{i * 7919:032x}" for i in range(rows)],  # unique
            "level": [("info", "warn", "error")[i % 3] for i in range(rows)],  # 3 values
            "user_id": [f"u{i % 400}" if i % 5 else None for i in range(rows)],  # mostly distinct, some nulls
            "sparse": [f"only {i}" if i < 10 else None for i in range(rows)],  # too few values to judge
            "n": list(range(rows)),
        }
    )


def test_columns_whose_values_hardly_repeat_are_found_from_a_sample() -> None:
    assert mostly_distinct(sample_table()) == {"trace_id", "user_id"}
    assert mostly_distinct(sample_table().slice(0, 0)) == set()


def test_mostly_distinct_text_is_written_plain_and_repeated_text_with_a_dictionary() -> None:
    table = sample_table()
    body = encode_parquet(table)
    used = encodings(body)
    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert not used["trace_id"] & dictionary
    assert not used["user_id"] & dictionary
    assert used["level"] & dictionary
    assert used["_timestamp"] == {"DELTA_BINARY_PACKED"} or "DELTA_BINARY_PACKED" in used["_timestamp"]
    assert pq.read_table(io.BytesIO(body)).equals(table)


def test_a_table_without_a_timestamp_column_is_encoded_the_same_way() -> None:
    table = sample_table().drop_columns(["_timestamp"])
    body = encode_parquet(table)
    assert not encodings(body)["trace_id"] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert pq.read_table(io.BytesIO(body)).equals(table)
