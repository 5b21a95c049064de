"""The content contract: content columns split out of rows, sealed with AES-256-GCM under KMS data keys."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from moto import mock_aws

from molesignal import aws
from molesignal.otlp.content import (
    DEFAULT_POLICY,
    LEGACY_BLOB_VERSION,
    ContentBinding,
    ContentCipher,
    ContentDecryptionError,
    ContentPolicy,
    EncryptedBlob,
    key_id_for,
    policy_for_org,
    split_content,
)
from molesignal.otlp.decode import decode_request
from molesignal.otlp.flatten import flatten
from molesignal.settings import reset_settings
from tests.unit.otlp.builders import T0, json_attrs, json_value

ORG = "org_1"
OTHER_ORG = "org_2"
SECRET = "rm -rf /home/alice/project && cat ~/.ssh/id_rsa  # the user's very private prompt"


# ---- policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        "attr_prompt",
        "attr_tool_parameters",
        "attr_tool_input",
        "attr_file_path",
        "attr_gen_ai_prompt",
        "attr_gen_ai_input_messages",
        "attr_gen_ai_prompt_0_content",  # gen_ai.prompt.* (the older indexed form)
        "attr_llm_prompts_0_content",  # llm.prompts*
        "attr_llm_completions",
        "scope_command",
        "resource_process_command_line",
        "resource_process_command_args",
        "attr_prompt_",  # a colliding column's suffix does not hide it
    ],
)
def test_default_policy_marks_content_columns(column: str) -> None:
    assert DEFAULT_POLICY.is_content_column(column)


@pytest.mark.parametrize(
    "column",
    [
        "attr_prompt_length",
        "attr_tool_name",
        "attr_model",
        "attr_input_tokens",
        "attr_cost_usd",
        "attr_url_path",  # whole keys only: `path` does not catch url.path
        "attr_process_command",
        "attr_error",
        "service_name",
        "scope_name",
        "scope_version",
        "session_id",
        "body",
        "prompt",  # not an attribute column
        "trace_id",
    ],
)
def test_default_policy_leaves_usage_columns_plaintext(column: str) -> None:
    assert not DEFAULT_POLICY.is_content_column(column)


def test_policy_of_an_orgs_list_of_keys_and_patterns() -> None:
    policy = ContentPolicy.of(["customer.Email", "secret*", "*.token"])
    assert policy.keys == frozenset({"customer.Email"})
    assert policy.patterns == ("*.token", "secret*")
    assert policy.is_content_key("customer.email")
    assert policy.is_content_column("attr_customer_email")
    assert policy.is_content_column("resource_secret_sauce")
    assert policy.is_content_column("attr_github_token")
    assert not policy.is_content_column("attr_prompt")  # an org's own list replaces the defaults
    assert not policy.is_content_column("attr_token")
    assert ContentPolicy(keys=frozenset(), patterns=()).is_content_column("attr_prompt") is False


def test_policy_for_an_org_item() -> None:
    assert policy_for_org({}) is DEFAULT_POLICY  # no settings: the defaults
    own = policy_for_org({"content_keys": ["ticket.*", "customer.secret"]})
    assert own is policy_for_org({"content_keys": ["customer.secret", "ticket.*"]})  # compiled once
    assert own.is_content_column("attr_ticket_note") and not own.is_content_column("attr_prompt")
    assert not own.body_is_content_for({"body": "x"})
    bodies = policy_for_org({"content_body_is_content": True})
    assert bodies.body_is_content_for({"body": "x"}) and bodies.is_content_column("attr_prompt")
    nothing = policy_for_org({"content_keys": []})  # an empty list: no attribute is content
    assert not nothing.is_content_column("attr_prompt")


def test_policy_is_a_value_object() -> None:
    assert ContentPolicy() == DEFAULT_POLICY
    assert hash(ContentPolicy()) == hash(DEFAULT_POLICY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.body_is_content = True  # type: ignore[misc]


# ---- split_content ---------------------------------------------------------------------------


def test_split_content_moves_content_columns_and_records_which() -> None:
    row = {
        "_timestamp": 1,
        "service_name": "claude-code",
        "attr_event_name": "tool_result",
        "attr_tool_name": "Bash",
        "attr_tool_parameters": '{"bash_command":"rm","full_command":"rm -rf /tmp/x"}',
        "attr_duration_ms": 12,
        "resource_process_command_line": "claude -p 'fix the bug'",
        "body": "claude_code.tool_result",
        "session_id": "s1",
    }
    plain, content = split_content(row, DEFAULT_POLICY)
    assert content == {
        "attr_tool_parameters": row["attr_tool_parameters"],
        "resource_process_command_line": row["resource_process_command_line"],
    }
    assert plain == {
        "_timestamp": 1,
        "service_name": "claude-code",
        "attr_event_name": "tool_result",
        "attr_tool_name": "Bash",
        "attr_duration_ms": 12,
        "body": "claude_code.tool_result",
        "session_id": "s1",
        "content_fields": '["attr_tool_parameters","resource_process_command_line"]',
        "has_content": True,
    }
    assert row["attr_tool_parameters"]  # the input row is left as it was


def test_split_content_without_content_returns_an_equal_copy() -> None:
    row = {"_timestamp": 1, "attr_model": "claude", "attr_input_tokens": 10}
    plain, content = split_content(row)
    assert (plain, content) == (row, {})
    assert plain is not row


def test_split_content_body_by_policy_or_by_genai_event_name() -> None:
    genai = {"event_name": "gen_ai.user.message", "body": '{"content":"hi"}'}
    legacy = {"attr_event_name": "gen_ai.choice", "body": "answer"}
    claude = {"event_name": "claude_code.user_prompt", "body": "claude_code.user_prompt"}
    assert split_content(genai)[1] == {"body": '{"content":"hi"}'}
    assert split_content(legacy)[1] == {"body": "answer"}
    assert split_content(claude)[1] == {}
    everything = ContentPolicy(body_is_content=True)
    assert split_content(claude, everything)[1] == {"body": "claude_code.user_prompt"}
    nothing = ContentPolicy(body_content_events=frozenset())
    assert split_content(genai, nothing)[1] == {}


def test_split_content_redacts_span_event_attributes() -> None:
    events = orjson.dumps(
        [
            {"name": "gen_ai.content.prompt", "time_unix_nano": 1, "attributes": {"gen_ai.prompt": SECRET, "n": 1}},
            {"name": "exception", "time_unix_nano": 2, "attributes": {"exception.type": "ValueError"}},
        ]
    ).decode()
    plain, content = split_content({"name": "chat", "events": events, "events_count": 2})
    assert content == {"events": events}
    assert SECRET not in plain["events"]
    assert orjson.loads(plain["events"]) == [
        {"name": "gen_ai.content.prompt", "time_unix_nano": 1, "attributes": {"n": 1}},
        {"name": "exception", "time_unix_nano": 2, "attributes": {"exception.type": "ValueError"}},
    ]
    assert plain["content_fields"] == '["events"]'
    harmless = orjson.dumps([{"name": "retry", "attributes": {"attempt": 2}}]).decode()
    assert split_content({"events": harmless}) == ({"events": harmless}, {})


def test_split_content_of_a_claude_code_style_otlp_json_batch() -> None:
    document = {
        "resourceLogs": [
            {
                "resource": {"attributes": json_attrs({"service.name": "claude-code", "service.version": "2.1.0"})},
                "scopeLogs": [
                    {
                        "scope": {"name": "com.anthropic.claude_code.events", "version": "2.1.0"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(T0),
                                "body": json_value("claude_code.user_prompt"),
                                "attributes": json_attrs(
                                    {
                                        "event.name": "user_prompt",
                                        "session.id": "sess-a",
                                        "user.email": "alice@example.com",
                                        "prompt_length": len(SECRET),
                                        "prompt": SECRET,
                                    }
                                ),
                            },
                            {
                                "timeUnixNano": str(T0 + 1),
                                "body": json_value("claude_code.api_request"),
                                "attributes": json_attrs(
                                    {
                                        "event.name": "api_request",
                                        "session.id": "sess-a",
                                        "model": "claude-sonnet",
                                        "input_tokens": 1200,
                                        "cost_usd": 0.0123,
                                    }
                                ),
                            },
                        ],
                    }
                ],
            }
        ]
    }
    result = flatten(decode_request("logs", orjson.dumps(document), "application/json", None))
    assert result.counts["logEvents"] == 2
    assert result.session_ids == ["sess-a"]
    (prompt_plain, prompt_content), (usage_plain, usage_content) = (split_content(r) for r in result.rows["otel_logs"])
    assert prompt_content == {"attr_prompt": SECRET}
    assert SECRET not in orjson.dumps(prompt_plain).decode()
    assert prompt_plain["attr_prompt_length"] == len(SECRET)
    assert prompt_plain["has_content"] is True
    assert usage_content == {}
    assert usage_plain["attr_cost_usd"] == 0.0123
    assert "has_content" not in usage_plain


# ---- envelope encryption against moto's KMS --------------------------------------------------


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for name in ("AWS_ENDPOINT_URL", "MOLESIGNAL_AWS_ENDPOINT_URL", "AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_settings()
    aws.reset_clients()
    # Neither reset on start nor removal on stop: moto's backends are per process, and the
    # session's emulator (tests/conftest.py) may be serving its tables from this process.
    mock = mock_aws()
    mock.start(reset=False)
    try:
        client = aws.client("kms")
        key_id = client.create_key(Description="molesignal content")["KeyMetadata"]["KeyId"]
        yield client, key_id
    finally:
        mock.stop(remove_data=False)
    aws.reset_clients()
    reset_settings()


class _Calls:
    """Counts KMS operations through botocore's event hooks on the real (moto-backed) client."""

    def __init__(self, client: Any) -> None:
        self.counts: dict[str, int] = {}
        client.meta.events.register("before-call.kms.*", self._count)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.counts[model.name] = self.counts.get(model.name, 0) + 1


