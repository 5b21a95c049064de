"""The emulator's pieces that need no server: routing a request to its service, the journal's
crash recovery, and snapshots of KMS key material."""

from __future__ import annotations

import io
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from molesignal.local.emulator.dispatch import service_of
from molesignal.local.emulator.moto_services import ServiceJournal, _Pickler, is_change
from molesignal.local.emulator.sqs_store import QueueStore

CREDENTIAL = "testing/20261206/eu-west-1/{service}/aws4_request"


def _signed(service: str) -> dict[str, Any]:
    credential = CREDENTIAL.format(service=service)
    return {"HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=abc"}


@pytest.mark.parametrize("service", ["s3", "sqs", "dynamodb", "kms", "secretsmanager", "glue", "athena"])
def test_a_signed_request_goes_to_the_service_of_its_credential_scope(service: str) -> None:
    assert service_of(_signed(service)) == (service, "eu-west-1")


def test_presigned_and_unsigned_requests_are_routed_like_aws() -> None:
    v4 = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=testing%2F20261206%2Fus-east-1%2Fs3%2Faws4_request"
    assert service_of({"QUERY_STRING": v4}) == ("s3", "us-east-1")
    assert service_of({"QUERY_STRING": "AWSAccessKeyId=testing&Signature=x&Expires=1"})[0] == "s3"  # SigV2 link
    assert service_of({})[0] == "s3"
    assert service_of({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"})[0] == "sqs"
    assert service_of({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"})[0] == "dynamodb"


@pytest.mark.parametrize(
    ("environ", "changes"),
    [
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems"}, True),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.UpdateItem"}, True),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"}, False),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactGetItems"}, False),
        ({"HTTP_X_AMZ_TARGET": "TrentService.GenerateDataKey"}, False),
        ({"HTTP_X_AMZ_TARGET": "TrentService.CreateKey"}, True),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/schedules/x"}, False),
        ({"REQUEST_METHOD": "POST", "PATH_INFO": "/schedules/x"}, True),
    ],
)
def test_only_requests_that_may_change_state_are_journaled(environ: dict[str, Any], changes: bool) -> None:
    assert is_change(environ) is changes


def _entry(n: int) -> tuple[dict[str, Any], bytes]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_X_AMZ_TARGET": f"Test.Put{n}"}, f'{{"n": {n}}}'.encode()


def test_a_journal_cut_short_by_a_crash_replays_every_complete_entry_and_drops_the_torn_one(tmp_path: Path) -> None:
    # Given a journal of three entries whose last write a crash cut in half
    journal = ServiceJournal("unit-test-service", tmp_path, fsync=True)
    journal.recover(lambda *_: None)
    for n in range(3):
        environ, body = _entry(n)
        journal.wait_durable(journal.append(environ, body))
    journal.close(snapshot=False)
    path = next(tmp_path.glob("journal-*.log"))
    whole = path.read_bytes()
    environ, body = _entry(3)
    torn = ServiceJournal("unit-test-service", tmp_path, fsync=False)
    torn.recover(lambda *_: None)
    torn.append(environ, body)
    torn.close(snapshot=False)
    path.write_bytes(path.read_bytes()[: len(whole) + 7])

    # When the emulator starts again
    replayed: list[tuple[str, bytes]] = []
    again = ServiceJournal("unit-test-service", tmp_path, fsync=False)
    count = again.recover(lambda kept, data: replayed.append((kept["HTTP_X_AMZ_TARGET"], data)))

    # Then the three complete entries come back, in order, and the torn one is gone for good
    assert count == 3
    assert replayed == [(f"Test.Put{n}", f'{{"n": {n}}}'.encode()) for n in range(3)]
    environ, body = _entry(4)
    again.append(environ, body)
    again.close(snapshot=False)
    final: list[str] = []
    ServiceJournal("unit-test-service", tmp_path, fsync=False).recover(
        lambda kept, _: final.append(kept["HTTP_X_AMZ_TARGET"])
    )
    assert final == ["Test.Put0", "Test.Put1", "Test.Put2", "Test.Put4"]


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        lambda: ec.generate_private_key(ec.SECP256R1()),
    ],
)
def test_kms_private_keys_survive_a_snapshot(make_key: Any) -> None:
    """moto's KMS keys hold cryptography's (Rust) private keys, which pickle refuses."""
    key = make_key()
    with pytest.raises(TypeError):
        pickle.dumps(key)
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.key_types = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)
    pickler.dump({"keys": [key]})
    restored = pickle.loads(buffer.getvalue())["keys"][0]  # noqa: S301 - our own bytes
    assert restored.public_key().public_numbers() == key.public_key().public_numbers()


