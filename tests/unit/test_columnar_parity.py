"""The column-wise path (``molesignal.ingest.columnar`` in the ingest function, then
``lake.arrow_batch.from_columns`` in the worker) must store exactly what the record path
stores (``parse_json_records`` + ``normalize`` + canonical NDJSON + ``to_table``), or step
aside. Run over the benchmark's Kubernetes logs, a hostile corpus and generated bodies:
wherever ``columnar.read`` answers, every record of the body is one the record path accepts,
the field names it reports cover the record path's, and the worker's table — alone and
landed together with other requests, against a new stream, the stream the body makes and
streams of conflicting types — equals the record path's, column types included. Each body
is landed both as the worker reads a version 2 message (it parses the body again) and as it
reads the message the ingest function sends for it (ADR 0028: version 3, the columns as Arrow
IPC through the real envelope, unless a double was written as an integer).
"""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bench.ingest.dataset import Generator

from molesignal.errors import DomainError
from molesignal.ingest import columnar
from molesignal.ingest.envelope import IngestMessage, canonical_ndjson
from molesignal.ingest.landing import delivery_of
from molesignal.ingest.normalize import TIMESTAMP, normalize
from molesignal.ingest.records import MALFORMED, parse_json_records
from molesignal.lake import schema as S
from molesignal.lake.arrow_batch import schema_of, to_table
from molesignal.lake.writer import Delivery, Lake, deliveries_table, encode_parquet, joined

RECEIVED = 1_800_000_000_000_000