def test_cipher_round_trip(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    blob = cipher.encrypt(ORG, SECRET.encode(), aad_context="rec-1")
    assert cipher.decrypt(ORG, blob, aad_context="rec-1") == SECRET.encode()
    assert len(blob.nonce) == 12
    assert len(blob.ciphertext) == len(SECRET.encode()) + 16  # ciphertext + GCM tag
    assert blob.key_id == key_id_for(blob.encrypted_key)
    assert len(blob.key_id) == 16


def test_cipher_decrypts_in_a_cold_process_through_kms_and_then_caches(kms: tuple[Any, str]) -> None:
    client, key_id = kms
    blobs = [ContentCipher(key_id).encrypt(ORG, f"v{i}".encode(), aad_context=f"r{i}") for i in range(3)]
    calls = _Calls(client)
    cold = ContentCipher(key_id)
    assert [cold.decrypt(ORG, b, aad_context=f"r{i}") for i, b in enumerate(blobs)] == [b"v0", b"v1", b"v2"]
    assert calls.counts == {"Decrypt": 3}  # three separate ciphers made three data keys
    assert cold.decrypt(ORG, blobs[0], aad_context="r0") == b"v0"
    assert calls.counts == {"Decrypt": 3}


def test_cipher_reuses_one_data_key_per_org(kms: tuple[Any, str]) -> None:
    client, key_id = kms
    calls = _Calls(client)
    cipher = ContentCipher(key_id)
    blobs = [cipher.encrypt(ORG, f"record {i}".encode(), aad_context=f"r{i}") for i in range(50)]
    assert calls.counts == {"GenerateDataKey": 1}
    assert len({b.key_id for b in blobs}) == 1
    assert len({b.nonce for b in blobs}) == 50
    assert [cipher.decrypt(ORG, b, aad_context=f"r{i}") for i, b in enumerate(blobs)][-1] == b"record 49"
    assert calls.counts == {"GenerateDataKey": 1}  # decrypting in the same process needs no KMS call
    other = cipher.encrypt(OTHER_ORG, b"x", aad_context="r0")
    assert other.key_id != blobs[0].key_id
    assert calls.counts == {"GenerateDataKey": 2}


def test_cipher_data_keys_expire_and_wear_out(kms: tuple[Any, str]) -> None:
    client, key_id = kms
    calls = _Calls(client)
    now = [1000.0]
    cipher = ContentCipher(key_id, key_ttl_s=300, max_uses_per_key=3, clock=lambda: now[0])
    first = cipher.encrypt(ORG, b"a", aad_context="r")
    now[0] += 299
    assert cipher.encrypt(ORG, b"b", aad_context="r").key_id == first.key_id
    now[0] += 2
    expired = cipher.encrypt(ORG, b"c", aad_context="r")
    assert expired.key_id != first.key_id
    assert calls.counts == {"GenerateDataKey": 2}
    for _ in range(3):
        cipher.encrypt(ORG, b"d", aad_context="r")  # uses 2, 3, then a new key
    assert calls.counts == {"GenerateDataKey": 3}
    assert cipher.decrypt(ORG, first, aad_context="r") == b"a"  # an old key still opens its blobs


def test_cipher_bounds_the_number_of_cached_keys(kms: tuple[Any, str]) -> None:
    client, key_id = kms
    calls = _Calls(client)
    cipher = ContentCipher(key_id, max_cached_keys=2)
    for org in ("a", "b", "c", "a"):
        cipher.encrypt(org, b"x", aad_context="r")
    assert calls.counts == {"GenerateDataKey": 4}  # "a" was evicted by "c"


def test_cipher_refuses_another_orgs_blob_cold_and_warm(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    blob = cipher.encrypt(ORG, SECRET.encode(), aad_context="rec-1")
    with pytest.raises(ContentDecryptionError):  # warm: the key is cached for ORG only; AAD names the org
        cipher.decrypt(OTHER_ORG, blob, aad_context="rec-1")
    with pytest.raises(ContentDecryptionError) as caught:  # cold: KMS refuses the other org's context
        ContentCipher(key_id).decrypt(OTHER_ORG, blob, aad_context="rec-1")
    assert "KMS refused" in caught.value.message


def test_cipher_refuses_a_blob_moved_to_another_record(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    blob = cipher.encrypt(ORG, SECRET.encode(), aad_context="rec-1")
    with pytest.raises(ContentDecryptionError, match="authentication failed"):
        cipher.decrypt(ORG, blob, aad_context="rec-2")
    with pytest.raises(ContentDecryptionError):
        ContentCipher(key_id).decrypt(ORG, blob, aad_context="rec-2")


@pytest.mark.parametrize("part", ["ciphertext", "tag", "nonce"])
def test_cipher_refuses_tampered_blobs(kms: tuple[Any, str], part: str) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    blob = cipher.encrypt(ORG, SECRET.encode(), aad_context="rec-1")
    if part == "ciphertext":
        changed = bytes([blob.ciphertext[0] ^ 1]) + blob.ciphertext[1:]
        tampered = dataclasses.replace(blob, ciphertext=changed)
    elif part == "tag":
        tampered = dataclasses.replace(blob, ciphertext=blob.ciphertext[:-1] + bytes([blob.ciphertext[-1] ^ 1]))
    else:
        tampered = dataclasses.replace(blob, nonce=bytes(12))
    with pytest.raises(ContentDecryptionError):
        cipher.decrypt(ORG, tampered, aad_context="rec-1")


def test_cipher_refuses_a_swapped_or_tampered_data_key(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    blob = cipher.encrypt(ORG, b"x", aad_context="r")
    other = ContentCipher(key_id).encrypt(ORG, b"y", aad_context="r")
    with pytest.raises(ContentDecryptionError, match="key id"):
        cipher.decrypt(ORG, dataclasses.replace(blob, encrypted_key=other.encrypted_key), aad_context="r")
    swapped = dataclasses.replace(blob, encrypted_key=other.encrypted_key, key_id=other.key_id)
    with pytest.raises(ContentDecryptionError):  # the other data key opens nothing sealed with this one
        ContentCipher(key_id).decrypt(ORG, swapped, aad_context="r")
    broken = blob.encrypted_key[:-1] + bytes([blob.encrypted_key[-1] ^ 1])
    with pytest.raises(ContentDecryptionError):
        ContentCipher(key_id).decrypt(
            ORG, dataclasses.replace(blob, encrypted_key=broken, key_id=key_id_for(broken)), aad_context="r"
        )


def test_content_binding_ties_a_blob_to_its_record_session_and_user(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    bound = ContentBinding("rec-1", "sess-a", "alice@example.com")
    blob = cipher.encrypt_json(ORG, {"attr_prompt": SECRET}, aad_context=bound.aad_context())
    assert cipher.decrypt_json(ORG, blob, aad_context=bound.aad_context(blob.version)) == {"attr_prompt": SECRET}
    for moved in (
        ContentBinding("rec-1", "sess-b", "alice@example.com"),  # another session
        ContentBinding("rec-1", "sess-a", "mallory@example.com"),  # another user
        ContentBinding("rec-2", "sess-a", "alice@example.com"),  # another record
        ContentBinding("rec-1", "", ""),  # the binding stripped
    ):
        with pytest.raises(ContentDecryptionError):
            cipher.decrypt_json(ORG, blob, aad_context=moved.aad_context(blob.version))
    # The version is in the AAD: relabelling a blob as version 1 (record-only binding) opens nothing
    relabelled = dataclasses.replace(blob, version=LEGACY_BLOB_VERSION)
    with pytest.raises(ContentDecryptionError):
        cipher.decrypt_json(ORG, relabelled, aad_context=bound.aad_context(LEGACY_BLOB_VERSION))


def test_version_1_blobs_sealed_before_sessions_were_bound_still_open(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    old = ContentCipher(key_id).encrypt(ORG, SECRET.encode(), aad_context="rec-1", version=LEGACY_BLOB_VERSION)
    assert EncryptedBlob.from_json(old.to_json()).version == LEGACY_BLOB_VERSION
    binding = ContentBinding("rec-1", "any-session", "anyone")
    opened = ContentCipher(key_id).decrypt(ORG, old, aad_context=binding.aad_context(old.version))
    assert opened == SECRET.encode()


def test_blob_serialisation_is_compact_and_never_holds_the_plaintext(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    content = {"attr_prompt": SECRET, "attr_file_path": "/home/alice/secret-plans.md"}
    blob = cipher.encrypt_json(ORG, content, aad_context="rec-9")
    stored = blob.to_dict()
    assert set(stored) == {"v", "alg", "kid", "edk", "iv", "ct"}
    assert (stored["v"], stored["alg"]) == (2, "A256GCM")
    text = blob.to_json()
    for needle in (SECRET, "secret-plans", "alice", base64.b64encode(SECRET.encode()).decode()[:24]):
        assert needle not in text
    assert EncryptedBlob.from_dict(orjson.loads(text)) == blob
    assert EncryptedBlob.from_json(text) == blob
    assert cipher.decrypt_json(ORG, EncryptedBlob.from_json(text), aad_context="rec-9") == content


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[]",
        '{"v": 2, "alg": "A256GCM"}',
        '{"v": 3, "alg": "A256GCM", "kid": "k", "edk": "AA==", "iv": "AA==", "ct": "AA=="}',
        '{"v": true, "alg": "A256GCM", "kid": "k", "edk": "AA==", "iv": "AA==", "ct": "AA=="}',
        '{"v": 1, "alg": "none", "kid": "k", "edk": "", "iv": "", "ct": ""}',
        '{"v": 1, "alg": "A256GCM", "edk": "AA==", "iv": "AA==", "ct": "AA=="}',
        '{"v": 1, "alg": "A256GCM", "kid": "k", "edk": "%%%", "iv": "AA==", "ct": "AA=="}',
        '{"v": 1, "alg": "A256GCM", "kid": "k", "iv": "AA==", "ct": "AA=="}',
    ],
)
def test_blob_from_garbage_is_refused(stored: str) -> None:
    with pytest.raises(ContentDecryptionError):
        EncryptedBlob.from_json(stored)


def test_cipher_refuses_a_short_nonce_and_needs_a_key_id(kms: tuple[Any, str]) -> None:
    _, key_id = kms
    cipher = ContentCipher(key_id)
    blob = cipher.encrypt(ORG, b"x", aad_context="r")
    with pytest.raises(ContentDecryptionError, match="nonce"):
        cipher.decrypt(ORG, dataclasses.replace(blob, nonce=b"\x00" * 8), aad_context="r")
    with pytest.raises(ValueError, match="KMS key id"):
        ContentCipher("")


def test_cipher_lets_kms_outages_through_as_they_are(kms: tuple[Any, str]) -> None:
    from botocore.exceptions import ClientError

    client, key_id = kms
    blob = ContentCipher(key_id).encrypt(ORG, b"x", aad_context="r")

    def throttle(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Decrypt")

    client.meta.events.register("before-call.kms.Decrypt", throttle)
    with pytest.raises(ClientError):  # a retryable failure, not "this blob is bad"
        ContentCipher(key_id).decrypt(ORG, blob, aad_context="r")
