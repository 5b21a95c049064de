"""Reading and releasing a queued message's records, carried inline or claim-checked in the
lake bucket (``envelope.carried``): shared by the events and fan-out messages."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from molesignal import aws
from molesignal.ingest import envelope
from molesignal.settings import get_settings


def records(payload_b64: str | None, s3_key: str | None, *, what: str) -> list[dict[str, Any]]:
    """The records a message carries (``what`` names the message in an error)."""
    if payload_b64 is not None:
        compressed = base64.b64decode(payload_b64)
    elif s3_key is not None:
        bucket = get_settings().resource_name("lake")
        compressed = aws.client("s3").get_object(Bucket=bucket, Key=s3_key)["Body"].read()
    else:
        raise ValueError(f"{what} carries neither payload nor claim check")
    text = envelope.decode_payload(compressed)
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def release(s3_key: str | None) -> None:
    """Delete a claim-checked payload once its message is done with."""
    if s3_key:
        aws.client("s3").delete_object(Bucket=get_settings().resource_name("lake"), Key=s3_key)
