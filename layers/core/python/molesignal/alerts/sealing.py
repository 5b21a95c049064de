"""Destination secrets at rest: sealed with the ``alerts`` KMS key, opened only to send.

What a destination keeps secret — a webhook's signing secret, its header values, a Slack
incoming-webhook URL (the URL is the credential) — is small, so it is encrypted by KMS itself
(``Encrypt``, at most 4 KiB) rather than under a data key. The encryption context binds the
org and the destination id, so a sealed value copied onto another destination or org does not
open. Opened values are kept in memory briefly, keyed by the destination's version, so a burst
of notifications costs one ``Decrypt``.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import OrderedDict
from typing import Any

import orjson

from molesignal import aws
from molesignal.errors import Invalid
from molesignal.settings import get_settings

PURPOSE = "molesignal-alert-destination"
MAX_SEALED_BYTES = 4096  # KMS Encrypt's plaintext limit
OPENED_TTL_S = 300.0
MAX_OPENED = 1024

_lock = threading.Lock()
_opened: OrderedDict[tuple[str, str, int], tuple[dict[str, Any], float]] = OrderedDict()


def _context(org_id: str, destination_id: str) -> dict[str, str]:
    return {"org_id": org_id, "destination_id": destination_id, "purpose": PURPOSE}


def seal(org_id: str, destination_id: str, secrets: dict[str, Any]) -> str:
    plaintext = orjson.dumps(secrets)
    if len(plaintext) > MAX_SEALED_BYTES:
        raise Invalid(
            f"invalid argument: the destination's secret parts (url, secret, header values) take "
            f"{len(plaintext)} bytes; at most {MAX_SEALED_BYTES} are kept"
        )
    response = aws.client("kms").encrypt(
        KeyId=get_settings().kms_alias("alerts"),
        Plaintext=plaintext,
        EncryptionContext=_context(org_id, destination_id),
    )
    return base64.b64encode(bytes(response["CiphertextBlob"])).decode()


def open_sealed(org_id: str, destination_id: str, version: int, sealed: str) -> dict[str, Any]:
    """The secret parts of one version of a destination (``version`` keys the memo)."""
    key = (org_id, destination_id, version)
    now = time.monotonic()
    with _lock:
        held = _opened.get(key)
        if held is not None and now - held[1] < OPENED_TTL_S:
            return held[0]
    response = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(sealed), EncryptionContext=_context(org_id, destination_id)
    )
    value = orjson.loads(response["Plaintext"])
    opened = value if isinstance(value, dict) else {}
    with _lock:
        _opened[key] = (opened, now)
        while len(_opened) > MAX_OPENED:
            _opened.popitem(last=False)
    return opened
