"""The hash chain's arithmetic and the event ids, without AWS."""

from __future__ import annotations

import hashlib

from molesignal.events import canonical
from molesignal.events.chain import Head, link_batch
from molesignal.events.ids import id_time_us, is_event_id, new_ids, uuid7_at


def test_canonical_json_is_rfc8785() -> None:
    # RFC 8785 §3.2.3: keys sorted by UTF-16 code units; numbers in ECMAScript form.
    document = {"b": 1e21, "a": [1.0, 0.000001, "\u20ac"], "\u00e9": True, "hash": "ignored"}
    assert canonical.canonical_json(document) == '{"a":[1,0.000001,"\u20ac"],"b":1e+21,"\u00e9":true}'.encode()


def test_chain_hash_is_sha256_of_previous_hash_and_digest() -> None:
    doc = {"id": "x", "seq": 1}
    digest = canonical.digest(doc)
    assert digest == hashlib.sha256(b'{"id":"x","seq":1}').hexdigest()
    expected = hashlib.sha256(bytes(32) + bytes.fromhex(digest)).hexdigest()
    assert canonical.link(canonical.GENESIS, digest) == expected


def test_link_batch_numbers_after_the_head_and_folds() -> None:
    start = Head(41, canonical.link(canonical.GENESIS, "00" * 32))
    linked = link_batch(start, [{"id": "a"}, {"id": "b"}, {"id": "c"}])
    assert [d["seq"] for d in linked.documents] == [42, 43, 44]
    assert linked.end == Head(44, canonical.fold(start.hash, linked.digests))
    assert linked.hashes[0] == canonical.link(start.hash, canonical.digest({"id": "a", "seq": 42}))


def test_uuid7_carries_the_receive_time_to_the_microsecond() -> None:
    event_id = uuid7_at(1_780_000_000_123_456)
    assert is_event_id(event_id)
    assert event_id[14] == "7"
    assert id_time_us(event_id) == 1_780_000_000_123_456


def test_ids_of_one_batch_are_strictly_increasing() -> None:
    issued = new_ids(1000)
    times = [t for _, t in issued]
    assert times == sorted(set(times))
    assert [i for i, _ in issued] == sorted(i for i, _ in issued)
    assert [id_time_us(i) for i, _ in issued] == times


def test_foreign_ids_are_not_event_ids() -> None:
    assert not is_event_id("not-a-uuid")
    assert not is_event_id("123e4567-e89b-42d3-a456-426614174000")  # version 4
    assert id_time_us("0190d3c8-1234-7fff-8abc-0123456789ab") is None  # rand_a 0xfff is no µs
