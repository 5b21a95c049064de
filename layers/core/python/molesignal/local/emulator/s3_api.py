"""S3's REST protocol (path-style addressing) over the local object store, as a WSGI app.

The subset is what MoleSignal's code, boto3's transfer manager and DuckDB's httpfs use:
buckets and their configuration documents, objects (PUT, GET with ranges and conditions,
HEAD, DELETE, multi-object delete, copy), object tags, storage classes and RestoreObject
(the restored copy is ready at once, as in moto), ListObjects v1 and v2, multipart uploads,
and presigned GETs. Signatures are not checked (as in moto): the emulator serves loopback only.
Anything else answers 501 ``NotImplemented`` with the operation named.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import IO, Any
from urllib.parse import parse_qsl, quote, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from molesignal.local.emulator.s3_store import (
    ARCHIVE_CLASSES,
    Listing,
    ObjectInfo,
    ObjectMeta,
    ObjectStore,
    S3Error,
    key_successor,
)

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_XML = '<?xml version="1.0" encoding="UTF-8"?>\n'
_OWNER = (
    "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
    "<DisplayName>webfile</DisplayName></Owner>"
)
_STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-cache-control": "Cache-Control",
    "response-expires": "Expires",
}
_CHECKSUMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
# Bucket configuration documents kept as sent, and the error S3 answers when one is absent.
_BUCKET_CONFIGS = {
    "publicAccessBlock": "NoSuchPublicAccessBlockConfiguration",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
    "lifecycle": "NoSuchLifecycleConfiguration",
    "policy": "NoSuchBucketPolicy",
    "tagging": "NoSuchTagSet",
    "cors": "NoSuchCORSConfiguration",
    "ownershipControls": "OwnershipControlsNotFoundError",
    "notification": "",
    "versioning": "",
    "acl": "",
    "logging": "",
}
_CHUNK = 1024 * 1024
_STORAGE_CLASSES = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _http_date(moment: float) -> str:
    return formatdate(moment, usegmt=True)


def _text(value: str) -> str:
    return escape(value)


def _xml(body: str, status: int = 200) -> Response:
    return Response(_XML + body, status=status, content_type="application/xml")


def _error(error: S3Error, request_id: str, *, head: bool) -> Response:
    if head:  # HEAD answers carry no body; clients read the status alone
        return Response(status=error.status)
    extra = "".join(f"<{k}>{_text(v)}</{k}>" for k, v in error.resource.items())
    return _xml(
        f"<Error><Code>{error.code}</Code><Message>{_text(error.message)}</Message>{extra}"
        f"<RequestId>{request_id}</RequestId></Error>",
        error.status,
    )


def _not_implemented(operation: str) -> S3Error:
    return S3Error(
        "NotImplemented",
        501,
        f"{operation} is not implemented by the local object store (MOLESIGNAL_DATA_DIR); "
        "run with MOLESIGNAL_DATA_DIR=:memory: to use moto's S3",
    )


def _split_path(environ: dict[str, Any]) -> tuple[str, str | None]:
    """The bucket and key of a path-style request, decoded from the raw request line."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path = unquote(raw.split("?", 1)[0]) if raw else environ.get("PATH_INFO", "/").encode("latin-1").decode()
    if "://" in path:  # an absolute-form request target
        path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key or None


def _meta_from(request: Request) -> ObjectMeta:
    headers = request.headers
    user = {k[len("x-amz-meta-") :].lower(): v for k, v in headers.items() if k.lower().startswith("x-amz-meta-")}
    stored = {name: headers[name] for name in _STORED_HEADERS if name in headers}
    if "aws-chunked" in stored.get("content-encoding", ""):
        remaining = [e.strip() for e in stored["content-encoding"].split(",") if e.strip() != "aws-chunked"]
        if remaining:
            stored["content-encoding"] = ",".join(remaining)
        else:
            del stored["content-encoding"]
    return ObjectMeta(
        headers.get("Content-Type") or "binary/octet-stream",
        user,
        stored,
        tags=_tags_header(headers.get("x-amz-tagging", "")),
        storage_class=_storage_class(headers),
    )


