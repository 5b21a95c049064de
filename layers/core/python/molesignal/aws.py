"""Cached boto3 clients. Every client honours AWS_ENDPOINT_URL through the settings."""

from __future__ import annotations

import threading
from typing import Any

from molesignal.settings import get_settings

_clients: dict[tuple[str, str | None, str, str | None], Any] = {}
_lock = threading.Lock()


def client(
    service: str, *, signature_version: str | None = None, region: str | None = None, endpoint: str | None = None
) -> Any:
    """``signature_version="s3v4"`` for presigned S3 links (SigV4: X-Amz-Date, X-Amz-Expires);
    ``region`` for a resource outside the deployment's region (a customer's bucket);
    ``endpoint`` for a service whose endpoint is a resource's own (a WebSocket API's
    ``@connections`` URL for ``apigatewaymanagementapi``)."""
    settings = get_settings()
    region_name = region or settings.aws_region
    endpoint_url = endpoint or settings.aws_endpoint_url
    key = (service, endpoint_url, region_name, signature_version)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            import boto3  # deferred: ~200 ms that routes without AWS calls never pay
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 4, "mode": "standard"},
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                signature_version=signature_version,
            )
            found = boto3.session.Session().client(
                service,
                region_name=region_name,
                endpoint_url=endpoint_url,
                config=config,
            )
            _clients[key] = found
    return found


def reset_clients() -> None:
    with _lock:
        _clients.clear()
