"""Compaction without AWS: which files are grouped, how outputs are named, how types are
merged, and why a reader that sees a commit half-applied still counts every row once."""

from __future__ import annotations

import itertools
from typing import Any

import pyarrow as pa
import pytest

from molesignal.lake.compaction import (
    CompactionPolicy,
    compacted_id,
    lossless_subset,
    merge,
    plan_groups,
    plan_tiers,
)
from molesignal.lake.streams import manifest_sort_key
from molesignal.lake.visibility import drop_superseded

HOUR = 3_600_000_000
H0 = 1_800_000_000_000_000 // HOUR * HOUR
MIB = 1024 * 1024


def entry(hour: int, file_id: str, size: int, *, rows: int = 10, generation: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "sk": manifest_sort_key(hour, file_id),
        "key": f"lake/org=o/stream=s/h{hour}/{file_id}.parquet",
        "bytes": size,
        "rows": rows,
        "hour_us": hour,
        "min_ts_us": hour,
        "max_ts_us": hour + HOUR - 1,
        "generation": generation,
        **extra,
    }


# --- planning ---------------------------------------------------------------------------
def test_small_files_of_one_hour_are_grouped_big_and_lonely_ones_are_not() -> None:
    entries = [
        entry(H0, "a1", 1 * MIB),
        entry(H0, "a2", 2 * MIB),
        entry(H0, "a3", 100 * MIB),  # not small
        entry(H0 + HOUR, "b1", 1 * MIB),  # alone in its hour
        entry(H0 + 2 * HOUR, "c1", 1 * MIB),
        entry(H0 + 2 * HOUR, "c2", 1 * MIB, no_compact=True),  # holds integers a merge would round
        entry(H0 + 3 * HOUR, "d2", 1 * MIB),
        entry(H0 + 3 * HOUR, "d1", 1 * MIB),
    ]
    groups = plan_groups(entries)
    assert [[e["sk"].split("#")[1] for e in g] for g in groups] == [["a1", "a2"], ["d1", "d2"]]


def test_groups_stay_within_the_byte_target_and_the_transaction_size() -> None:
    by_bytes = plan_groups([entry(H0, f"f{i:02d}", 40 * MIB) for i in range(7)])
    assert [len(g) for g in by_bytes] == [3, 3]  # 3 x 40 MiB fit in 128 MiB; the 7th file waits for company
    many = plan_groups([entry(H0, f"f{i:03d}", 1000) for i in range(200)])
    assert [len(g) for g in many] == [80, 80, 40]
    assert all(g[i]["sk"] < g[i + 1]["sk"] for g in many for i in range(len(g) - 1))


def test_files_retention_is_about_to_remove_are_not_compacted() -> None:
    entries = [entry(H0, "a", 10), entry(H0, "b", 10), entry(H0 + HOUR, "c", 10), entry(H0 + HOUR, "d", 10)]
    assert [g[0]["hour_us"] for g in plan_groups(entries, expired_before_us=H0 + HOUR)] == [H0 + HOUR]


def test_retention_knows_how_long_the_writer_keeps_landed_markers() -> None:
    from molesignal.lake.retention import LANDED_MARKER_LIFETIME_S
    from molesignal.lake.writer import LANDED_MARKER_TTL_S

    assert LANDED_MARKER_LIFETIME_S == LANDED_MARKER_TTL_S


def test_policy_refuses_groups_a_transaction_cannot_hold() -> None:
    with pytest.raises(ValueError, match="100 actions"):
        CompactionPolicy(max_inputs=99)


# --- naming -----------------------------------------------------------------------------
def test_output_names_are_deterministic_and_sort_after_their_inputs() -> None:
    inputs = [entry(H0, "0193af5e1c2d3b4a9f00aa11bb22cc33-1", 10), entry(H0, "ffffffffffffffffffffffffffffffff", 10)]
    name = compacted_id(inputs)
    assert name == compacted_id(list(reversed(inputs)))
    assert name.startswith("zc000001-")
    assert all(manifest_sort_key(H0, name) > e["sk"] for e in inputs)
    nested = [
        entry(H0, name, 10, generation=1),
        entry(H0, "00aa", 10),
        entry(H0, "zc000001-ffffffff", 10, generation=1),
    ]
    second = compacted_id(nested)
    assert second.startswith("zc000002-")
    assert all(manifest_sort_key(H0, second) > e["sk"] for e in nested)
    assert manifest_sort_key(H0, second) < manifest_sort_key(H0, "~")  # inside the manifest's hour range


# --- merging ----------------------------------------------------------------------------
def test_conflicting_types_widen_and_keep_every_value() -> None:
    first = pa.table({"_timestamp": [3, 1], "code": [200, 201], "ratio": [1, 2], "ok": [True, False]})
    second = pa.table({"_timestamp": [2], "code": ["E42"], "ratio": [0.5], "ok": ["yes"], "extra": [7]})
    merged = merge([first, second])
    assert merged.schema.field("code").type == pa.string()
    assert merged.schema.field("ratio").type == pa.float64()
    assert merged.to_pylist() == [
        {"_timestamp": 1, "code": "201", "ratio": 2.0, "ok": "false", "extra": None},
        {"_timestamp": 2, "code": "E42", "ratio": 0.5, "ok": "yes", "extra": 7},
        {"_timestamp": 3, "code": "200", "ratio": 1.0, "ok": "true", "extra": None},
    ]