def _tags_header(value: str) -> dict[str, str]:
    """``x-amz-tagging``: a tag set as a URL query string."""
    return dict(parse_qsl(value, keep_blank_values=True))


def _storage_class(headers: Any) -> str:
    value = headers.get("x-amz-storage-class", "STANDARD").upper()
    if value not in _STORAGE_CLASSES:
        raise S3Error("InvalidStorageClass", 400, "The storage class you specified is not valid")
    return str(value)


def _tag_set_xml(tags: dict[str, str]) -> str:
    items = "".join(f"<Tag><Key>{_text(k)}</Key><Value>{_text(v)}</Value></Tag>" for k, v in tags.items())
    return f'<Tagging xmlns="{_NS}"><TagSet>{items}</TagSet></Tagging>'


def _tag_set_from(body: bytes) -> dict[str, str]:
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - loopback clients only
    except ElementTree.ParseError as exc:
        raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed") from exc
    tags: dict[str, str] = {}
    for element in root.iter():
        if _local(element.tag) == "Tag":
            tag_key = _child_text(element, "Key")
            if not tag_key:
                raise S3Error("InvalidTag", 400, "A tag needs a key")
            tags[tag_key] = _child_text(element, "Value") or ""
    return tags


def _restore_days(body: bytes) -> int:
    try:
        root = ElementTree.fromstring(body) if body else None  # noqa: S314 - loopback clients only
    except ElementTree.ParseError as exc:
        raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed") from exc
    days = _child_text(root, "Days") if root is not None else None
    try:
        value = int(days) if days else 1
    except ValueError as exc:
        raise S3Error("MalformedXML", 400, "Days must be a whole number") from exc
    if value < 1:
        raise S3Error("InvalidArgument", 400, "Days must be at least 1")
    return value


def _refuse_archived(info: ObjectInfo) -> None:
    if info.meta.archived:
        message = "The operation is not valid for the object's storage class"
        raise S3Error("InvalidObjectState", 403, message, StorageClass=info.meta.storage_class)


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        "ETag": info.etag,
        "Last-Modified": _http_date(info.modified),
        "Content-Type": info.meta.content_type,
        "Accept-Ranges": "bytes",
    }
    headers.update({name.title(): value for name, value in info.meta.headers.items()})
    headers.update({f"x-amz-meta-{name}": value for name, value in info.meta.user.items()})
    if info.meta.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = info.meta.storage_class
    if info.meta.restore_expiry is not None:
        headers["x-amz-restore"] = f'ongoing-request="false", expiry-date="{_http_date(info.meta.restore_expiry)}"'
    if info.meta.tags:
        headers["x-amz-tagging-count"] = str(len(info.meta.tags))
    return headers


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


def _aws_chunked(stream: IO[bytes]) -> Iterator[bytes]:
    """Decode the ``aws-chunked`` content encoding (SigV4 streaming uploads)."""
    while True:
        line = stream.readline(4096)
        if not line:
            raise S3Error("IncompleteBody", 400, "The request body ended before its last chunk.")
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline(4096).strip():  # trailers, up to the blank line
                pass
            return
        remaining = size
        while remaining:
            chunk = stream.read(min(remaining, _CHUNK))
            if not chunk:
                raise S3Error("IncompleteBody", 400, "The request body ended inside a chunk.")
            remaining -= len(chunk)
            yield chunk
        stream.readline(4096)  # the CRLF after the chunk


def _body(request: Request) -> Iterator[bytes]:
    stream = get_input_stream(request.environ)
    encoding = request.headers.get("Content-Encoding", "")
    if "aws-chunked" in encoding or request.headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
        return _aws_chunked(stream)
    return _chunks(stream)


