"""Publishing the built console to its bucket (what `make deploy` does after `cdk deploy`)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra_cdk.publish_console import IMMUTABLE, REVALIDATE, plan, publish

Emulated = tuple[Any, Any, str, str]  # s3, cloudfront, bucket, distribution id


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><script src=/assets/index-abc.js></script>")
    (tmp_path / "docs.html").write_text("<!doctype html>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "assets" / "index-abc.css").write_text("body{}")
    return tmp_path


@pytest.fixture
def aws(system: Any) -> Emulated:
    """A bucket and a distribution in the session's emulator.

    Not moto's in-process ``mock_aws``: stopping it resets every moto backend of this
    process, which is where the session's emulator keeps its tables too."""
    s3 = boto3.client("s3", endpoint_url=system.endpoint_url, region_name="us-east-1")
    cloudfront = boto3.client("cloudfront", endpoint_url=system.endpoint_url, region_name="us-east-1")
    bucket = f"console-files-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    origin = {
        "Id": "files",
        "DomainName": f"{bucket}.s3.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": bucket,
            "Comment": "console",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {"TargetOriginId": "files", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )
    return s3, cloudfront, bucket, created["Distribution"]["Id"]


def test_html_goes_last_and_only_hashed_assets_are_cached_forever(dist: Path) -> None:
    uploads = plan(dist)
    assert [u.key.endswith(".html") for u in uploads] == [False, False, True, True]
    by_key = {u.key: u for u in uploads}
    assert by_key["assets/index-abc.js"].cache_control == IMMUTABLE
    assert by_key["index.html"].cache_control == REVALIDATE
    assert by_key["index.html"].content_type == "text/html; charset=utf-8"
    assert by_key["assets/index-abc.css"].content_type == "text/css; charset=utf-8"


def test_publish_uploads_the_build_removes_stale_files_and_invalidates(dist: Path, aws: Emulated) -> None:
    s3, cloudfront, bucket, distribution_id = aws
    s3.put_object(Bucket=bucket, Key="assets/index-old.js", Body=b"old build")
    counts = publish(s3, cloudfront, bucket=bucket, distribution_id=distribution_id, dist=dist)
    assert counts == {"uploaded": 4, "deleted": 1, "invalidated": 1}
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["assets/index-abc.css", "assets/index-abc.js", "docs.html", "index.html"]
    head = s3.head_object(Bucket=bucket, Key="assets/index-abc.js")
    assert head["CacheControl"] == IMMUTABLE
    assert head["ContentType"].startswith(("application/javascript", "text/javascript"))
    invalidations = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    assert invalidations["Quantity"] == 1


def test_publish_refuses_an_unbuilt_console(tmp_path: Path, aws: Emulated) -> None:
    s3, cloudfront, bucket, distribution_id = aws
    with pytest.raises(FileNotFoundError, match="make console"):
        publish(s3, cloudfront, bucket=bucket, distribution_id=distribution_id, dist=tmp_path)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
