"""S3's object model on local disk: each object's bytes in a file of their own, an SQLite index
of keys, sizes, ETags and metadata beside them.

A write puts the bytes in a new file (flushed to disk), then commits the index row that
points at it, then removes the file the key pointed at before. The commit is the moment
the object changes, so a reader or a crash sees the old object or the new one, never a
mix; files a crash left unreferenced are removed when the store opens. Keys are ordered
by their UTF-8 bytes, as S3 lists them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from molesignal.local.emulator.files import fsync_directory

MAX_KEY_BYTES = 1024
MIN_PART_BYTES = 5 * 1024 * 1024  # every part but the last, as S3 requires
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CHUNK = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_configs (
    bucket TEXT NOT NULL, name TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (bucket, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    modified REAL NOT NULL, content_type TEXT NOT NULL, meta TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, created REAL NOT NULL,
    content_type TEXT NOT NULL, meta TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, modified REAL NOT NULL, PRIMARY KEY (upload_id, number)) WITHOUT ROWID;
"""


class S3Error(Exception):
    """An S3 error: its code, HTTP status, message and the resource it concerns."""

    def __init__(self, code: str, status: int, message: str, **resource: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.resource = resource


ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", 404, "The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", 404, "The specified key does not exist.", Key=key)


@dataclass(frozen=True)
class ObjectMeta:
    """What a PUT says about an object besides its bytes."""

    content_type: str = "binary/octet-stream"
    user: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*
    headers: dict[str, str] = field(default_factory=dict)  # Cache-Control, Content-Encoding, ...
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm (lower case) -> base64 value
    tags: dict[str, str] = field(default_factory=dict)  # the object's tag set
    storage_class: str = "STANDARD"
    # When the temporary copy a RestoreObject made of an archived object expires (epoch s).
    restore_expiry: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "user": self.user,
                "headers": self.headers,
                "checksums": self.checksums,
                "tags": self.tags,
                "storage_class": self.storage_class,
                "restore_expiry": self.restore_expiry,
            }
        )

    @classmethod
    def from_row(cls, content_type: str, meta: str) -> ObjectMeta:
        parsed = json.loads(meta)
        return cls(
            content_type,
            parsed["user"],
            parsed["headers"],
            parsed["checksums"],
            parsed.get("tags", {}),  # written before tags were kept
            parsed.get("storage_class", "STANDARD"),
            parsed.get("restore_expiry"),
        )

    @property
    def archived(self) -> bool:
        """An archived object's bytes are readable only through a current restored copy."""
        if self.storage_class not in ARCHIVE_CLASSES:
            return False
        return self.restore_expiry is None or self.restore_expiry <= time.time()


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # quoted, as S3 sends it
    modified: float
    meta: ObjectMeta


