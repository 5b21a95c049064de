"""The trace family's objects in the blob bucket.

Blobs are content-addressed: ``traces/blobs/<org>/<sha[:2]>/<sha256>``, stored once per org
(a second bundle carrying the same bytes writes nothing, unless the stored copy has aged
out of the hot tier, when it is written again and is hot once more). A trace's own derived
objects (event chunks) live under its run prefix
``traces/runs/<org>/<yyyy>/<mm>/<dd>/<trace_id>/``. Every object is tagged for tiering
(``molesignal.resources.Tiering``); a pinned trace's objects carry the pinned tag, which no
lifecycle rule matches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from molesignal import aws
from molesignal.resources import Tiering, tiering_of
from molesignal.settings import get_settings

HOT_CLASSES = frozenset({"STANDARD", ""})
# What S3 calls each tier's storage class.
TIER_CLASSES = {"hot": "STANDARD", "warm": "STANDARD_IA", "cold": "GLACIER"}


def blob_key(org_id: str, sha256: str) -> str:
    return f"traces/blobs/{org_id}/{sha256[:2]}/{sha256}"


def run_prefix(org_id: str, trace_id: str, created_us: int) -> str:
    day = datetime.fromtimestamp(created_us / 1e6, tz=UTC)
    return f"traces/runs/{org_id}/{day:%Y/%m/%d}/{trace_id}/"


def upload_key(org_id: str, upload_id: str) -> str:
    return f"traces/uploads/{org_id}/{upload_id}"


class BlobStore:
    def __init__(self) -> None:
        self.bucket = get_settings().resource_name("blobs")
        self.tiering: Tiering = tiering_of("blobs")

    @property
    def s3(self) -> Any:
        return aws.client("s3")

    @property
    def signer(self) -> Any:
        """SigV4 presigning: links carry X-Amz-Date and X-Amz-Expires."""
        return aws.client("s3", signature_version="s3v4")

    def _tagging(self, pinned: bool) -> str:
        value = self.tiering.tag_pinned if pinned else self.tiering.tag_auto
        return f"{self.tiering.tag_key}={value}"

    def storage_class(self, key: str) -> str | None:
        """The object's storage class ("STANDARD" when S3 names none), or None if it is absent."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return str(head.get("StorageClass") or "STANDARD")

    def put_blob(self, org_id: str, sha256: str, data: bytes, content_type: str, *, pinned: bool = False) -> bool:
        """Store a blob unless a hot copy exists; True when bytes were written."""
        key = blob_key(org_id, sha256)
        if self.storage_class(key) in HOT_CLASSES:
            return False
        self.put_object(key, data, content_type, pinned=pinned)
        return True

    def put_object(self, key: str, data: bytes, content_type: str, *, pinned: bool = False) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, Tagging=self._tagging(pinned)
        )

    def get_bytes(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def set_pinned(self, key: str, pinned: bool) -> None:
        value = self.tiering.tag_pinned if pinned else self.tiering.tag_auto
        self.s3.put_object_tagging(
            Bucket=self.bucket, Key=key, Tagging={"TagSet": [{"Key": self.tiering.tag_key, "Value": value}]}
        )

    def presign_get(
        self, key: str, *, filename: str | None = None, content_type: str | None = None, expires_s: int | None = None
    ) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
        if content_type:
            params["ResponseContentType"] = content_type
        return str(
            self.signer.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_s or get_settings().trace_signed_url_ttl_s
            )
        )

    def presign_put(self, key: str, *, expires_s: int) -> str:
        return str(
            self.signer.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
            )
        )

    def size(self, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except self.s3.exceptions.ClientError:
            return None

    def change_class(self, key: str, storage_class: str) -> None:
        """Rewrite an object in place with another storage class (what a lifecycle rule does)."""
        self.s3.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            StorageClass=storage_class,
            MetadataDirective="COPY",
            TaggingDirective="COPY",
        )

    def request_restore(self, key: str, days: int) -> None:
        try:
            self.s3.restore_object(
                Bucket=self.bucket,
                Key=key,
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": "Expedited"}},
            )
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "RestoreAlreadyInProgress":
                raise

    def restore_done(self, key: str) -> bool:
        """Whether a temporary restored copy of a GLACIER object is readable now."""
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        if str(head.get("StorageClass") or "STANDARD") in HOT_CLASSES:
            return True
        restore = str(head.get("Restore") or "")
        return 'ongoing-request="false"' in restore