def _range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range`` header asks for; None means the whole object."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None  # S3 ignores what it does not support and sends the whole object
    first, _, last = spec.strip().partition("-")
    try:
        if not first:
            length = int(last)
            return (max(0, size - length), size - 1) if length > 0 and size else _unsatisfiable(size)
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end:
        return _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> tuple[int, int]:
    error = S3Error(
        "InvalidRange", 416, "The requested range is not satisfiable", RangeRequested="", ActualObjectSize=str(size)
    )
    raise error


def _precondition(request: Request, info: ObjectInfo) -> int | None:
    """304 or 412 when a conditional GET/HEAD's condition says so."""
    headers = request.headers
    etag = info.etag.strip('"')
    if "If-Match" in headers and etag not in {t.strip().strip('"') for t in headers["If-Match"].split(",")} | {"*"}:
        return 412
    if "If-None-Match" in headers and etag in {t.strip().strip('"') for t in headers["If-None-Match"].split(",")}:
        return 304
    for name, status, newer in (("If-Unmodified-Since", 412, True), ("If-Modified-Since", 304, False)):
        if name in headers and not ("If-Match" in headers or "If-None-Match" in headers):
            try:
                since = parsedate_to_datetime(headers[name]).timestamp()
            except (TypeError, ValueError):
                continue
            if newer and int(info.modified) > since:
                return status
            if not newer and int(info.modified) <= since:
                return status
    return None


