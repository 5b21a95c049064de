"""FILE columns: files uploaded with a statement, stored in the blob bucket, referenced by rows.

A multipart ``POST /v1/api/sql`` carries ``file:<placeholder>`` parts; ``FILE("placeholder")``
in an INSERT or UPDATE stands for the stored file's *reference*, a JSON object kept in the
FILE column::

    {"id": "<32 hex>", "sub": "f<4 hex>", "name": "contract.pdf", "size": 1234,
     "mime": "application/pdf", "sha256": "<hex>"}

The object lives at ``files/org=<org>/table=<table id>/scope=<user or _shared>/<sub>/<id>``,
so a file belongs to its table and scope exactly as its row does, and its download
(``GET /v1/files/{namespace}/{table}/{sub}/{id}``) is checked like a read of that scope.

Each object is reserved (a ``PENDING`` garbage item) before it is written and released by
the commit that stores its row; if the statement fails, it is deleted at once, and if the
process dies first, the sweep deletes it. A row deleted, or its FILE value replaced,
schedules its file for deletion after the garbage grace, in the same commit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from molesignal import aws
from molesignal.auth.principal import Principal
from molesignal.errors import Forbidden, Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType
from molesignal.lake import garbage
from molesignal.lake.layout import table_blob_key
from molesignal.lake.namespaces import check_name
from molesignal.lake.tables import SHARED_SCOPE, TableDef
from molesignal.settings import get_settings
from molesignal.storage.table import Table

FILE_ID = re.compile(r"^[0-9a-f]{32}$")
SUBFOLDER = re.compile(r"^f[0-9a-f]{4}$")
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$")


class FileTooLarge(PayloadTooLarge):
    code = "FILE_TOO_LARGE"


class TooManyFiles(Invalid):
    code = "TOO_MANY_FILES"


class InvalidMimeType(UnsupportedMediaType):
    code = "INVALID_MIME_TYPE"


class MissingFile(Invalid):
    code = "MISSING_FILE"


class ExtraFile(Invalid):
    code = "EXTRA_FILE"


@dataclass(frozen=True)
class Upload:
    placeholder: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FileRef:
    id: str
    sub: str
    name: str
    size: int
    mime: str
    sha256: str

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "id": self.id,
                "sub": self.sub,
                "name": self.name,
                "size": self.size,
                "mime": self.mime,
                "sha256": self.sha256,
            }
        ).decode()

    @classmethod
    def parse(cls, text: str) -> FileRef | None:
        """A stored reference, or None for text that is not one (never trusted as a path)."""
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(value, dict):
            return None
        file_id, sub = value.get("id"), value.get("sub")
        if (
            not isinstance(file_id, str)
            or not FILE_ID.match(file_id)
            or not isinstance(sub, str)
            or not SUBFOLDER.match(sub)
        ):
            return None
        return cls(
            file_id,
            sub,
            str(value.get("name", "")),
            int(value.get("size") or 0),
            str(value.get("mime", "")),
            str(value.get("sha256", "")),
        )


def normalized_mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"


def check_uploads(uploads: Mapping[str, Upload]) -> None:
    """The request's limits, before anything is stored: count, size, type."""
    settings = get_settings()
    if len(uploads) > settings.sql_max_files:
        raise TooManyFiles(f"TOO_MANY_FILES: {len(uploads)} files; a statement takes at most {settings.sql_max_files}")
    for upload in uploads.values():
        if len(upload.data) > settings.sql_max_file_bytes:
            raise FileTooLarge(
                f"FILE_TOO_LARGE: file:{upload.placeholder} is {len(upload.data)} bytes; "
                f"the limit is {settings.sql_max_file_bytes}"
            )
        mime = normalized_mime(upload.content_type)
        allowed = settings.sql_file_mime_types
        if not _MIME.match(mime) or not any(fnmatch.fnmatchcase(mime, pattern) for pattern in allowed):
            raise InvalidMimeType(
                f"INVALID_MIME_TYPE: file:{upload.placeholder} is {mime!r}; allowed: {', '.join(allowed)}"
            )


