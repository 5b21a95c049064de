"""The DuckDB relation that replaces a stream reference: the manifest's files, with the
time filter only on the files that straddle the range, run against DuckDB itself."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molesignal.query.guard import StreamScan, duckdb_renderer
from molesignal.query.service import check_own_files


def _write(path: Path, timestamps: list[int], codes: list[object]) -> str:
    pq.write_table(pa.table({"_timestamp": timestamps, "org_id": ["o1"] * len(timestamps), "code": codes}), path)
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {
        "cut": _write(tmp_path / "cut.parquet", [5, 15, 25], [1, 2, 3]),  # straddles [10, 40)
        "whole": _write(tmp_path / "whole.parquet", [30, 35], ["x", "y"]),  # inside it, text codes
    }


def _rows(scan: StreamScan, start: int | None, end: int | None) -> list[tuple[object, ...]]:
    relation = duckdb_renderer("o1", start, end)(scan).sql(dialect="duckdb")
    return duckdb.sql(f"SELECT _timestamp, code FROM ({relation}) ORDER BY 1").fetchall()


def test_only_files_that_straddle_the_range_are_filtered(files: dict[str, str]) -> None:
    scan = StreamScan("app", (files["cut"], files["whole"]), {"code": "string"}, inside=frozenset({files["whole"]}))
    relation = duckdb_renderer("o1", 10, 40)(scan).sql(dialect="duckdb")
    assert relation.count("_timestamp >= 10") == 1 and "UNION ALL BY NAME" in relation
    assert "org_id" not in relation  # the files are the org's own; no row filter by org
    # Integers and text align by name into text, as one read_parquet would
    assert _rows(scan, 10, 40) == [(15, "2"), (25, "3"), (30, "x"), (35, "y")]


def test_a_file_not_known_to_be_inside_is_always_filtered(files: dict[str, str]) -> None:
    # Nothing marked inside (the default): every file keeps the filter, never too many rows.
    scan = StreamScan("app", (files["cut"], files["whole"]), {"code": "string"})
    assert _rows(scan, 10, 40) == [(15, "2"), (25, "3"), (30, "x"), (35, "y")]
    assert "UNION" not in duckdb_renderer("o1", 10, 40)(scan).sql(dialect="duckdb")


def test_no_range_reads_every_row_without_a_filter(files: dict[str, str]) -> None:
    scan = StreamScan("app", (files["cut"],), {"code": "int64"})
    assert "WHERE" not in duckdb_renderer("o1", None, None)(scan).sql(dialect="duckdb")
    assert [ts for ts, _ in _rows(scan, None, None)] == [5, 15, 25]


def test_an_empty_scan_still_has_the_stream_columns() -> None:
    relation = duckdb_renderer("o1", 10, 40)(StreamScan("app", (), {"code": "int64"})).sql(dialect="duckdb")
    assert duckdb.sql(f"SELECT count(*), count(code) FROM ({relation})").fetchall() == [(0, 0)]


def test_a_manifest_entry_outside_the_orgs_prefix_is_refused() -> None:
    own = {"key": "lake/org=o1/stream=app/date=2027-01-15/hour=08/a.parquet"}
    check_own_files("o1", "app", [own])
    for stray in ("lake/org=o2/stream=app/a.parquet", "lake/org=o1/stream=other/a.parquet", "lake/org=o10/x"):
        with pytest.raises(RuntimeError, match="outside"):
            check_own_files("o1", "app", [own, {"key": stray}])


def test_hidden_columns_are_left_out_even_of_files_that_lack_them(files: dict[str, str]) -> None:
    # "code" is hidden: in files that have it ("cut", "whole") and in an empty scan
    hidden = frozenset({"code"})
    for start, end in ((None, None), (10, 40)):
        scan = StreamScan(
            "app", (files["cut"], files["whole"]), {"code": "string"}, inside=frozenset({files["whole"]}), hidden=hidden
        )
        relation = duckdb_renderer("o1", start, end)(scan).sql(dialect="duckdb")
        names = [d[0] for d in duckdb.sql(f"SELECT * FROM ({relation})").description]
        assert names == ["_timestamp", "org_id"]
    empty = duckdb_renderer("o1", 10, 40)(StreamScan("app", (), {"code": "int64"}, hidden=hidden)).sql(dialect="duckdb")
    assert [d[0] for d in duckdb.sql(f"SELECT * FROM ({empty})").description] == ["_timestamp", "org_id"]


def test_hiding_a_column_no_file_has_is_not_an_error(tmp_path: Path) -> None:
    plain = str(tmp_path / "plain.parquet")
    pq.write_table(pa.table({"_timestamp": [1], "org_id": ["o1"]}), plain)
    scan = StreamScan("app", (plain,), {"sealed": "string"}, hidden=frozenset({"sealed"}))
    relation = duckdb_renderer("o1", None, None)(scan).sql(dialect="duckdb")
    assert duckdb.sql(f"SELECT * FROM ({relation})").fetchall() == [(1, "o1")]
