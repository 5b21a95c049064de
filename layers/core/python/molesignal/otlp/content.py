"""The content contract of spec 002: session content is split out of each row and sealed.

Usage attributes (models, token counts, cost, tool names, timings, the seat) stay plaintext
columns; attributes that carry *session content* — prompts, completions, tool inputs and
parameters, commands, file paths — are removed from the row at ingest, and the caller stores
them encrypted beside it. Nothing is ever rejected for carrying content.

Which columns are content — :class:`ContentPolicy` (an org may supply its own):

* ``keys``: attribute keys, matched against the *whole* key of a record (``attr_``), scope
  (``scope_``) or resource (``resource_``) attribute, compared in canonical column form
  (``gen_ai.prompt`` matches the column ``attr_gen_ai_prompt``; a ``_`` suffix added for a
  colliding column is ignored). Whole keys, not their last segment, so that ``path`` does not
  catch ``url.path`` and ``command`` does not catch ``process.command``.
* ``patterns``: the same with ``*`` wildcards (``llm.prompts*``, ``gen_ai.prompt.*``).
* ``body_is_content``: a log record's ``body`` is content; and ``body_content_events``: the
  ``body`` is content for these event names (the record's ``event_name`` or its ``event.name``
  attribute) — by default the GenAI semantic-convention message events, whose body is the
  message. Claude Code's events carry the event name as body, so their bodies stay plaintext.
* Span events (the ``events`` JSON column) are redacted: matching event attributes are removed
  and the original ``events`` text goes to the content side.

The defaults (:data:`DEFAULT_CONTENT_KEYS`, :data:`DEFAULT_CONTENT_PATTERNS`) cover Claude
Code (``prompt`` — gated by ``OTEL_LOG_USER_PROMPTS`` —, ``tool_parameters``, ``tool_input``,
``file_path``, ``full_command``...), the GenAI semantic conventions (``gen_ai.prompt``,
``gen_ai.input.messages``, ``gen_ai.tool.call.arguments``...), OpenLLMetry (``llm.prompts*``,
``traceloop.entity.input``), OpenInference (``input.value``, ``llm.input_messages*``) and
process command lines (``process.command_line``/``_args``: ``claude -p "<prompt>"``). Left
plaintext on purpose: error messages, tool names, model names, token counts, ``url.path``.
A key inside a structured value (a kvlist attribute) is not looked into: the attribute's own
key decides.

Encryption — :class:`ContentCipher`: envelope encryption with AES-256-GCM under per-org data
keys from KMS (``GenerateDataKey`` with the encryption context ``{"org_id": <org>, "purpose":
"molesignal-content"}``). The plaintext data key is cached in memory per org for a bounded time
(5 minutes), number of orgs (256) and number of uses, so a batch costs one KMS call, not one
per record. Each :class:`EncryptedBlob` carries the KMS-encrypted data key, a short key id
(sha256 of it), a random 96-bit nonce and ciphertext+tag. The AAD binds the org id, the blob's
version and a caller-chosen context (``aad_context``); session content passes
:meth:`ContentBinding.aad_context` — the record id, the session id and the session's user — so
a blob moved to another org, record, session or user does not decrypt. Version 1 blobs,
sealed before sessions were bound, bind the org and the record id only; they still open, and
the reader decides who may see them (otlp/reader.py). Decryption uses the cached key for that
key id if the same org holds it, else ``kms.decrypt`` with the org's encryption context — which
KMS refuses for another org.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from molesignal import aws
from molesignal.errors import DomainError
from molesignal.ingest.normalize import field_name

# ---- which attributes are content ------------------------------------------------------------

DEFAULT_CONTENT_KEYS: frozenset[str] = frozenset(
    {
        # Claude Code (events and traces; most gated by OTEL_LOG_USER_PROMPTS / OTEL_LOG_TOOL_DETAILS)
        "prompt",
        "user_prompt",
        "tool_input",
        "tool_parameters",
        "tool_result",
        "tool_output",
        "command",
        "full_command",
        "bash_command",
        "file_path",
        "file_paths",
        "path",
        "content",
        "new_string",
        "old_string",
        # GenAI semantic conventions
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        # OpenLLMetry / Traceloop, OpenInference
        "traceloop.entity.input",
        "traceloop.entity.output",
        "input.value",
        "output.value",
        "tool.parameters",
        # other conventions carrying commands and paths
        "file.path",
        "process.command_line",
        "process.command_args",
    }
)
DEFAULT_CONTENT_PATTERNS: tuple[str, ...] = (
    "gen_ai.prompt.*",
    "gen_ai.completion.*",
    "llm.prompts*",
    "llm.completions*",
    "llm.input_messages*",
    "llm.output_messages*",
)
DEFAULT_BODY_CONTENT_EVENTS: frozenset[str] = frozenset(
    {
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.client.inference.operation.details",
    }
)

CONTENT_FIELDS = "content_fields"
HAS_CONTENT = "has_content"
_ATTRIBUTE_PREFIXES = ("attr_", "scope_", "resource_")
_NOT_ATTRIBUTES = frozenset({"scope_name", "scope_version"})
_NOT_NAME = re.compile(r"[^a-z0-9_]")
_MAX_DECISIONS = 20_000


def _canonical_piece(text: str) -> str:
    return _NOT_NAME.sub("_", text.lower())


@dataclass(frozen=True)
class ContentPolicy:
    """Which columns of a flattened row carry session content (see the module docstring)."""

    keys: frozenset[str] = DEFAULT_CONTENT_KEYS
    patterns: tuple[str, ...] = DEFAULT_CONTENT_PATTERNS
    body_is_content: bool = False
    body_content_events: frozenset[str] = DEFAULT_BODY_CONTENT_EVENTS
    _keys: frozenset[str] = field(init=False, repr=False, compare=False, hash=False)
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False, hash=False)
    _decisions: dict[str, bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", frozenset(field_name(key).rstrip("_") or "_" for key in self.keys))
        alternatives = [
            ".*".join(re.escape(_canonical_piece(piece)) for piece in pattern.split("*")) for pattern in self.patterns
        ]
        compiled = re.compile("|".join(f"(?:{alt})" for alt in alternatives)) if alternatives else None
        object.__setattr__(self, "_pattern", compiled)
        object.__setattr__(self, "_decisions", {})

    @classmethod
    def of(cls, entries: Iterable[str], *, body_is_content: bool = False) -> ContentPolicy:
        """A policy from one list of keys and ``*`` patterns (e.g. an org's setting)."""
        keys = frozenset(entry for entry in entries if "*" not in entry)
        patterns = tuple(sorted({entry for entry in entries if "*" in entry}))
        return cls(keys=keys, patterns=patterns, body_is_content=body_is_content)

    def is_content_key(self, key: str) -> bool:
        """Whether an attribute key (original or canonical form) names content."""
        canonical = field_name(key).rstrip("_") or "_"
        if canonical in self._keys:
            return True
        return self._pattern is not None and self._pattern.fullmatch(canonical) is not None

    def is_content_column(self, column: str) -> bool:
        """Whether a flattened row's ``attr_*``/``scope_*``/``resource_*`` column is content."""
        decided = self._decisions.get(column)
        if decided is not None:
            return decided
        decided = False
        if column not in _NOT_ATTRIBUTES:
            for prefix in _ATTRIBUTE_PREFIXES:
                if column.startswith(prefix):
                    decided = self.is_content_key(column[len(prefix) :])
                    break
        if len(self._decisions) < _MAX_DECISIONS:
            self._decisions[column] = decided
        return decided

    def body_is_content_for(self, row: dict[str, Any]) -> bool:
        if self.body_is_content:
            return True
        if not self.body_content_events:
            return False
        event = row.get("event_name") or row.get("attr_event_name")
        return isinstance(event, str) and event in self.body_content_events


DEFAULT_POLICY = ContentPolicy()

# The org item's settings (``PATCH /api/v1/orgs/{id}``): ``content_keys`` replaces the default
# list when present (keys and ``*`` patterns in one list); ``content_body_is_content`` seals every
# log body, not only the GenAI message events'.
ORG_CONTENT_KEYS = "content_keys"
ORG_BODY_IS_CONTENT = "content_body_is_content"


def default_content_entries() -> list[str]:
    """The default key list as an org sees it: keys, then ``*`` patterns."""
    return sorted(DEFAULT_CONTENT_KEYS) + list(DEFAULT_CONTENT_PATTERNS)


def org_content_entries(org: Mapping[str, Any]) -> list[str]:
    """The org's effective key list (its own if set, else the defaults)."""
    entries = org.get(ORG_CONTENT_KEYS)
    return default_content_entries() if entries is None else sorted(str(entry) for entry in entries)


@lru_cache(maxsize=256)
def _policy(entries: tuple[str, ...] | None, body_is_content: bool) -> ContentPolicy:
    # Cached: compiling the pattern and the per-column decisions are per policy, not per request.
    if entries is None:
        return ContentPolicy(body_is_content=body_is_content)
    return ContentPolicy.of(entries, body_is_content=body_is_content)


def policy_for_org(org: Mapping[str, Any]) -> ContentPolicy:
    """The content policy an org's settings ask for (the defaults when it set none)."""
    entries = org.get(ORG_CONTENT_KEYS)
    body_is_content = bool(org.get(ORG_BODY_IS_CONTENT, False))
    if entries is None and not body_is_content:
        return DEFAULT_POLICY
    return _policy(None if entries is None else tuple(sorted(str(entry) for entry in entries)), body_is_content)


def _redact_events(text: str, policy: ContentPolicy) -> str | None:
    """The span ``events`` JSON without content attributes, or None if nothing was removed."""
    try:
        events = orjson.loads(text)
    except ValueError:
        return None
    if not isinstance(events, list):
        return None
    removed = False
    for event in events:
        attributes = event.get("attributes") if isinstance(event, dict) else None
        if not isinstance(attributes, dict):
            continue
        for key in [key for key in attributes if policy.is_content_key(key)]:
            del attributes[key]
            removed = True
    return orjson.dumps(events).decode() if removed else None


def split_content(row: dict[str, Any], policy: ContentPolicy = DEFAULT_POLICY) -> tuple[dict[str, Any], dict[str, Any]]:
    """(plaintext row, content) — content maps each removed column to its value.

    The plaintext row gains ``content_fields`` (JSON text: the removed column names, sorted)
    and ``has_content: True`` when anything was removed; otherwise it is an equal copy.
    """
    plain: dict[str, Any] = {}
    content: dict[str, Any] = {}
    is_content = policy.is_content_column
    for column, value in row.items():
        if is_content(column):
            content[column] = value
        else:
            plain[column] = value
    if "body" in plain and policy.body_is_content_for(row):
        content["body"] = plain.pop("body")
    events = plain.get("events")
    if isinstance(events, str) and events:
        redacted = _redact_events(events, policy)
        if redacted is not None:
            content["events"] = events
            plain["events"] = redacted
    if content:
        plain[CONTENT_FIELDS] = orjson.dumps(sorted(content)).decode()
        plain[HAS_CONTENT] = True
    return plain, content


# ---- envelope encryption ---------------------------------------------------------------------

ENCRYPTION_PURPOSE = "molesignal-content"
BLOB_VERSION = 2
# Sealed before the AAD bound the session and its user: the org and the record id only.
LEGACY_BLOB_VERSION = 1
BLOB_VERSIONS = frozenset({LEGACY_BLOB_VERSION, BLOB_VERSION})
ALGORITHM = "A256GCM"
NONCE_BYTES = 12
KEY_ID_CHARS = 16
DATA_KEY_TTL_S = 300.0
MAX_CACHED_KEYS = 256
# Random 96-bit nonces: stay far below the 2**32 messages per key that NIST SP 800-38D allows.
MAX_USES_PER_KEY = 1 << 24


# KMS's answers to a data key that is not one of ours for this org (forged, tampered, another
# org's): the blob does not open. Any other KMS error is an outage and propagates.
_NOT_A_DATA_KEY = frozenset(
    {"InvalidCiphertextException", "IncorrectKeyException", "ValidationException", "InvalidKeyUsageException"}
)


class ContentDecryptionError(DomainError):
    """A sealed blob did not open: wrong org or record, tampered, or not a blob at all."""

    code = "content_undecryptable"


def key_id_for(encrypted_key: bytes) -> str:
    return hashlib.sha256(encrypted_key).hexdigest()[:KEY_ID_CHARS]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise ContentDecryptionError(f"encrypted content: {name} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ContentDecryptionError(f"encrypted content: {name} is not base64") from exc


@dataclass(frozen=True)
class EncryptedBlob:
    """One sealed value: what is stored beside a row. ``ciphertext`` ends with the 16-byte tag."""

    key_id: str
    encrypted_key: bytes
    nonce: bytes
    ciphertext: bytes
    version: int = BLOB_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "alg": ALGORITHM,
            "kid": self.key_id,
            "edk": _b64(self.encrypted_key),
            "iv": _b64(self.nonce),
            "ct": _b64(self.ciphertext),
        }

    @classmethod
    def from_dict(cls, data: Any) -> EncryptedBlob:
        version = data.get("v") if isinstance(data, dict) else None
        if type(version) is not int or version not in BLOB_VERSIONS or data.get("alg") != ALGORITHM:
            raise ContentDecryptionError("encrypted content: not a version 1 or 2 A256GCM blob")
        key_id = data.get("kid")
        if not isinstance(key_id, str):
            raise ContentDecryptionError("encrypted content: kid is missing")
        edk, iv, ct = (_unb64(data.get(name), name) for name in ("edk", "iv", "ct"))
        return cls(key_id, edk, iv, ct, version)

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> EncryptedBlob:
        try:
            data = orjson.loads(text)
        except ValueError as exc:
            raise ContentDecryptionError("encrypted content: not JSON") from exc
        return cls.from_dict(data)


@dataclass
class _DataKey:
    org_id: str
    plaintext: bytes
    encrypted: bytes
    key_id: str
    created: float
    uses: int = 0


def _aad(org_id: str, aad_context: str, version: int) -> bytes:
    return orjson.dumps([ENCRYPTION_PURPOSE, version, org_id, aad_context])


@dataclass(frozen=True)
class ContentBinding:
    """What a sealed content record belongs to, besides its org: bound into its AAD."""

    record_id: str
    session_id: str
    session_user: str

    def aad_context(self, version: int = BLOB_VERSION) -> str:
        if version == LEGACY_BLOB_VERSION:
            return self.record_id
        return orjson.dumps([self.record_id, self.session_id, self.session_user]).decode()


class ContentCipher:
    """AES-256-GCM envelope encryption under per-org KMS data keys (see the module docstring).

    ``kms`` defaults to ``molesignal.aws.client("kms")`` (honours AWS_ENDPOINT_URL); ``clock``
    is monotonic seconds, injectable for tests of the key cache.
    """

    def __init__(
        self,
        kms_key_id: str,
        *,
        kms: Any = None,
        key_ttl_s: float = DATA_KEY_TTL_S,
        max_cached_keys: int = MAX_CACHED_KEYS,
        max_uses_per_key: int = MAX_USES_PER_KEY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not kms_key_id:
            raise ValueError("a KMS key id is required to encrypt content")
        self.kms_key_id = kms_key_id
        self._kms = kms
        self._ttl = key_ttl_s
        self._max_keys = max(1, max_cached_keys)
        self._max_uses = max(1, max_uses_per_key)
        self._clock = clock
        self._lock = threading.Lock()
        self._by_org: OrderedDict[str, _DataKey] = OrderedDict()
        self._by_key_id: OrderedDict[str, _DataKey] = OrderedDict()

    def _client(self) -> Any:
        return self._kms if self._kms is not None else aws.client("kms")

    @staticmethod
    def encryption_context(org_id: str) -> dict[str, str]:
        return {"org_id": org_id, "purpose": ENCRYPTION_PURPOSE}

    # -- cache --

    def _fresh(self, key: _DataKey, now: float) -> bool:
        return now - key.created < self._ttl

    def _remember(self, key: _DataKey, *, for_encryption: bool) -> None:
        with self._lock:
            if for_encryption:
                self._by_org[key.org_id] = key
                self._by_org.move_to_end(key.org_id)
                while len(self._by_org) > self._max_keys:
                    self._by_org.popitem(last=False)
            self._by_key_id[key.key_id] = key
            self._by_key_id.move_to_end(key.key_id)
            while len(self._by_key_id) > self._max_keys:
                self._by_key_id.popitem(last=False)

    def _key_for_encryption(self, org_id: str) -> _DataKey:
        now = self._clock()
        with self._lock:
            key = self._by_org.get(org_id)
            if key is not None and self._fresh(key, now) and key.uses < self._max_uses:
                key.uses += 1
                self._by_org.move_to_end(org_id)
                return key
        response = self._client().generate_data_key(
            KeyId=self.kms_key_id, KeySpec="AES_256", EncryptionContext=self.encryption_context(org_id)
        )
        encrypted = bytes(response["CiphertextBlob"])
        key = _DataKey(org_id, bytes(response["Plaintext"]), encrypted, key_id_for(encrypted), now, uses=1)
        self._remember(key, for_encryption=True)
        return key

    def _key_for_decryption(self, org_id: str, blob: EncryptedBlob) -> bytes:
        if key_id_for(blob.encrypted_key) != blob.key_id:
            raise ContentDecryptionError("encrypted content: the key id does not match the encrypted key")
        now = self._clock()
        with self._lock:
            key = self._by_key_id.get(blob.key_id)
            if (
                key is not None
                and key.org_id == org_id
                and key.encrypted == blob.encrypted_key
                and self._fresh(key, now)
            ):
                self._by_key_id.move_to_end(blob.key_id)
                return key.plaintext
        from botocore.exceptions import ClientError

        try:
            response = self._client().decrypt(
                CiphertextBlob=blob.encrypted_key, EncryptionContext=self.encryption_context(org_id)
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_A_DATA_KEY:
                raise ContentDecryptionError(
                    "encrypted content: KMS refused the data key for this org", code="content_undecryptable"
                ) from exc
            raise
        plaintext = bytes(response["Plaintext"])
        self._remember(_DataKey(org_id, plaintext, blob.encrypted_key, blob.key_id, now), for_encryption=False)
        return plaintext

    def forget_keys(self) -> None:
        """Drop every cached plaintext data key."""
        with self._lock:
            self._by_org.clear()
            self._by_key_id.clear()

    # -- sealing --

    def encrypt(self, org_id: str, plaintext: bytes, *, aad_context: str, version: int = BLOB_VERSION) -> EncryptedBlob:
        """Seal ``plaintext`` for ``org_id``; ``aad_context`` must be given again to open it.

        ``version`` is the current one except in tests that stand in for older sealed data."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if version not in BLOB_VERSIONS:
            raise ValueError(f"unknown blob version {version}")
        key = self._key_for_encryption(org_id)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key.plaintext).encrypt(nonce, plaintext, _aad(org_id, aad_context, version))
        return EncryptedBlob(key.key_id, key.encrypted, nonce, ciphertext, version)

    def decrypt(self, org_id: str, blob: EncryptedBlob, *, aad_context: str) -> bytes:
        """Open a blob sealed for ``org_id`` and ``aad_context``; ContentDecryptionError otherwise."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(blob.nonce) != NONCE_BYTES:
            raise ContentDecryptionError("encrypted content: the nonce must be 12 bytes")
        key = self._key_for_decryption(org_id, blob)
        try:
            return AESGCM(key).decrypt(blob.nonce, blob.ciphertext, _aad(org_id, aad_context, blob.version))
        except InvalidTag as exc:
            raise ContentDecryptionError("encrypted content: authentication failed") from exc

    def encrypt_json(self, org_id: str, value: Any, *, aad_context: str, version: int = BLOB_VERSION) -> EncryptedBlob:
        """Seal a JSON-serialisable value (e.g. the content dict of :func:`split_content`)."""
        return self.encrypt(org_id, orjson.dumps(value), aad_context=aad_context, version=version)

    def decrypt_json(self, org_id: str, blob: EncryptedBlob, *, aad_context: str) -> Any:
        return orjson.loads(self.decrypt(org_id, blob, aad_context=aad_context))
