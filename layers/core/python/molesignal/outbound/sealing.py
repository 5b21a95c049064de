"""Destination secrets at rest: sealed with a KMS key, opened only to send.

What a destination keeps secret (a signing secret, an API key, a token) is small, so KMS
encrypts it itself (``Encrypt``, at most 4 KiB) rather than under a data key. The encryption
context binds the org, the destination and its purpose, so a sealed value copied onto another
destination, org or kind of destination does not open. Opened values are kept in memory
briefly, keyed by the destination's version, so a burst of deliveries costs one ``Decrypt``.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from molesignal import aws
from molesignal.errors import Invalid
from molesignal.settings import get_settings

MAX_SEALED_BYTES = 4096  # KMS Encrypt's plaintext limit
OPENED_TTL_S = 300.0
MAX_OPENED = 1024

_lock = threading.Lock()
_opened: OrderedDict[tuple[str, str, str, int], tuple[dict[str, Any], float]] = OrderedDict()


@dataclass(frozen=True)
class Sealer:
    key: str  # logical KMS key name in molesignal.resources
    purpose: str  # part of the encryption context: which kind of destination

    def _context(self, org_id: str, destination_id: str) -> dict[str, str]:
        return {"org_id": org_id, "destination_id": destination_id, "purpose": self.purpose}

    def seal(self, org_id: str, destination_id: str, secrets: dict[str, Any]) -> str:
        plaintext = orjson.dumps(secrets)
        if len(plaintext) > MAX_SEALED_BYTES:
            raise Invalid(
                f"invalid argument: the destination's secret parts take {len(plaintext)} bytes; "
                f"at most {MAX_SEALED_BYTES} are kept"
            )
        response = aws.client("kms").encrypt(
            KeyId=get_settings().kms_alias(self.key),
            Plaintext=plaintext,
            EncryptionContext=self._context(org_id, destination_id),
        )
        return base64.b64encode(bytes(response["CiphertextBlob"])).decode()

    def open(self, org_id: str, destination_id: str, version: int, sealed: str) -> dict[str, Any]:
        """The secret parts of one version of a destination (``version`` keys the memo)."""
        memo_key = (self.purpose, org_id, destination_id, version)
        now = time.monotonic()
        with _lock:
            held = _opened.get(memo_key)
            if held is not None and now - held[1] < OPENED_TTL_S:
                return held[0]
        response = aws.client("kms").decrypt(
            CiphertextBlob=base64.b64decode(sealed), EncryptionContext=self._context(org_id, destination_id)
        )
        value = orjson.loads(response["Plaintext"])
        opened = value if isinstance(value, dict) else {}
        with _lock:
            _opened[memo_key] = (opened, now)
            while len(_opened) > MAX_OPENED:
                _opened.popitem(last=False)
        return opened