def test_integers_beyond_float_precision_become_text_or_stay_out() -> None:
    big = 2**60 + 1
    exact = pa.table({"_timestamp": [1], "v": [big]})
    floats = pa.table({"_timestamp": [2], "v": [0.5]})
    assert merge([exact, floats]).column("v").to_pylist() == [str(big), "0.5"]
    # ...but only where the stream's schema already allows text; otherwise the file stays out
    assert lossless_subset([exact, floats, floats], {"v": "string"}) == [0, 1, 2]
    assert lossless_subset([exact, floats, floats], {"v": "float64"}) == [1, 2]
    assert lossless_subset([exact, exact], {"v": "float64"}) == [0, 1]  # int64 alone: nothing widens


# --- reading a half-applied commit ------------------------------------------------------
def _commit_operations(inputs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    output = entry(H0, compacted_id(inputs), 1, rows=sum(e["rows"] for e in inputs), generation=1)
    output["replaces"] = [e["sk"] for e in inputs]
    return output, [("put", output["sk"]), *(("delete", e["sk"]) for e in inputs)]


def _rows(entries: list[dict[str, Any]]) -> int:
    return sum(int(e["rows"]) for e in entries)


def test_every_prefix_of_the_commit_is_read_exactly_once() -> None:
    """An emulator applying the transaction's operations one by one, read in between."""
    inputs = [entry(H0, f"{i:032x}", 1, rows=10 + i) for i in range(6)]
    others = [entry(H0, "f" * 31 + "0", 1, rows=1000)]  # an unrelated file of the same hour
    output, operations = _commit_operations(inputs)
    expected = _rows(inputs + others)
    unfiltered = set()
    for applied in range(len(operations) + 1):
        state = {e["sk"]: e for e in inputs + others}
        for verb, sk in operations[:applied]:
            if verb == "put":
                state[sk] = output
            else:
                del state[sk]
        listed = sorted(state.values(), key=lambda e: e["sk"])
        assert _rows(drop_superseded(listed)) == expected, applied
        unfiltered.add(_rows(listed))
    assert max(unfiltered) > expected  # without the filter a reader would count rows twice


def test_a_query_reading_in_key_order_while_the_commit_lands_counts_each_row_once() -> None:
    """DynamoDB's read-committed Query: items read before the commit are old, after it new."""
    inputs = [entry(H0, f"{i:032x}", 1, rows=10 + i) for i in range(5)]
    others = [entry(H0 + HOUR, "00", 1, rows=7)]
    output, _ = _commit_operations(inputs)
    before = sorted(inputs + others, key=lambda e: e["sk"])
    after = sorted([output, *others], key=lambda e: e["sk"])
    positions = sorted({e["sk"] for e in before + after})
    for commit_at in range(len(positions) + 1):
        seen = [e for e in before if e["sk"] in positions[:commit_at]]
        seen += [e for e in after if e["sk"] in positions[commit_at:]]
        assert _rows(drop_superseded(seen)) == _rows(before), commit_at


def test_nested_compactions_are_dropped_transitively_and_the_filter_is_idempotent() -> None:
    inputs = [entry(H0, f"{i:032x}", 1, rows=5) for i in range(4)]
    first, _ = _commit_operations(inputs[:2])
    late = entry(H0, "e" * 32, 1, rows=5)
    second, _ = _commit_operations([first, late])
    second["generation"] = 2
    everything = [*inputs, first, late, second]
    for subset in itertools.combinations(everything, 4):
        visible = drop_superseded(list(subset))
        assert drop_superseded(visible) == visible
    assert drop_superseded(everything) == [inputs[2], inputs[3], second]


def test_recent_tiers_merge_only_full_sets_of_one_generation_oldest_first() -> None:
    # Given an hour with 9 new files, 7 first-generation ones, a big file and another hour's files
    new = [entry(H0, f"{i:04x}", MIB) for i in range(9)]
    older = [entry(H0, f"zc000001-{i}", 8 * MIB, generation=1) for i in range(7)]
    big = [entry(H0, "0100", 80 * MIB)]
    other_hour = [entry(H0 + HOUR, f"{i:04x}", MIB) for i in range(7)]
    # When the worker plans the tiers it may merge now
    groups = plan_tiers(new + older + big + other_hour, fanin=8)
    # Then only the full tier of 8 new files goes, the oldest 8; the 7-file tiers and the big file wait
    assert [[e["sk"] for e in group] for group in groups] == [[e["sk"] for e in new[:8]]]


def test_recent_tiers_merge_each_full_tier_and_skip_one_beyond_the_target_size() -> None:
    tier0 = [entry(H0, f"{i:04x}", MIB) for i in range(16)]
    tier1 = [entry(H0, f"zc000001-{i}", 20 * MIB, generation=1) for i in range(8)]  # 160 MiB: over the target
    groups = plan_tiers(tier0 + tier1, fanin=8)
    assert [len(g) for g in groups] == [8, 8]
    assert all(int(e.get("generation", 0)) == 0 for g in groups for e in g)