@dataclass(frozen=True)
class Listing:
    objects: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix returned (ListObjects' NextMarker)
    next_start: tuple[str, bool] | None  # where the next page starts: a key, and whether it is included


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str
    modified: float


@dataclass
class _Written:
    blob: str
    size: int
    md5: bytes


class _Digests:
    """Hashes computed while the bytes stream to disk, for the checks a PUT asks for."""

    def __init__(self, checksum_algorithm: str | None) -> None:
        self.md5 = hashlib.md5()  # noqa: S324 - S3's ETag is an MD5
        self.algorithm = checksum_algorithm
        self._crc32 = 0
        self._hash = hashlib.new(checksum_algorithm) if checksum_algorithm in ("sha1", "sha256") else None

    def update(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        if self.algorithm == "crc32":
            self._crc32 = zlib.crc32(chunk, self._crc32)
        elif self._hash is not None:
            self._hash.update(chunk)

    def checksum(self) -> str | None:
        """The base64 checksum in the PUT's algorithm, when this store can compute it."""
        if self.algorithm == "crc32":
            return base64.b64encode(self._crc32.to_bytes(4, "big")).decode()
        if self._hash is not None:
            return base64.b64encode(self._hash.digest()).decode()
        return None


def validate_bucket_name(name: str) -> None:
    if not _BUCKET_NAME.match(name) or ".." in name:
        raise S3Error("InvalidBucketName", 400, "The specified bucket is not valid.", BucketName=name)


def _validate_key(key: str) -> None:
    if not key:
        raise S3Error("InvalidArgument", 400, "An object key must not be empty.")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", 400, "Your key is too long", Key=key)


def key_successor(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ObjectStore:
    def __init__(self, root: Path, *, fsync: bool) -> None:
        self.root = root
        self.fsync = fsync
        self.blobs = root / "objects"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> ObjectStore:
        self.blobs.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        db.executescript(_SCHEMA)
        self._db = db
        self._remove_unreferenced_blobs()
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def clear(self) -> None:
        """Forget every bucket and object (the emulator's reset)."""
        with self._lock:
            db = self._conn()
            with _transaction(db):
                for table in ("buckets", "bucket_configs", "objects", "uploads", "parts"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            shutil.rmtree(self.blobs, ignore_errors=True)
            self.blobs.mkdir(parents=True, exist_ok=True)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the object store is closed")
        return self._db

    def _remove_unreferenced_blobs(self) -> None:
        db = self._conn()
        referenced = {row[0] for row in db.execute("SELECT blob FROM objects UNION ALL SELECT blob FROM parts")}
        for path in self.blobs.rglob("*"):
            if path.is_file() and path.relative_to(self.blobs).as_posix() not in referenced:
                path.unlink(missing_ok=True)

    # -- bytes on disk -------------------------------------------------------------------

    def _write_blob(self, chunks: Iterable[bytes], digests: _Digests) -> _Written:
        name = uuid.uuid4().hex
        relative = f"{name[:2]}/{name}"
        path = self.blobs / relative
        path.parent.mkdir(exist_ok=True)
        size = 0
        try:
            with open(path, "wb") as out:
                for chunk in chunks:
                    digests.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            if self.fsync:
                fsync_directory(path.parent)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return _Written(relative, size, digests.md5.digest())

    def _write_verified(
        self, chunks: Iterable[bytes], content_md5: str | None, checksum: tuple[str, str] | None
    ) -> _Written:
        """Write the bytes, then check them against the digests the request sent."""
        digests = _Digests(checksum[0] if checksum else None)
        written = self._write_blob(chunks, digests)
        try:
            _verify(digests, written, content_md5, checksum)
        except S3Error:
            self._drop_blob(written.blob)
            raise
        return written

    def _drop_blob(self, relative: str) -> None:
        (self.blobs / relative).unlink(missing_ok=True)

    # -- buckets -------------------------------------------------------------------------

    def create_bucket(self, name: str) -> None:
        validate_bucket_name(name)
        with self._lock:
            db = self._conn()
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise S3Error(
                    "BucketAlreadyOwnedByYou",
                    409,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    BucketName=name,
                )
            db.execute("INSERT INTO buckets (name, created) VALUES (?, ?)", (name, time.time()))

    def bucket_exists(self, name: str) -> bool:
        with self._lock:
            return self._conn().execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is not None

    def _require_bucket(self, db: sqlite3.Connection, name: str) -> None:
        if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
            raise no_such_bucket(name)

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            db = self._conn()
            self._require_bucket(db, name)
            if db.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise S3Error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty", BucketName=name)
            with _transaction(db):
                db.execute("DELETE FROM bucket_configs WHERE bucket = ?", (name,))
                db.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def list_buckets(self) -> list[tuple[str, float]]:
        with self._lock:
            return [
                (str(n), float(c)) for n, c in self._conn().execute("SELECT name, created FROM buckets ORDER BY name")
            ]

    def get_bucket_config(self, bucket: str, name: str) -> bytes | None:
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            row = db.execute("SELECT body FROM bucket_configs WHERE bucket = ? AND name = ?", (bucket, name)).fetchone()
            return bytes(row[0]) if row else None

    def put_bucket_config(self, bucket: str, name: str, body: bytes) -> None:
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            db.execute(
                "INSERT OR REPLACE INTO bucket_configs (bucket, name, body) VALUES (?, ?, ?)", (bucket, name, body)
            )

    def delete_bucket_config(self, bucket: str, name: str) -> None:
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            db.execute("DELETE FROM bucket_configs WHERE bucket = ? AND name = ?", (bucket, name))

    # -- objects -------------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        chunks: Iterable[bytes],
        meta: ObjectMeta,
        *,
        content_md5: str | None = None,
        checksum: tuple[str, str] | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        _validate_key(key)
        if not self.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        if if_none_match and self._find(bucket, key) is not None:
            raise S3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
        written = self._write_verified(chunks, content_md5, checksum)
        checksums = dict(meta.checksums)
        if checksum:
            checksums[checksum[0]] = checksum[1]
        stored = replace(meta, checksums=checksums)
        etag = f'"{written.md5.hex()}"'
        return self._commit_object(bucket, key, written.blob, written.size, etag, stored, if_none_match=if_none_match)

    def _commit_object(
        self, bucket: str, key: str, blob: str, size: int, etag: str, meta: ObjectMeta, *, if_none_match: bool = False
    ) -> ObjectInfo:
        modified = time.time()
        with self._lock:
            db = self._conn()
            try:
                self._require_bucket(db, bucket)
                previous = db.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
                if previous and if_none_match:
                    raise S3Error(
                        "PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"
                    )
                db.execute(
                    "INSERT OR REPLACE INTO objects (bucket, key, blob, size, etag, modified, content_type, meta)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (bucket, key, blob, size, etag, modified, meta.content_type, meta.to_json()),
                )
            except BaseException:
                self._drop_blob(blob)
                raise
            if previous:
                self._drop_blob(str(previous[0]))
        return ObjectInfo(bucket, key, size, etag, modified, meta)

    def _find(self, bucket: str, key: str) -> ObjectInfo | None:
        with self._lock:
            found = self._row(self._conn(), bucket, key)
        return found[0] if found else None

    def _row(self, db: sqlite3.Connection, bucket: str, key: str) -> tuple[ObjectInfo, str] | None:
        row = db.execute(
            "SELECT size, etag, modified, content_type, meta, blob FROM objects WHERE bucket = ? AND key = ?",
            (bucket, key),
        ).fetchone()
        if row is None:
            return None
        size, etag, modified, content_type, meta, blob = row
        return ObjectInfo(
            bucket, key, int(size), str(etag), float(modified), ObjectMeta.from_row(content_type, meta)
        ), str(blob)

    def _lookup(self, bucket: str, key: str) -> tuple[ObjectInfo, str]:
        """The object and its file (the caller holds the lock)."""
        db = self._conn()
        self._require_bucket(db, bucket)
        found = self._row(db, bucket, key)
        if found is None:
            raise no_such_key(key)
        return found

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        with self._lock:
            return self._lookup(bucket, key)[0]

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, IO[bytes]]:
        """The object and an open file of its bytes (opened under the lock, so a concurrent
        overwrite or delete cannot take the file away between lookup and open)."""
        with self._lock:
            info, blob = self._lookup(bucket, key)
            return info, open(self.blobs / blob, "rb")

    def delete_object(self, bucket: str, key: str) -> None:
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            row = db.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
            if row is None:
                return
            db.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
            self._drop_blob(str(row[0]))

    def update_meta(self, bucket: str, key: str, change: Callable[[ObjectMeta], ObjectMeta]) -> ObjectInfo:
        """Change what is stored about an object (tags, a restore) without rewriting its bytes
        or its modification time."""
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            found = self._row(db, bucket, key)
            if found is None:
                raise no_such_key(key)
            info = found[0]
            meta = change(info.meta)
            db.execute(
                "UPDATE objects SET content_type = ?, meta = ? WHERE bucket = ? AND key = ?",
                (meta.content_type, meta.to_json(), bucket, key),
            )
        return replace(info, meta=meta)

    def copy_object(
        self, source_bucket: str, source_key: str, bucket: str, key: str, meta: ObjectMeta | None
    ) -> ObjectInfo:
        """Copy an object; ``meta`` replaces its metadata (``REPLACE``) or None keeps it (``COPY``)."""
        _validate_key(key)
        if not self.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        info, source = self.open_object(source_bucket, source_key)
        with source:
            written = self._write_blob(_read_chunks(source), _Digests(None))
        return self._commit_object(bucket, key, written.blob, written.size, info.etag, meta or info.meta)

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start: tuple[str, bool] = ("", False),
        max_keys: int = 1000,
    ) -> Listing:
        """Keys under ``prefix`` from ``start`` (a key, and whether it is included), grouping
        those with ``delimiter`` past the prefix into common prefixes; at most ``max_keys``
        entries of either kind."""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        cursor, inclusive = start
        if prefix and (prefix > cursor or (prefix == cursor and not inclusive)):
            cursor, inclusive = prefix, True
        last: str | None = None
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            while True:
                if len(objects) + len(prefixes) >= max_keys:
                    more = self._next_key(db, bucket, cursor, inclusive=inclusive)
                    truncated = more is not None and more.startswith(prefix)
                    return Listing(objects, prefixes, truncated, last, (cursor, inclusive) if truncated else None)
                rows = db.execute(
                    "SELECT key, size, etag, modified, content_type, meta FROM objects"  # noqa: S608 - fixed operator
                    f" WHERE bucket = ? AND key {'>=' if inclusive else '>'} ? ORDER BY key LIMIT ?",
                    (bucket, cursor, max_keys - len(objects) - len(prefixes)),
                ).fetchall()
                if not rows:
                    return Listing(objects, prefixes, False, last, None)
                for key, size, etag, modified, content_type, meta in rows:
                    if not key.startswith(prefix):
                        return Listing(objects, prefixes, False, last, None)
                    cut = key.find(delimiter, len(prefix)) if delimiter else -1
                    if cut >= 0:
                        common = key[: cut + len(delimiter)]
                        prefixes.append(common)
                        last = common
                        cursor, inclusive = key_successor(common), True  # skip the rest of the group
                        break
                    objects.append(
                        ObjectInfo(bucket, key, size, etag, modified, ObjectMeta.from_row(content_type, meta))
                    )
                    last = key
                    cursor, inclusive = key, False
                    if len(objects) + len(prefixes) >= max_keys:
                        break

    @staticmethod
    def _next_key(db: sqlite3.Connection, bucket: str, cursor: str, *, inclusive: bool) -> str | None:
        row = db.execute(
            f"SELECT key FROM objects WHERE bucket = ? AND key {'>=' if inclusive else '>'} ? ORDER BY key LIMIT 1",  # noqa: S608
            (bucket, cursor),
        ).fetchone()
        return str(row[0]) if row else None

    # -- multipart uploads ---------------------------------------------------------------

    def create_upload(self, bucket: str, key: str, meta: ObjectMeta) -> str:
        _validate_key(key)
        upload_id = uuid.uuid4().hex
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            db.execute(
                "INSERT INTO uploads (upload_id, bucket, key, created, content_type, meta) VALUES (?, ?, ?, ?, ?, ?)",
                (upload_id, bucket, key, time.time(), meta.content_type, meta.to_json()),
            )
        return upload_id

    def _require_upload(self, db: sqlite3.Connection, upload_id: str, bucket: str, key: str) -> ObjectMeta:
        row = db.execute(
            "SELECT content_type, meta FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
            (upload_id, bucket, key),
        ).fetchone()
        if row is None:
            raise S3Error(
                "NoSuchUpload",
                404,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
                "aborted or completed.",
                UploadId=upload_id,
            )
        return ObjectMeta.from_row(row[0], row[1])

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes], content_md5: str | None
    ) -> str:
        if not 1 <= number <= 10_000:
            raise S3Error("InvalidArgument", 400, "Part number must be an integer between 1 and 10000, inclusive")
        with self._lock:
            self._require_upload(self._conn(), upload_id, bucket, key)
        written = self._write_verified(chunks, content_md5, None)
        etag = f'"{written.md5.hex()}"'
        with self._lock:
            db = self._conn()
            try:
                self._require_upload(db, upload_id, bucket, key)
            except S3Error:
                self._drop_blob(written.blob)
                raise
            previous = db.execute(
                "SELECT blob FROM parts WHERE upload_id = ? AND number = ?", (upload_id, number)
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO parts (upload_id, number, blob, size, etag, modified)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (upload_id, number, written.blob, written.size, etag, time.time()),
            )
            if previous:
                self._drop_blob(str(previous[0]))
        return etag

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[PartInfo]:
        with self._lock:
            db = self._conn()
            self._require_upload(db, upload_id, bucket, key)
            rows = db.execute(
                "SELECT number, size, etag, modified FROM parts WHERE upload_id = ? ORDER BY number", (upload_id,)
            ).fetchall()
        return [PartInfo(int(n), int(s), str(e), float(m)) for n, s, e, m in rows]

    def list_uploads(self, bucket: str) -> list[tuple[str, str, float]]:
        with self._lock:
            db = self._conn()
            self._require_bucket(db, bucket)
            rows = db.execute(
                "SELECT key, upload_id, created FROM uploads WHERE bucket = ? ORDER BY key, created", (bucket,)
            ).fetchall()
        return [(str(k), str(u), float(c)) for k, u, c in rows]

    def complete_upload(self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        """Join the named parts, in order, into the object (each given ETag must match)."""
        with self._lock:
            db = self._conn()
            meta = self._require_upload(db, upload_id, bucket, key)
            stored = {
                int(n): (str(b), int(s), str(e))
                for n, b, s, e in db.execute(
                    "SELECT number, blob, size, etag FROM parts WHERE upload_id = ?", (upload_id,)
                )
            }
        if not parts:
            raise S3Error("MalformedXML", 400, "You must specify at least one part")
        numbers = [n for n, _ in parts]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise S3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
        chosen: list[tuple[str, int, str]] = []
        for index, (number, etag) in enumerate(parts):
            found = stored.get(number)
            if found is None or found[2].strip('"') != etag.strip('"'):
                raise S3Error("InvalidPart", 400, "One or more of the specified parts could not be found.")
            if index < len(parts) - 1 and found[1] < MIN_PART_BYTES:
                raise S3Error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size")
            chosen.append(found)
        written = self._write_blob(self._concatenate(b for b, _, _ in chosen), _Digests(None))
        combined = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for _, _, e in chosen))  # noqa: S324
        info = self._commit_object(
            bucket, key, written.blob, written.size, f'"{combined.hexdigest()}-{len(chosen)}"', meta
        )
        self._forget_upload(upload_id)
        return info

    def _concatenate(self, blobs: Iterable[str]) -> Iterator[bytes]:
        for blob in blobs:
            with open(self.blobs / blob, "rb") as part:
                yield from _read_chunks(part)

    def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        with self._lock:
            self._require_upload(self._conn(), upload_id, bucket, key)
        self._forget_upload(upload_id)

    def _forget_upload(self, upload_id: str) -> None:
        with self._lock:
            db = self._conn()
            blobs = [str(r[0]) for r in db.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))]
            with _transaction(db):
                db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
                db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            for blob in blobs:
                self._drop_blob(blob)


def _verify(digests: _Digests, written: _Written, content_md5: str | None, checksum: tuple[str, str] | None) -> None:
    if content_md5 is not None:
        try:
            expected = base64.b64decode(content_md5, validate=True)
        except ValueError:
            raise S3Error("InvalidDigest", 400, "The Content-MD5 you specified was invalid.") from None
        if expected != written.md5:
            raise S3Error("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
    if checksum is not None:
        computed = digests.checksum()
        if computed is not None and computed != checksum[1]:
            raise S3Error(
                "BadDigest", 400, f"The {checksum[0].upper()} you specified did not match the calculated checksum."
            )


def _read_chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(_CHUNK):
        yield chunk


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