class S3Api:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request_id = uuid.uuid4().hex.upper()[:16]
        try:
            response = self.handle(request)
        except S3Error as error:
            response = _error(error, request_id, head=request.method == "HEAD")
        response.headers["x-amz-request-id"] = request_id
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        bucket, key = _split_path(request.environ)
        if not bucket:
            if request.method == "GET":
                return self._list_buckets()
            raise _not_implemented(f"{request.method} on the service")
        if key is None:
            return self._bucket(request, bucket)
        return self._object(request, bucket, key)

    # -- buckets -------------------------------------------------------------------------

    def _list_buckets(self) -> Response:
        buckets = "".join(
            f"<Bucket><Name>{_text(n)}</Name><CreationDate>{_iso(c)}</CreationDate></Bucket>"
            for n, c in self.store.list_buckets()
        )
        return _xml(
            f'<ListAllMyBucketsResult xmlns="{_NS}">{_OWNER}<Buckets>{buckets}</Buckets></ListAllMyBucketsResult>'
        )

    def _bucket(self, request: Request, bucket: str) -> Response:
        args = request.args
        method = request.method
        config = next((name for name in _BUCKET_CONFIGS if name in args), None)
        if config is not None:
            return self._bucket_config(request, bucket, config)
        if method == "PUT":
            self.store.create_bucket(bucket)
            return Response(status=200, headers={"Location": f"/{bucket}"})
        if method == "HEAD":
            if not self.store.bucket_exists(bucket):
                return Response(status=404)
            return Response(status=200, headers={"x-amz-bucket-region": "us-east-1"})
        if method == "DELETE":
            self.store.delete_bucket(bucket)
            return Response(status=204)
        if method == "POST" and "delete" in args:
            return self._delete_objects(request, bucket)
        if method == "GET":
            if "location" in args:
                self.store.list_objects(bucket, max_keys=0)  # 404 for a missing bucket
                return _xml(f'<LocationConstraint xmlns="{_NS}"/>')
            if "uploads" in args:
                return self._list_uploads(bucket)
            if args.get("list-type") == "2":
                return self._list_v2(request, bucket)
            if not any(k for k in args if k not in ("prefix", "delimiter", "marker", "max-keys", "encoding-type")):
                return self._list_v1(request, bucket)
        raise _not_implemented(f"{method} /{bucket}?{'&'.join(args)}")

    def _bucket_config(self, request: Request, bucket: str, name: str) -> Response:
        if request.method == "PUT":
            self.store.put_bucket_config(bucket, name, request.get_data())
            return Response(status=200)
        if request.method == "DELETE":
            self.store.delete_bucket_config(bucket, name)
            return Response(status=204)
        if request.method != "GET":
            raise _not_implemented(f"{request.method} /{bucket}?{name}")
        body = self.store.get_bucket_config(bucket, name)
        if body is not None:
            return Response(body, status=200, content_type="application/xml")
        missing = _BUCKET_CONFIGS[name]
        if missing:
            raise S3Error(missing, 404, f"The {name} configuration does not exist", BucketName=bucket)
        empty = {"versioning": "VersioningConfiguration", "notification": "NotificationConfiguration"}
        element = empty.get(name, "BucketLoggingStatus" if name == "logging" else "AccessControlPolicy")
        return _xml(f'<{element} xmlns="{_NS}"/>')

    def _list_v2(self, request: Request, bucket: str) -> Response:
        args = request.args
        prefix, delimiter = args.get("prefix", ""), args.get("delimiter", "")
        max_keys = _max_keys(args.get("max-keys"))
        token = args.get("continuation-token")
        start: tuple[str, bool] = ("", False)
        if token:
            try:
                cursor, inclusive = json.loads(base64.urlsafe_b64decode(token.encode()))
                start = (str(cursor), bool(inclusive))
            except ValueError:
                raise S3Error("InvalidArgument", 400, "The continuation token provided is incorrect") from None
        elif args.get("start-after"):
            start = (args["start-after"], False)
        listing = self.store.list_objects(bucket, prefix=prefix, delimiter=delimiter, start=start, max_keys=max_keys)
        encode = _encoder(args.get("encoding-type"))
        parts = _listing_head(bucket, args, listing, max_keys, encode)
        parts.append(f"<KeyCount>{len(listing.objects) + len(listing.common_prefixes)}</KeyCount>")
        if token:
            parts.append(f"<ContinuationToken>{_text(token)}</ContinuationToken>")
        if args.get("start-after"):
            parts.append(f"<StartAfter>{encode(args['start-after'])}</StartAfter>")
        if listing.truncated and listing.next_start:
            next_token = base64.urlsafe_b64encode(json.dumps(list(listing.next_start)).encode()).decode()
            parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        parts += _contents(listing, encode, owner=args.get("fetch-owner") == "true")
        parts.append("</ListBucketResult>")
        return _xml("".join(parts))

    def _list_v1(self, request: Request, bucket: str) -> Response:
        args = request.args
        prefix, delimiter, marker = args.get("prefix", ""), args.get("delimiter", ""), args.get("marker", "")
        max_keys = _max_keys(args.get("max-keys"))
        start = (marker, False)
        if marker and delimiter and marker.endswith(delimiter) and marker.startswith(prefix):
            start = (key_successor(marker), True)  # a marker that is a common prefix skips its group
        listing = self.store.list_objects(bucket, prefix=prefix, delimiter=delimiter, start=start, max_keys=max_keys)
        encode = _encoder(args.get("encoding-type"))
        parts = _listing_head(bucket, args, listing, max_keys, encode)
        parts.append(f"<Marker>{encode(marker)}</Marker>")
        if delimiter and listing.truncated and listing.last:
            parts.append(f"<NextMarker>{encode(listing.last)}</NextMarker>")
        parts += _contents(listing, encode, owner=True)
        parts.append("</ListBucketResult>")
        return _xml("".join(parts))

    def _list_uploads(self, bucket: str) -> Response:
        uploads = "".join(
            f"<Upload><Key>{_text(k)}</Key><UploadId>{u}</UploadId><Initiated>{_iso(c)}</Initiated>"
            f"<StorageClass>STANDARD</StorageClass></Upload>"
            for k, u, c in self.store.list_uploads(bucket)
        )
        return _xml(
            f'<ListMultipartUploadsResult xmlns="{_NS}"><Bucket>{_text(bucket)}</Bucket>'
            f"<IsTruncated>false</IsTruncated>{uploads}</ListMultipartUploadsResult>"
        )

    def _delete_objects(self, request: Request, bucket: str) -> Response:
        try:
            document = ElementTree.fromstring(request.get_data())  # noqa: S314 - loopback clients only
        except ElementTree.ParseError:
            raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed") from None
        quiet = (_child_text(document, "Quiet") or "false").lower() == "true"
        keys = [_child_text(o, "Key") or "" for o in document if _local(o.tag) == "Object"]
        if len(keys) > 1000:
            raise S3Error("MalformedXML", 400, "A DeleteObjects request names at most 1000 keys")
        if not self.store.bucket_exists(bucket):
            raise S3Error("NoSuchBucket", 404, "The specified bucket does not exist", BucketName=bucket)
        results = []
        for key in keys:
            self.store.delete_object(bucket, key)
            if not quiet:
                results.append(f"<Deleted><Key>{_text(key)}</Key></Deleted>")
        return _xml(f'<DeleteResult xmlns="{_NS}">{"".join(results)}</DeleteResult>')

    # -- objects -------------------------------------------------------------------------

    def _object(self, request: Request, bucket: str, key: str) -> Response:
        args, method = request.args, request.method
        if "uploadId" in args:
            return self._upload(request, bucket, key)
        if method == "POST" and "uploads" in args:
            upload_id = self.store.create_upload(bucket, key, _meta_from(request))
            return _xml(
                f'<InitiateMultipartUploadResult xmlns="{_NS}"><Bucket>{_text(bucket)}</Bucket>'
                f"<Key>{_text(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
            )
        if "tagging" in args:
            return self._object_tagging(request, bucket, key)
        if method == "POST" and "restore" in args:
            return self._restore(request, bucket, key)
        unsupported = [a for a in args if a not in _RESPONSE_OVERRIDES and not a.startswith(("X-Amz-", "x-id"))]
        unsupported = [a for a in unsupported if a not in ("AWSAccessKeyId", "Signature", "Expires", "versionId")]
        if unsupported:
            raise _not_implemented(f"{method} /{bucket}/{key}?{'&'.join(unsupported)}")
        if method == "PUT":
            if "x-amz-copy-source" in request.headers:
                return self._copy(request, bucket, key)
            return self._put(request, bucket, key)
        if method in ("GET", "HEAD"):
            return self._get(request, bucket, key, head=method == "HEAD")
        if method == "DELETE":
            self.store.delete_object(bucket, key)
            return Response(status=204)
        raise _not_implemented(f"{method} /{bucket}/{key}")

    def _object_tagging(self, request: Request, bucket: str, key: str) -> Response:
        method = request.method
        if method == "GET":
            return _xml(_tag_set_xml(self.store.head_object(bucket, key).meta.tags))
        if method == "PUT":
            tags = _tag_set_from(request.get_data())
            self.store.update_meta(bucket, key, lambda meta: replace(meta, tags=tags))
            return Response(status=200)
        if method == "DELETE":
            self.store.update_meta(bucket, key, lambda meta: replace(meta, tags={}))
            return Response(status=204)
        raise _not_implemented(f"{method} /{bucket}/{key}?tagging")

    def _restore(self, request: Request, bucket: str, key: str) -> Response:
        """A restored copy is ready at once (moto does the same); S3 takes minutes to hours."""
        info = self.store.head_object(bucket, key)
        if info.meta.storage_class not in ARCHIVE_CLASSES:
            raise S3Error("InvalidObjectState", 403, "Restore is not allowed for the object's current storage class")
        already = not info.meta.archived
        expiry = time.time() + _restore_days(request.get_data()) * 86400
        self.store.update_meta(bucket, key, lambda meta: replace(meta, restore_expiry=expiry))
        return Response(status=200 if already else 202)

    def _put(self, request: Request, bucket: str, key: str) -> Response:
        headers = request.headers
        checksum = next(
            ((a, headers[f"x-amz-checksum-{a}"]) for a in _CHECKSUMS if f"x-amz-checksum-{a}" in headers), None
        )
        info = self.store.put_object(
            bucket,
            key,
            _body(request),
            _meta_from(request),
            content_md5=headers.get("Content-MD5"),
            checksum=checksum,
            if_none_match=headers.get("If-None-Match", "").strip() == "*",
        )
        answer = {"ETag": info.etag}
        if checksum:
            answer[f"x-amz-checksum-{checksum[0]}"] = checksum[1]
        return Response(status=200, headers=answer)

    def _copy(self, request: Request, bucket: str, key: str) -> Response:
        source = unquote(request.headers["x-amz-copy-source"].split("?versionId=", 1)[0]).lstrip("/")
        source_bucket, _, source_key = source.partition("/")
        if not source_key:
            raise S3Error("InvalidArgument", 400, "Copy Source must mention the source bucket and key")
        headers = request.headers
        replace_meta = headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE"
        replace_tags = headers.get("x-amz-tagging-directive", "COPY").upper() == "REPLACE"
        if source_bucket == bucket and source_key == key and not (replace_meta or "x-amz-storage-class" in headers):
            raise S3Error(
                "InvalidRequest",
                400,
                "This copy request is illegal because it is trying to copy an object to itself without changing the "
                "object's metadata, storage class, website redirect location or encryption attributes.",
            )
        source_info = self.store.head_object(source_bucket, source_key)
        _refuse_archived(source_info)
        given = _meta_from(request)
        meta = replace(
            given if replace_meta else source_info.meta,
            tags=given.tags if replace_tags else source_info.meta.tags,
            storage_class=given.storage_class,  # a copy is STANDARD unless the request names a class
            restore_expiry=None,
        )
        info = self.store.copy_object(source_bucket, source_key, bucket, key, meta)
        return _xml(
            f'<CopyObjectResult xmlns="{_NS}"><LastModified>{_iso(info.modified)}</LastModified>'
            f"<ETag>{_text(info.etag)}</ETag></CopyObjectResult>"
        )

    def _get(self, request: Request, bucket: str, key: str, *, head: bool) -> Response:
        if head:
            info = self.store.head_object(bucket, key)
            stream: IO[bytes] | None = None
        else:
            _refuse_archived(self.store.head_object(bucket, key))
            info, stream = self.store.open_object(bucket, key)
        try:
            status = _precondition(request, info)
            if status is not None:
                if status == 412:
                    raise S3Error(
                        "PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"
                    )
                return Response(status=304, headers={"ETag": info.etag, "Last-Modified": _http_date(info.modified)})
            headers = _object_headers(info)
            for parameter, header in _RESPONSE_OVERRIDES.items():
                if parameter in request.args:
                    headers[header] = request.args[parameter]
            span = _range(request.headers["Range"], info.size) if "Range" in request.headers else None
            if span is None:
                start, end, status = 0, info.size - 1, 200
                if request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
                    headers.update({f"x-amz-checksum-{a}": v for a, v in info.meta.checksums.items()})
            else:
                start, end = span
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
            headers["Content-Length"] = str(end - start + 1)
        except BaseException:
            if stream is not None:
                stream.close()
            raise
        if stream is None:
            return Response(status=status, headers=headers)
        response = Response(_file_range(stream, start, end), status=status, headers=headers, direct_passthrough=True)
        response.headers["Content-Length"] = str(end - start + 1)
        return response

    def _upload(self, request: Request, bucket: str, key: str) -> Response:
        upload_id = request.args["uploadId"]
        method = request.method
        if method == "PUT":
            if "x-amz-copy-source" in request.headers:
                raise _not_implemented("UploadPartCopy")
            try:
                number = int(request.args.get("partNumber", ""))
            except ValueError:
                raise S3Error("InvalidArgument", 400, "Part number must be an integer between 1 and 10000") from None
            etag = self.store.upload_part(
                bucket, key, upload_id, number, _body(request), request.headers.get("Content-MD5")
            )
            return Response(status=200, headers={"ETag": etag})
        if method == "POST":
            try:
                document = ElementTree.fromstring(request.get_data())  # noqa: S314 - loopback clients only
            except ElementTree.ParseError:
                raise S3Error("MalformedXML", 400, "The XML you provided was not well-formed") from None
            try:
                parts = [
                    (int(_child_text(p, "PartNumber") or ""), _child_text(p, "ETag") or "")
                    for p in document
                    if _local(p.tag) == "Part"
                ]
            except ValueError:
                raise S3Error("MalformedXML", 400, "A part number is not a number") from None
            info = self.store.complete_upload(bucket, key, upload_id, parts)
            return _xml(
                f'<CompleteMultipartUploadResult xmlns="{_NS}"><Location>/{_text(bucket)}/{_text(key)}</Location>'
                f"<Bucket>{_text(bucket)}</Bucket><Key>{_text(key)}</Key><ETag>{_text(info.etag)}</ETag>"
                "</CompleteMultipartUploadResult>"
            )
        if method == "DELETE":
            self.store.abort_upload(bucket, key, upload_id)
            return Response(status=204)
        if method == "GET":
            parts_xml = "".join(
                f"<Part><PartNumber>{p.number}</PartNumber><LastModified>{_iso(p.modified)}</LastModified>"
                f"<ETag>{_text(p.etag)}</ETag><Size>{p.size}</Size></Part>"
                for p in self.store.list_parts(bucket, key, upload_id)
            )
            return _xml(
                f'<ListPartsResult xmlns="{_NS}"><Bucket>{_text(bucket)}</Bucket><Key>{_text(key)}</Key>'
                f"<UploadId>{upload_id}</UploadId><IsTruncated>false</IsTruncated>{parts_xml}</ListPartsResult>"
            )
        raise _not_implemented(f"{method} on a multipart upload")