def _display_name(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or "file"


@dataclass
class StoredFiles:
    """The files one statement stored: until its commit releases them, it owns their cleanup."""

    refs: dict[str, FileRef] = field(default_factory=dict)  # placeholder → reference
    blob_keys: dict[str, str] = field(default_factory=dict)  # reference JSON → object key
    org_id: str = ""
    committed: bool = False

    def in_parameter_order(self, placeholders: Mapping[str, int]) -> list[FileRef]:
        return [self.refs[name] for name, _ in sorted(placeholders.items(), key=lambda item: item[1])]

    def holds(self, value: str) -> bool:
        return value in self.blob_keys

    @property
    def keys(self) -> list[str]:
        return list(self.blob_keys.values())

    def referenced(self, values: Iterable[Any]) -> list[str]:
        """The objects of this statement's files that ``values`` (FILE column values) refer to."""
        return sorted({self.blob_keys[v] for v in values if isinstance(v, str) and v in self.blob_keys})

    def abandon(self, table: Table, *, keep: Iterable[str] = ()) -> None:
        """Best effort: the objects (and reservations) a failed statement stored, or those a
        committed one stored but no row refers to."""
        kept = set(keep)
        if self.committed and not kept:
            kept = set(self.blob_keys.values())
        gone = [key for key in self.blob_keys.values() if key not in kept]
        garbage.abandon_outputs(table, self.org_id, get_settings().resource_name("blobs"), gone)


def store_uploads(
    definition: TableDef,
    scope: str,
    placeholders: Mapping[str, int],
    uploads: Mapping[str, Upload],
    *,
    table: Table,
) -> StoredFiles:
    """Store every part a ``FILE(...)`` of the statement names (each exactly once)."""
    missing = sorted(set(placeholders) - set(uploads))
    if missing:
        raise MissingFile(f"MISSING_FILE: FILE({missing[0]!r}) has no multipart part file:{missing[0]}")
    extra = sorted(set(uploads) - set(placeholders))
    if extra:
        raise ExtraFile(f"EXTRA_FILE: part file:{extra[0]} is not named by any FILE(...) of the statement")
    check_uploads(uploads)
    stored = StoredFiles(org_id=definition.org_id)
    bucket = get_settings().resource_name("blobs")
    s3 = aws.client("s3")
    try:
        for name in sorted(placeholders):
            upload = uploads[name]
            file_id = secrets.token_hex(16)
            ref = FileRef(
                id=file_id,
                sub=f"f{file_id[:4]}",
                name=_display_name(upload.filename),
                size=len(upload.data),
                mime=normalized_mime(upload.content_type),
                sha256=hashlib.sha256(upload.data).hexdigest(),
            )
            key = table_blob_key(definition.org_id, definition.table_id, scope, ref.sub, ref.id)
            # The sentinel entry never exists: an upload whose commit never came is always swept.
            garbage.reserve_output(
                table,
                definition.org_id,
                key,
                manifest_pk=f"FILEREF#{definition.org_id}",
                manifest_sk=key,
                bucket=bucket,
            )
            stored.refs[name] = ref
            stored.blob_keys[ref.to_json()] = key
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=upload.data,
                ContentType=ref.mime,
                ChecksumSHA256=_b64(hashlib.sha256(upload.data).digest()),
                Metadata={"sha256": ref.sha256, "name": quote(ref.name, safe="")},
            )
    except BaseException:
        stored.abandon(table)
        raise
    return stored


def _b64(digest: bytes) -> str:
    import base64

    return base64.b64encode(digest).decode()


def blob_keys_of(definition: TableDef, scope: str, values: Iterable[Any]) -> list[str]:
    """The objects the FILE values of a scope's rows refer to (values that are no reference are skipped)."""
    keys = []
    for value in values:
        ref = FileRef.parse(value) if isinstance(value, str) else None
        if ref is not None:
            keys.append(table_blob_key(definition.org_id, definition.table_id, scope, ref.sub, ref.id))
    return keys


class FileNotFound(NotFound):
    code = "FILE_NOT_FOUND"


@dataclass(frozen=True)
class StoredFile:
    bucket: str
    key: str
    size: int
    content_type: str
    quoted_name: str  # the uploaded file's name, percent-encoded (for Content-Disposition)


def locate(
    table: Table,
    principal: Principal,
    *,
    namespace: str,
    table_name: str,
    subfolder: str,
    file_id: str,
    user_id: str | None,
) -> StoredFile:
    """The stored file a download names, if the caller may read the scope it belongs to.

    A USER table's files are its owner's: the caller's own, or — with ``user_id`` — those of
    a user the caller may act for (service, dba, system; as ``EXECUTE AS USER``). A SHARED
    table's files are the org's readers'. SYSTEM and STREAM tables, and ingest streams, hold
    no files. Every path part is checked against its exact shape before it names anything.
    """
    from molesignal.lake.namespaces import SYSTEM_NAMESPACE, is_stream_namespace
    from molesignal.lake.tables import TableNotFound, Tables, TableType
    from molesignal.query.service import READ_ROLES
    from molesignal.sql.acting import scope_user_for

    if not any(principal.holds(role) for role in READ_ROLES):
        raise Forbidden(
            f"PERMISSION_DENIED: {principal.role.value} credentials read no files", code="PERMISSION_DENIED"
        )
    if not SUBFOLDER.match(subfolder) or not FILE_ID.match(file_id):
        raise Invalid(
            "INVALID_REQUEST: not a file path: {subfolder}/{file_id} as FILE references give them",
            code="INVALID_REQUEST",
        )
    try:
        namespace, table_name = check_name(namespace), check_name(table_name, "table")
    except Invalid as exc:
        raise Invalid(exc.message.replace("INVALID_SQL", "INVALID_REQUEST"), code="INVALID_REQUEST") from exc
    if namespace == SYSTEM_NAMESPACE or is_stream_namespace(principal.org_id, namespace):
        raise Invalid("INVALID_REQUEST: SYSTEM tables and ingest streams hold no files", code="INVALID_REQUEST")
    definition = Tables(table).find(principal.org_id, namespace, table_name)
    if definition is None:
        raise TableNotFound(f"TABLE_NOT_FOUND: {namespace}.{table_name}")
    if definition.table_type is TableType.STREAM:
        raise Invalid("INVALID_REQUEST: STREAM tables hold no files", code="INVALID_REQUEST")
    if definition.table_type is TableType.SHARED:
        if user_id is not None:
            raise Invalid("INVALID_REQUEST: user_id applies to USER tables only", code="INVALID_REQUEST")
        scope = SHARED_SCOPE
    else:
        scope = scope_user_for(table, principal, user_id).user_id
    bucket = get_settings().resource_name("blobs")
    key = table_blob_key(principal.org_id, definition.table_id, scope, subfolder, file_id)
    s3 = aws.client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            raise FileNotFound(f"FILE_NOT_FOUND: {namespace}.{table_name} has no file {subfolder}/{file_id}") from exc
        raise
    return StoredFile(
        bucket,
        key,
        int(head["ContentLength"]),
        str(head.get("ContentType") or "application/octet-stream"),
        str((head.get("Metadata") or {}).get("name") or file_id),
    )
