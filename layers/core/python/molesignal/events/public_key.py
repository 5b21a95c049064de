"""The PEM of the checkpoint-signing key's public half, for auditors (the API only: workers
that sign never need it)."""

from __future__ import annotations

from functools import lru_cache

from molesignal import aws
from molesignal.events.checkpoints import KEY_LOGICAL
from molesignal.settings import get_settings


@lru_cache(maxsize=4)
def _public_key_der(alias: str) -> bytes:
    return bytes(aws.client("kms").get_public_key(KeyId=alias)["PublicKey"])


def public_key_pem() -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

    key = load_der_public_key(_public_key_der(get_settings().kms_alias(KEY_LOGICAL)))
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
