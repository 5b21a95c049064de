"""One local AWS endpoint: each request goes to the service its SigV4 credential scope names.

S3 and SQS go to the local stores when the emulator has a data directory; everything else
(and S3/SQS without one) goes to moto. ``/moto-api/*`` stays moto's, and its reset also
empties the local stores. ``GET /_aws/ses`` lists the e-mails SES has "sent", in
LocalStack's shape at LocalStack's path, so a test or a developer can see them whichever of
the two emulators runs (the emulator is a process of its own, ADR 0023).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs

from molesignal.local.emulator.moto_services import MotoServices
from molesignal.local.emulator.s3_api import S3Api
from molesignal.local.emulator.sqs_api import SqsApi

DEFAULT_REGION = "us-east-1"
# Unsigned JSON-protocol requests name their service only in X-Amz-Target.
_TARGET_SERVICES = {"AmazonSQS": "sqs", "TrentService": "kms", "secretsmanager": "secretsmanager", "AWSGlue": "glue"}


def _scope(credential: str) -> tuple[str, str] | None:
    """(service, region) from ``<key>/<date>/<region>/<service>/aws4_request``."""
    parts = credential.split("/")
    if len(parts) >= 5 and parts[-1] == "aws4_request":
        return parts[-2].lower(), parts[-3]
    return None


def service_of(environ: dict[str, Any]) -> tuple[str, str]:
    """The service and region a request is for. Like moto: S3 when nothing says otherwise
    (SigV2 presigned links, anonymous GETs)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    if authorization.startswith("AWS4-"):
        for field in authorization.split(" ", 1)[-1].split(","):
            name, _, value = field.strip().partition("=")
            if name == "Credential":
                found = _scope(value)
                if found:
                    return found
    query = str(environ.get("QUERY_STRING", ""))
    if "X-Amz-Credential" in query:
        credential = parse_qs(query).get("X-Amz-Credential", [""])[0]
        found = _scope(credential)
        if found:
            return found
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        prefix = target.split(".", 1)[0]
        if prefix.startswith("DynamoDB"):
            return "dynamodb", DEFAULT_REGION
        if prefix in _TARGET_SERVICES:
            return _TARGET_SERVICES[prefix], DEFAULT_REGION
    return "s3", DEFAULT_REGION


class LocalAws:
    """The WSGI app the emulator serves."""

    def __init__(self, moto: MotoServices, s3: S3Api | None, sqs: SqsApi | None) -> None:
        self.moto = moto
        self.s3 = s3
        self.sqs = sqs

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.rstrip("/") == "/_aws/ses" and environ.get("REQUEST_METHOD") == "GET":
            return _sent_emails(environ, start_response)
        if path.startswith("/moto-api"):
            if path.rstrip("/") == "/moto-api/reset":
                return self._reset(environ, start_response)
            return self.moto.app(environ, start_response)
        service, region = service_of(environ)
        if service == "s3" and self.s3 is not None:
            return self.s3(environ, start_response)
        if service == "sqs" and self.sqs is not None:
            return self.sqs(environ, start_response, region)
        return self.moto(environ, start_response, service)

    def _reset(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with ExitStack() as held:
            for lock in self.moto.locks():
                held.enter_context(lock)
            answer = list(self.moto.app(environ, start_response))
            if self.s3 is not None:
                self.s3.store.clear()
            if self.sqs is not None:
                self.sqs.store.clear()
            self.moto.reset()
        return answer


def _sent_emails(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """What moto's SES accepted, every region; ``?email=`` keeps one sender's (as LocalStack)."""
    from moto.ses.models import ses_backends

    sender = parse_qs(str(environ.get("QUERY_STRING", ""))).get("email", [""])[0]
    messages = []
    for regions in list(ses_backends.values()):
        for region, backend in list(regions.items()):
            for message in list(backend.sent_messages):
                source = str(getattr(message, "source", ""))
                if sender and source != sender:
                    continue
                destinations = getattr(message, "destinations", {})
                if isinstance(destinations, list):  # a raw message names its recipients only
                    destinations = {"ToAddresses": destinations}
                messages.append(
                    {
                        "Id": message.id,
                        "Region": region,
                        "Source": source,
                        "Destination": destinations,
                        "Subject": getattr(message, "subject", None),
                        "Body": {"text_part": getattr(message, "body", None), "html_part": None},
                        "RawData": getattr(message, "raw_data", None),
                    }
                )
    body = json.dumps({"messages": messages}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