def test_idle_long_polls_wait_instead_of_waking_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pollers long-polling empty queues: each empty receive used to wake every other
    waiter, which received (empty) and woke the first again — a busy loop."""
    store = QueueStore(tmp_path / "queues.sqlite", fsync=False).open()
    for name in ("a", "b"):
        store.create_queue(name, {}, {})
    attempts = {"n": 0}
    real = store._receive_now

    def counted(*args: Any) -> Any:
        attempts["n"] += 1
        return real(*args)

    monkeypatch.setattr(store, "_receive_now", counted)
    pollers = [threading.Thread(target=store.receive, args=(name,), kwargs={"wait_s": 2}) for name in ("a", "b")]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    store.close()
    assert attempts["n"] <= 10  # a look when called, then about one a second each while waiting


def test_sqs_refuses_the_characters_aws_refuses_whichever_check_runs() -> None:
    """An ASCII body is checked by deleting the allowed bytes, any other by the regex: both
    refuse exactly the characters outside SQS's allowed ranges."""
    from molesignal.local.emulator.sqs_store import Outgoing, SqsError, _check_message

    def refused(body: str) -> bool:
        try:
            _check_message(Outgoing(body=body, attributes={}, system={}, delay_s=None), 1 << 20)
        except SqsError as error:
            assert error.code == "InvalidMessageContents"
            return True
        return False

    allowed = {0x09, 0x0A, 0x0D, *range(0x20, 0x80)}
    for code in range(0x80):
        assert refused(f"ok{chr(code)}ok") is (code not in allowed), code
        assert refused(f"é{chr(code)}") is (code not in allowed), code  # not ASCII: the regex
    assert not refused("x" * 300_000 + "\u00e9\U0001f600\ufffd")
    assert refused("x" * 300_000 + "\ufffe")


def _tree(node: Any) -> Any:
    """A parse tree as plain data: each node's kind, attributes and children, parents by kind."""
    if not hasattr(node, "__dict__"):
        return repr(node)
    return (
        type(node).__name__,
        {
            name: type(value).__name__
            if name == "parent"
            else [_tree(child) for child in value]
            if isinstance(value, list)
            else _tree(value)
            for name, value in vars(node).items()
        },
    )


def test_moto_validators_copy_a_parse_tree_as_deepcopy_does() -> None:
    """The validators' copy of a kept UpdateExpression parse (ADR 0033) is a whole new tree,
    equal to ``copy.deepcopy``'s, each node linked to its own new parent."""
    import copy

    from molesignal.local.emulator import moto_patches

    moto_patches.apply()
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    parsed = UpdateExpressionParser.make(
        "SET #s = :s, v = if_not_exists(v, :z) + :one, l = list_append(l, :t), m.n[2] = :x "
        "REMOVE a.b[1], c ADD n :one DELETE tags :old"
    )
    copied = validators.deepcopy(parsed)
    assert _tree(copied) == _tree(copy.deepcopy(parsed)) == _tree(parsed)

    def nodes(node: Any) -> list[Any]:
        found = [node]
        for child in getattr(node, "children", None) or []:
            if hasattr(child, "children"):
                assert child.parent is node
                found += nodes(child)
        return found

    originals = {id(n) for n in nodes(parsed)}
    assert not originals & {id(n) for n in nodes(copied)}
    # and any other value is copied by copy.deepcopy itself
    value = {"L": [{"S": "a"}]}
    assert validators.deepcopy(value) == value and validators.deepcopy(value) is not value


def test_moto_item_sizes_are_computed_as_moto_computes_them() -> None:
    """The 400 KB check counts an item by ``DynamoType.size``'s rules without building a new
    object per map member (ADR 0033): the same number for every kind of value, and the same
    refusal at the same size."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    from molesignal.local.emulator import moto_patches

    moto_patches.apply()
    values = [
        {"S": "text é"},
        {"N": "123.45"},
        {"B": b"\x00\x01binary"},
        {"BOOL": True},
        {"NULL": True},
        {"SS": ["a", "bé"]},
        {"NS": ["1", "22.5"]},
        {"BS": [b"x", b"yz"]},
        {"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"BOOL": False}}}]},
        {"M": {"schema": {"M": {f"f{i}": {"S": "string"} for i in range(50)}}, "l": {"L": [{"NULL": True}]}}},
    ]
    for value in values:
        typed = DynamoType(value)
        assert moto_patches._value_size(typed, DynamoType) == DynamoType.size(typed), value
    # Given an item just under moto's limit, one more byte is refused, as moto refuses it
    attrs = LimitedSizeDict()
    attrs["pk"] = DynamoType({"S": "p"})
    attrs["big"] = DynamoType({"S": "x" * (405000 - 2 - 1 - 3 - 4)})
    attrs["ok"] = DynamoType({"S": ""})  # 404,998 bytes: 2+1, 3+404,990, 2+0
    with pytest.raises(ItemSizeTooLarge):
        attrs["more"] = DynamoType({"S": "y"})
    assert "more" not in attrs
