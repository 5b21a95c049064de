"""Publishing the built console to its bucket (what `make deploy` does after `cdk deploy`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra_cdk.publish_console import IMMUTABLE, REVALIDATE, plan, publish


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><script src=/assets/index-abc.js></script>")
    (tmp_path / "docs.html").write_text("<!doctype html>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "assets" / "index-abc.css").write_text("body{}")
    return tmp_path


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        cloudfront = boto3.client("cloudfront", region_name="us-east-1")
        s3.create_bucket(Bucket="console-files")
        origin = {
            "Id": "files",
            "DomainName": "console-files.s3.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
        }
        created = cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "test",
                "Comment": "console",
                "Enabled": True,
                "Origins": {"Quantity": 1, "Items": [origin]},
                "DefaultCacheBehavior": {"TargetOriginId": "files", "ViewerProtocolPolicy": "redirect-to-https"},
            }
        )
        yield s3, cloudfront, created["Distribution"]["Id"]


def test_html_goes_last_and_only_hashed_assets_are_cached_forever(dist: Path) -> None:
    uploads = plan(dist)
    assert [u.key.endswith(".html") for u in uploads] == [False, False, True, True]
    by_key = {u.key: u for u in uploads}
    assert by_key["assets/index-abc.js"].cache_control == IMMUTABLE
    assert by_key["index.html"].cache_control == REVALIDATE
    assert by_key["index.html"].content_type == "text/html; charset=utf-8"
    assert by_key["assets/index-abc.css"].content_type == "text/css; charset=utf-8"


def test_publish_uploads_the_build_removes_stale_files_and_invalidates(dist: Path, aws: tuple[Any, Any, str]) -> None:
    s3, cloudfront, distribution_id = aws
    s3.put_object(Bucket="console-files", Key="assets/index-old.js", Body=b"old build")
    counts = publish(s3, cloudfront, bucket="console-files", distribution_id=distribution_id, dist=dist)
    assert counts == {"uploaded": 4, "deleted": 1, "invalidated": 1}
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="console-files")["Contents"])
    assert keys == ["assets/index-abc.css", "assets/index-abc.js", "docs.html", "index.html"]
    head = s3.head_object(Bucket="console-files", Key="assets/index-abc.js")
    assert head["CacheControl"] == IMMUTABLE
    assert head["ContentType"].startswith(("application/javascript", "text/javascript"))
    invalidations = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    assert invalidations["Quantity"] == 1


def test_publish_refuses_an_unbuilt_console(tmp_path: Path, aws: tuple[Any, Any, str]) -> None:
    s3, cloudfront, distribution_id = aws
    with pytest.raises(FileNotFoundError, match="make console"):
        publish(s3, cloudfront, bucket="console-files", distribution_id=distribution_id, dist=tmp_path)
    assert "Contents" not in s3.list_objects_v2(Bucket="console-files")
