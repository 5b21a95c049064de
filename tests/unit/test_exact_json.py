"""The wide-integer check that decides whether a body is read twice must say exactly what the
regex it stands for says: a miss would store a 70-bit integer as a float."""

from __future__ import annotations

import json
import random

from molesignal.ingest import exact_json
from molesignal.ingest.records import MALFORMED, parse_json_records


def test_the_check_agrees_with_the_regex_on_random_digit_runs() -> None:
    rng = random.Random(20261206)
    alphabet = b"0123456789" * 6 + b'-a" ,:{}e.'
    matched = 0
    for _ in range(50_000):
        text = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
        expected = exact_json._MAYBE_WIDE_INTEGER.search(text) is not None
        assert exact_json.may_hold_wide_integer(text) is expected, text
        matched += expected
    assert 1_000 < matched < 49_000  # both answers were exercised


def test_the_edges_of_a_run() -> None:
    nineteen = b"1" * 19
    assert not exact_json.may_hold_wide_integer(nineteen)
    assert exact_json.may_hold_wide_integer(b"-" + nineteen)
    assert exact_json.may_hold_wide_integer(nineteen + b"0")
    assert not exact_json.may_hold_wide_integer(nineteen + b"a" + nineteen)
    assert exact_json.may_hold_wide_integer(nineteen + b"a" + nineteen + b"9")
    assert exact_json.may_hold_wide_integer(b'{"id":"' + nineteen + b'","n":-' + nineteen + b"}")


def test_ndjson_keeps_every_digit_of_a_wide_integer_next_to_lines_without_one() -> None:
    """A body mixing plain lines, a hexadecimal id with a long run of digits, a wide integer
    and a malformed line: each line is read as the standard library reads it."""
    lines = [
        b'{"a": 1}',
        b'{"trace_id": "394577977526300712491fc8268288f6"}',
        b'{"big": 1180591620717411303424, "neg": -9223372036854775809}',
        b"{not json",
        b'{"f": 1.5e300}',
    ]
    parsed = parse_json_records(b"\n".join(lines))
    assert [index for index, _ in parsed] == [0, 1, 2, 3, 4]
    assert parsed[3][1] is MALFORMED
    for (_, got), line in zip(parsed, lines, strict=True):
        if got is not MALFORMED:
            assert got == json.loads(line)
    assert parsed[2][1]["big"] == 2**70 and type(parsed[2][1]["big"]) is int