def _file_range(stream: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    try:
        stream.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = stream.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        stream.close()


def _max_keys(value: str | None) -> int:
    if value is None:
        return 1000
    try:
        parsed = int(value)
    except ValueError:
        raise S3Error("InvalidArgument", 400, "Provided max-keys not an integer or within integer range") from None
    if parsed < 0:
        raise S3Error("InvalidArgument", 400, "Argument maxKeys must be an integer between 0 and 2147483647")
    return min(parsed, 1000)


def _encoder(encoding: str | None) -> Any:
    if encoding == "url":
        return lambda value: _text(quote(value, safe="/"))
    return _text


def _listing_head(bucket: str, args: Any, listing: Listing, max_keys: int, encode: Any) -> list[str]:
    """The elements both ListObjects versions open their answer with."""
    parts = [
        f'<ListBucketResult xmlns="{_NS}"><Name>{_text(bucket)}</Name>',
        f"<Prefix>{encode(args.get('prefix', ''))}</Prefix>",
        f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{str(listing.truncated).lower()}</IsTruncated>",
    ]
    if args.get("delimiter"):
        parts.append(f"<Delimiter>{encode(args['delimiter'])}</Delimiter>")
    if args.get("encoding-type"):
        parts.append(f"<EncodingType>{_text(args['encoding-type'])}</EncodingType>")
    return parts


def _contents(listing: Listing, encode: Any, *, owner: bool) -> list[str]:
    owner_xml = _OWNER if owner else ""
    parts = [
        f"<Contents><Key>{encode(o.key)}</Key><LastModified>{_iso(o.modified)}</LastModified>"
        f"<ETag>{_text(o.etag)}</ETag><Size>{o.size}</Size>{owner_xml}<StorageClass>{o.meta.storage_class}</StorageClass></Contents>"
        for o in listing.objects
    ]
    parts += [f"<CommonPrefixes><Prefix>{encode(p)}</Prefix></CommonPrefixes>" for p in listing.common_prefixes]
    return parts


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return None
