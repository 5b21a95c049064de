"""Upload the built console to its bucket and refresh CloudFront: ``python -m infra_cdk.publish_console``.

``make deploy`` runs it after ``cdk deploy``. The bucket and distribution come from the
stack's outputs (``ConsoleBucketName``, ``ConsoleDistributionId``) unless given. Hashed
assets are cacheable forever; the HTML pages are revalidated on every visit. Files the new
build no longer has are deleted after the new ones are in place, so a visitor mid-deploy
never meets a missing asset.
"""

from __future__ import annotations

import argparse
import logging
import mimetypes
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra_cdk.config import REPO_ROOT

log = logging.getLogger("publish_console")
DIST = REPO_ROOT / "console" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Upload:
    key: str
    path: Path
    content_type: str
    cache_control: str


def plan(dist: Path, assets_prefix: str = "assets/") -> list[Upload]:
    """What to upload, HTML last (so pages never point at assets that are not there yet)."""
    uploads = []
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        key = path.relative_to(dist).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/javascript":
            content_type += "; charset=utf-8"
        cache = IMMUTABLE if key.startswith(assets_prefix) else REVALIDATE
        uploads.append(Upload(key, path, content_type, cache))
    return sorted(uploads, key=lambda u: (u.key.endswith(".html"), u.key))


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def publish(s3: Any, cloudfront: Any, *, bucket: str, distribution_id: str | None, dist: Path = DIST) -> dict[str, int]:
    if not (dist / "index.html").is_file():
        raise FileNotFoundError(f"{dist}/index.html is missing: run `make console` first")
    uploads = plan(dist)
    for upload in uploads:
        s3.put_object(
            Bucket=bucket,
            Key=upload.key,
            Body=upload.path.read_bytes(),
            ContentType=upload.content_type,
            CacheControl=upload.cache_control,
        )
    wanted = {u.key for u in uploads}
    stale: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in wanted]
    for start in range(0, len(stale), 1000):
        chunk = stale[start : start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
    if distribution_id:
        cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"publish-{time.time_ns()}",
            },
        )
    return {"uploaded": len(uploads), "deleted": len(stale), "invalidated": int(bool(distribution_id))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="MoleSignal-dev", help="stack whose outputs name the bucket")
    parser.add_argument("--bucket", help="the console bucket (default: the stack's ConsoleBucketName)")
    parser.add_argument("--distribution-id", help="default: the stack's ConsoleDistributionId")
    parser.add_argument("--dist", type=Path, default=DIST)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import boto3

    bucket, distribution_id = args.bucket, args.distribution_id
    if not bucket:
        outputs = stack_outputs(boto3.client("cloudformation"), args.stack)
        bucket, distribution_id = outputs["ConsoleBucketName"], distribution_id or outputs["ConsoleDistributionId"]
    try:
        counts = publish(
            boto3.client("s3"),
            boto3.client("cloudfront"),
            bucket=bucket,
            distribution_id=distribution_id,
            dist=args.dist,
        )
    except FileNotFoundError as missing:
        log.error("%s", missing)
        return 1
    log.info("console published to s3://%s: %s", bucket, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