def record_path(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The canonical records the record path keeps, and whether it kept every record."""
    try:
        parsed = parse_json_records(body)
    except DomainError:
        return [], False
    kept, whole = [], True
    for _index, raw in parsed:
        try:
            if raw is MALFORMED:
                raise ValueError
            kept.append(normalize(raw, received_us=RECEIVED))
        except (DomainError, ValueError):
            whole = False
    return kept, whole


def sent(body: bytes, request_id: str = "r") -> Delivery:
    """The worker's delivery of the message the ingest function sends for a body it read
    column-wise (``columnar.hand_over``), through the envelope as SQS carries it."""
    columns = columnar.read(body, RECEIVED)
    assert columns is not None
    payload, payload_format = columnar.hand_over(columns, body, RECEIVED)
    message = IngestMessage(
        request_id,
        "o",
        "s",
        RECEIVED,
        columns.rows,
        len(payload),
        payload_b64=base64.b64encode(payload).decode(),
        payload_format=payload_format,
    )
    return delivery_of(Lake.__new__(Lake), IngestMessage.from_json(message.to_json()))  # inline: no AWS


def written_integers_among_doubles(columns: columnar.Columns, records: list[dict[str, Any]]) -> bool:
    """What ``columnar.integers_among_doubles`` must never miss, told by the record path."""
    doubles = [f.name for f in columns.table.schema if pa.types.is_float64(f.type) and f.name != TIMESTAMP]
    return any(type(r.get(name)) is int for r in records for name in doubles)


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal columns (names, types, values), whatever their order."""
    return a.select(sorted(a.column_names)).equals(b.select(sorted(b.column_names)))


def stream_schemas(records: list[dict[str, Any]], rng: random.Random) -> Iterator[dict[str, str]]:
    yield {}
    own = schema_of(to_table(canonical_ndjson(records), {}))
    yield own
    for _ in range(3):  # the stream already holds some of these fields with other types
        yield {name: rng.choice(S.TYPES) if rng.random() < 0.3 else kind for name, kind in own.items()}


def check(bodies: list[bytes], seed: int) -> int:
    """Assert parity for each body, and for bodies landed together; returns how many bodies
    the column-wise path took."""
    rng = random.Random(seed)
    taken: list[tuple[bytes, list[dict[str, Any]]]] = []
    for body in bodies:
        columns = columnar.read(body, RECEIVED)
        records, whole = record_path(body)
        if columns is None:
            continue
        assert whole, body
        keys = set().union(*(r.keys() for r in records)) - {TIMESTAMP}
        leaves = set(columns.table.column_names) - {TIMESTAMP}
        assert leaves <= keys <= columns.names(), body
        assert columns.rows == len(records)
        delivery = Delivery("r", raw=columnar.RawBody(body, RECEIVED))
        assert delivery.canonical() == canonical_ndjson(records)
        if written_integers_among_doubles(columns, records):
            assert columnar.integers_among_doubles(columns, body, RECEIVED), body  # the text must travel
            assert sent(body).raw is not None and sent(body).raw.handed_over is None  # type: ignore[union-attr]
        for schema in stream_schemas(records, rng):
            expected = to_table(canonical_ndjson(records), schema)
            got = deliveries_table([delivery], schema)
            assert same(got, expected), (body, schema)
            assert same(deliveries_table([sent(body)], schema), expected), (body, schema)
        taken.append((body, records))
    for _ in range(min(len(taken), 6)):  # requests of one stream landed together (one worker batch)
        group = rng.sample(taken, min(len(taken), rng.randint(2, 4)))
        # Some with their columns handed over, some without (messages of both kinds in one batch).
        deliveries = [
            sent(b, f"r{i}") if rng.random() < 0.5 else Delivery(f"r{i}", raw=columnar.RawBody(b, RECEIVED))
            for i, (b, _r) in enumerate(group)
        ]
        every = [r for _b, records in group for r in records]
        for schema in stream_schemas(every, rng):
            expected = to_table(joined(deliveries), schema)
            got = deliveries_table(deliveries, schema)
            assert same(got, expected), ([b for b, _ in group], schema)
            stored = pq.read_table(io.BytesIO(encode_parquet(got))).to_pylist()
            assert stored == pq.read_table(io.BytesIO(encode_parquet(expected.select(got.column_names)))).to_pylist()
            carried = [sent(b, f"r{i}") for i, (b, _r) in enumerate(group)]
            assert same(deliveries_table(carried, schema), expected), ([b for b, _ in group], schema)
            mixed = [*carried[:1], Delivery("v1", canonical_ndjson(every))]  # a version 1 message among them
            assert same(deliveries_table(mixed, schema), to_table(joined(mixed), schema))
    return len(taken)


def bodies_of(lines: list[bytes], size: int) -> list[bytes]:
    out, current = [], []
    for line in lines:
        current.append(line)
        if sum(map(len, current)) >= size:
            out.append(b"\n".join(current) + b"\n")
            current = []
    if current:
        out.append(b"\n".join(current) + b"\n")
    return out


def test_the_benchmark_logs_take_the_column_wise_path_and_store_the_same() -> None:
    lines = [orjson.dumps(r) for r in Generator(20261123, 1_000)]
    bodies = bodies_of(lines, 128 * 1024)
    assert check(bodies, 1) == len(bodies)  # every body of realistic logs, none left to the record path


HOSTILE: list[tuple[str, bytes, bool]] = [
    # (what, body, whether the column-wise path may take it)
    ("plain", b'{"a": 1, "b": "x"}\n{"a": 2, "c": true}\n', True),
    ("blank lines and padding", b'\n  {"a": 1}  \n\n{"a": 2}\n\n', True),
    ("NaN", b'{"a": NaN}\n{"a": 1.5}\n', False),
    ("Infinity", b'{"a": Infinity}\n', False),
    ("minus Inf", b'{"a": -Inf}\n', False),
    ("byte order mark", b'\xef\xbb\xbf{"a": 1}\n', False),
    ("BOM on a later line", b'{"a": 1}\n\xef\xbb\xbf{"a": 2}\n', False),
    ("two objects on a line", b'{"a": 1}{"a": 2}\n{"a": 3}\n', False),
    ("an object over two lines", b'{"a":\n1}\n', False),
    ("two on a line and one over two", b'{"a": 1}{"a": 2}\n{"a":\n3}\n', False),
    ("repeated key", b'{"a": 1, "a": 2}\n', False),
    ("repeated nested key", b'{"s": {"a": 1, "a": 2}}\n', False),
    ("integer above 2**63", b'{"n": 9223372036854775808}\n', False),
    ("integer of 70 bits", b'{"n": 1180591620717411303424}\n', False),
    ("integer below -2**63", b'{"n": -9223372036854775809}\n', False),
    ("integer 2**63-1", b'{"n": 9223372036854775807}\n', True),
    ("hex id with a long digit run", b'{"id": "394577977526300712491fc8268288f6"}\n', True),
    ("20 digits as text", b'{"id": "11805916207174113034240"}\n', True),
    ("ISO text, top and nested", b'{"t": "2026-01-01T00:00:00Z", "s": {"d": "2026-01-01"}}\n', True),
    ("ISO text in a list", b'{"l": ["2026-01-01T00:00:00Z"]}\n', False),
    ("int and float", b'{"x": 1}\n{"x": 1.5}\n', True),
    ("list of int and float", b'{"l": [1, 2.5]}\n', False),
    ("list of strings", b'{"l": ["a", "b"]}\n{"l": []}\n{"l": null}\n', True),
    ("list of objects", b'{"l": [{"a": 1}]}\n', False),
    ("nested lists", b'{"l": [[1]]}\n', False),
    ("list of ints, bools, nulls", b'{"l": [1, 2]}\n{"l": [null]}\n{"m": [true, false]}\n', True),
    ("mixed types across lines", b'{"x": 1}\n{"x": "1"}\n', False),
    ("malformed line", b'{"a": 1}\n{"a": \n', False),
    ("scalar line", b'{"a": 1}\n3\n', False),
    ("array body", b'[{"a": 1}]', False),
    ("empty body", b"  \n ", False),
    ("carriage returns", b'{"a": 1}\r\n{"a": 2}\r\n', True),
    ("bare carriage return", b'{"a": 1}\r{"a": 2}\n', False),
    ("tab between tokens", b'{"a":\t1}\t\n', True),
    ("tab between two objects", b'{"a": 1}\t{"a": 2}\n', False),
    ("NUL after an object", b'{"a": 1}\x00\n', False),
    ("form feed between tokens", b'{"a":\x0c1}\n', False),
    ("list of strings to escape", b'{"l": ["a\\"b", "c\\\\d", "\\u0001", "\xc3\xa9"]}\n', True),
    ("raw control byte in a string", b'{"a": "x\x01y"}\n', False),
    ("escaped control in a string", b'{"a": "x\\u0001y\\n"}\n', True),
    ("escaped lone surrogate", b'{"a": "\\ud800"}\n', False),
    ("escaped pair", b'{"a": "\\ud83d\\ude00"}\n', True),
    ("escaped lone low surrogate", b'{"a": "\\udc00"}\n', False),
    ("UTF-8 encoded surrogate", b'{"a": "\xed\xa0\x80"}\n', False),
    ("byte order mark inside an object", b'{"a":\xef\xbb\xbf1}\n', False),
    ("byte order mark in a string", b'{"a": "\xef\xbb\xbfx"}\n', True),
    ("invalid UTF-8", b'{"a": "\xff"}\n', False),
    ("UTF-8 text and escapes", b'{"a": "\xc3\xa9\\u00e9\\/"}\n', True),
    ("colliding names", b'{"A": 1, "a": 2}\n', False),
    ("flattened collision", b'{"a_b": 1, "a": {"b": 2}}\n', False),
    ("colliding with a struct name", b'{"A": 1}\n{"a": {"b": 2}}\n', False),
    ("reserved org_id", b'{"org_id": "other"}\n', False),
    ("reserved _stream", b'{"_stream": "x"}\n', False),
    ("engine name", b'{"__ms_hour": 1}\n', False),
    ("nested reserved", b'{"org": {"id": 1}}\n', False),
    ("empty object and struct", b'{"s": {}}\n{"s": {"b": 1}}\n', True),
    ("null struct", b'{"s": null}\n{"s": {"b": 1}}\n{"t": 1}\n', True),
    ("nesting past the limit (kept as JSON text)", b'{"a":' * 18 + b"1" + b"}" * 18 + b"\n", False),
    ("nesting at the limit", b'{"a":' * 17 + b"1" + b"}" * 17 + b"\n", True),
    ("seconds", b'{"_timestamp": 1800000000}\n', True),
    ("milliseconds", b'{"_timestamp": 1800000000000}\n', True),
    ("nanoseconds", b'{"_timestamp": 1800000000000000000}\n', True),
    ("float seconds", b'{"_timestamp": 1800000000.123456}\n', True),
    ("float ns", b'{"_timestamp": 1.8e18}\n', False),
    ("negative", b'{"_timestamp": -5}\n', False),
    ("ISO with zone", b'{"_timestamp": "2027-01-15T08:00:00.123456+02:00"}\n', True),
    ("numeric text", b'{"_timestamp": "1800000000000"}\n', True),
    ("bad text", b'{"_timestamp": "yesterday"}\n', False),
    ("boolean", b'{"_timestamp": true}\n', False),
    ("object", b'{"_timestamp": {"s": 1}}\n', False),
    ("null then alias", b'{"_timestamp": null, "time": 1800000000}\n{"timestamp": "2027-01-15T08:00:00Z"}\n', True),
    ("aliases in order", b'{"@timestamp": 1800000000, "timestamp": "bad", "time": true}\n', True),
    ("an unused bad alias", b'{"_timestamp": 1800000000, "time": {"x": 1}}\n', True),
    ("before 1970", b'{"_timestamp": "0001-01-01T00:00:00Z"}\n', False),
    ("negative float", b'{"_timestamp": -1.5}\n', False),
    ("largest nanoseconds", b'{"_timestamp": 9223372036854775807}\n', True),
    ("float timestamps and values", b'{"_timestamp": 1e9, "x": 1e5, "y": -0.0, "z": 0.1}\n', True),
    ("float of 2**53", b'{"x": 9007199254740992.0}\n', False),
    ("mixed timestamp types", b'{"_timestamp": 1800000000}\n{"_timestamp": "2027-01-15T08:00:00Z"}\n', False),
]


@pytest.mark.parametrize(("what", "body", "may_take"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_bodies(what: str, body: bytes, may_take: bool) -> None:
    taken = check([body], 2)
    assert taken == int(may_take), what


KEYS = ["a", "b", "A", "a_b", "Level", "msg", "x y", "1st", "é", "@version", "time", "timestamp", "@timestamp"]
TIMESTAMPS = [
    b"1800000000",
    b"1800000000123",
    b"1800000000123456",
    b"1800000000123456789",
    b"1800000000.5",
    b'"2027-01-15T08:00:00Z"',
    b'"2027-01-15 08:00:00.123"',
    b'"1800000000"',
    b'"later"',
    b"true",
    b"null",
    b"-1",
    b'{"s": 1}',
]
SCALARS = {
    "int": [b"0", b"1", b"-7", b"9223372036854775807", b"-9223372036854775808", b"1800000000"],
    "float": [b"1.5", b"1.0", b"1e5", b"-0.0", b"0.1", b"1.7976931348623157e308", b"2.5E-3"],
    "string": [b'"x"', b'"2026-01-01T00:00:00Z"', b'"\\u00e9\\"q\\""', b'"\xc3\xa9"', b'"1"', b'""', b'"a\\nb"'],
    "bool": [b"true", b"false"],
    "list": [b"[]", b'["a", "b"]', b"[1, 2]", b"[true, null]", b"[1, 2.5]", b'[{"a": 1}]', b"[[1]]"],
    "odd": [b"NaN", b"9223372036854775808", b"123456789012345678901", b"Infinity"],
}


def generated_bodies(rng: random.Random, count: int) -> Iterator[bytes]:
    """Bodies whose fields mostly keep one type each (so many take the column-wise path),
    with now and then a type change, an odd number, a nested object or an empty one."""
    for _ in range(count):
        kinds = {k: rng.choice(["int", "float", "string", "bool", "list", "int", "string"]) for k in KEYS}
        lines = []
        for _ in range(rng.randint(1, 12)):
            parts = []
            if rng.random() < 0.8:
                parts.append(b'"_timestamp": ' + rng.choice(TIMESTAMPS[:6] if rng.random() < 0.9 else TIMESTAMPS))
            for key in rng.sample(KEYS, rng.randint(0, 5)):
                parts.append(orjson.dumps(key) + b": " + value(rng, kinds, key, 0))
            padding = rng.choice([b"", b"", b" ", b"\t"])
            lines.append(padding + b"{" + b", ".join(parts) + b"}" + padding)
        yield rng.choice([b"\n", b"\n", b"\r\n", b"\n\n"]).join(lines) + b"\n"


def value(rng: random.Random, kinds: dict[str, str], key: str, depth: int) -> bytes:
    roll = rng.random()
    if roll < 0.1 and depth < 3:
        inner = rng.sample(KEYS, rng.randint(0, 3))
        return b"{" + b", ".join(orjson.dumps(k) + b": " + value(rng, kinds, k, depth + 1) for k in inner) + b"}"
    if roll < 0.15:
        return b"null"
    kind = kinds[key] if roll < 0.95 else rng.choice(list(SCALARS))
    return rng.choice(SCALARS[kind])


def test_generated_bodies() -> None:
    rng = random.Random(20261207)
    bodies = list(generated_bodies(rng, 400))
    taken = check(bodies, 3)
    assert 40 < taken < len(bodies)  # both paths were exercised


def test_record_path_fallback_in_the_worker_when_the_stream_makes_a_double_column_text() -> None:
    """The case Arrow cannot answer for: ``1`` and ``1.5`` read as a double column, and the
    stream holds the field as text: the record path stores ``"1"``, a double gives ``"1.0"``."""
    body = b'{"_timestamp": 1800000000, "x": 1}\n{"_timestamp": 1800000000, "x": 1.5}\n'
    delivery = Delivery("r", raw=columnar.RawBody(body, RECEIVED))
    table = deliveries_table([delivery], {"x": S.STRING})
    assert table.column("x").to_pylist() == ["1", "1.5"]


def test_the_benchmark_logs_travel_as_columns() -> None:
    """Realistic logs write their floats as floats (``12.0``), so their columns go alone."""
    lines = [orjson.dumps(r) for r in Generator(20261123, 1_000)]
    for body in bodies_of(lines, 128 * 1024):
        delivery = sent(body)
        assert delivery.raw is not None and delivery.raw.handed_over is not None and delivery.raw.ndjson is None


def test_an_integer_among_doubles_sends_the_text_and_a_float_written_whole_does_not() -> None:
    """``1`` beside ``1.5`` is the case only the text can answer when the stream makes the field
    text (``"1"``, not ``"1.0"``): that body travels as text. ``1.0`` beside ``1.5`` is a
    double either way (``"1.0"``): its columns travel, and land the record path's text."""
    integer = b'{"_timestamp": 1800000000, "x": 1}\n{"_timestamp": 1800000000, "x": 1.5}\n'
    written_whole = b'{"_timestamp": 1800000000, "x": 1.0}\n{"_timestamp": 1800000000, "x": 1.5}\n'
    by_text, by_columns = sent(integer), sent(written_whole)
    assert by_text.raw is not None and by_text.raw.handed_over is None
    assert by_columns.raw is not None and by_columns.raw.handed_over is not None
    assert deliveries_table([by_text], {"x": S.STRING}).column("x").to_pylist() == ["1", "1.5"]
    assert deliveries_table([by_columns], {"x": S.STRING}).column("x").to_pylist() == ["1.0", "1.5"]
    records, _whole = record_path(written_whole)
    assert same(deliveries_table([by_columns], {"x": S.STRING}), to_table(canonical_ndjson(records), {"x": S.STRING}))


def test_many_integral_doubles_send_the_text_without_reading_records() -> None:
    """Past 64 rows and one in eight holding an integral double, the check does not run the
    record path over them: the body travels as text (the worker's old cost, never a wrong answer)."""
    lines = [b'{"_timestamp": 1800000000, "x": %d.0}' % i for i in range(200)] + [b'{"x": 0.5}']
    body = b"\n".join(lines) + b"\n"
    columns = columnar.read(body, RECEIVED)
    assert columns is not None
    assert columnar.integers_among_doubles(columns, body, RECEIVED)
    assert sent(body).raw.handed_over is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("layout", "line_per_row"),
    [
        ("{}\n", True),  # the usual body
        ("{}", True),  # no final line break
        ("\n \t{}\n\n", True),  # blank lines and whitespace around the records only
        ("{}\r\n", False),  # CRLF: Arrow ends a line at \r, so the lines are counted one by one
        ("  {}  \n\n", False),  # padded lines and blank lines between them
    ],
)
def test_integral_doubles_are_read_from_their_own_line(layout: str, line_per_row: bool) -> None:
    """The check reads exactly the lines of the rows holding an integral double, however the body
    lays its lines out: an integer written on row k (``"x": 2``, among ``1.5``) is seen wherever
    k is, first, inside or last; a ``2.0`` on that row is not an integer."""
    rows = 40
    for at in (0, 1, 17, rows - 1):
        for written, expected in ((b"2", True), (b"2.0", False)):
            records = [b'{"n": %d, "x": %s}' % (i, written if i == at else b"1.5") for i in range(rows)]
            head, _, tail = layout.partition("{}")
            separator = {"{}\n": "\n", "{}": "\n", "\n \t{}\n\n": "\n", "{}\r\n": "\r\n"}.get(layout, "  \n\n  ")
            body = head.encode() + separator.encode().join(records) + tail.encode()
            columns = columnar.read(body, RECEIVED)
            assert columns is not None, body
            assert columns.line_per_row is line_per_row, body
            assert columnar.integers_among_doubles(columns, body, RECEIVED) is expected, (layout, at, written)
