"""The columns a version 3 ingest message carries (``columnar.encode_columns``, ADR 0028) decode
to the very table the ingest function read: text columns travel as lengths and bytes, so
nulls, empty strings, multi-byte text, sliced and chunked arrays, tables without text and
without rows must all come back equal, and a payload whose text does not match its lengths
is refused rather than read wrong."""

from __future__ import annotations

import cramjam
import pyarrow as pa
import pytest

from molesignal.ingest.columnar import decode_columns, encode_columns

TABLES = {
    "text with nulls, empties, escapes and a sliced chunk": pa.table(
        {
            "_timestamp": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "s": pa.chunked_array([pa.array(["x", None, "", 'é"q\n'])[1:], pa.array([None, "abc"])]),
            "all_null": pa.array([None] * 5, pa.string()),
            "f": pa.array([1.5, None, 2.0, 3.25, -0.0]),
            "b": pa.array([True, None, False, True, False]),
            "z": pa.array(["a", "b", "c", "d", "\U0001f600"]),
        }
    ),
    "no text": pa.table({"_timestamp": pa.array([1, 2], pa.int64()), "n": pa.array([None, 7], pa.int64())}),
    "no rows": pa.table({"_timestamp": pa.array([], pa.int64()), "s": pa.array([], pa.string())}),
    "only nulls in text": pa.table({"_timestamp": pa.array([1], pa.int64()), "s": pa.array([None], pa.string())}),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_columns_come_back_as_they_were_sent(name: str) -> None:
    table = TABLES[name]
    got = decode_columns(encode_columns(table))
    got.validate(full=True)
    assert got.equals(table), name
    assert got.column_names == table.column_names


def test_text_that_does_not_match_its_lengths_is_refused() -> None:
    payload = bytes(
        cramjam.zstd.decompress(encode_columns(TABLES["no text"].append_column("s", pa.array(["ab", "c"]))))
    )
    with pytest.raises(ValueError, match="does not match"):
        decode_columns(bytes(cramjam.zstd.compress(payload + b"extra", level=1)))
