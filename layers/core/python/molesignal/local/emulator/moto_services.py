"""moto for the services the local system does not store itself (DynamoDB, KMS, Secrets Manager,
Glue, Athena, ...), one lock per service, made durable by a journal and snapshots.

moto keeps its state in memory and has no durable mode. Each service gets a journal of the
requests that changed it, appended (and, with ``fsync``, forced to disk) before the client
gets its answer, and replayed into moto when the emulator starts. A snapshot (moto's
backends, pickled) keeps the journal short: it is taken when a journal grows long, when
the emulator stops, and right after any change to KMS or Secrets Manager, whose key
material and generated values are random and would come out different if replayed.

The lock serialises each service's requests. moto's DynamoDB is not safe under concurrent
requests (``transact_write_items`` raised "dictionary changed size during iteration"), and
the order in which requests were applied must be the order in which they are replayed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from molesignal.local.emulator import moto_patches
from molesignal.local.emulator.dynamodb_fast import DynamoFastPath
from molesignal.local.emulator.files import write_atomically
from molesignal.local.emulator.http_server import read_body
from molesignal.observability import logger

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

# moto's SQS locks itself, and a long poll must not hold back the send it waits for.
UNSERIALISED = frozenset({"sqs"})
# Services whose changes cannot be replayed (random key material, generated secrets, ids).
SNAPSHOT_ON_CHANGE = frozenset({"kms", "secretsmanager"})
JOURNAL_MAX_ENTRIES = 5000
JOURNAL_MAX_BYTES = 16 * 1024 * 1024
_READ_ACTIONS = (
    "Get",
    "List",
    "Describe",
    "Query",
    "Scan",
    "BatchGet",
    "TransactGet",
    "Decrypt",
    "Encrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateRandom",
    "GenerateMac",
    "Verify",
    "Sign",
    "Search",
)
_KEPT_ENVIRON = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "RAW_URI",
    "REQUEST_URI",
    "SERVER_NAME",
    "SERVER_PORT",
)
_FRAME = struct.Struct(">II")  # payload length, CRC-32 of the payload
_SNAPSHOT_MAGIC = b"MOLESIGNAL-MOTO-SNAPSHOT 1\n"


# moto's backends are module-level, shared by every emulator in the process: so are the locks.
_service_locks: dict[str, threading.RLock] = {}
_service_locks_guard = threading.Lock()


def service_lock(service: str) -> threading.RLock:
    with _service_locks_guard:
        return _service_locks.setdefault(service, threading.RLock())


def is_change(environ: dict[str, Any]) -> bool:
    """Whether a request may change a service's state (reads are not journaled)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return not str(target).rsplit(".", 1)[-1].startswith(_READ_ACTIONS)
    return str(environ.get("REQUEST_METHOD", "GET")).upper() not in ("GET", "HEAD", "OPTIONS")


def _moto_version() -> str:
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return "unknown"


def _private_key_types() -> tuple[type, ...]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    return (
        rsa.RSAPrivateKey,
        ec.EllipticCurvePrivateKey,
        ed25519.Ed25519PrivateKey,
        ed448.Ed448PrivateKey,
        dsa.DSAPrivateKey,
    )


def _load_private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, password=None)


class _Pickler(pickle.Pickler):
    """Pickles moto's backends; KMS's private keys (Rust objects) travel as DER bytes."""

    key_types: tuple[type, ...] = ()

    def reducer_override(self, obj: Any) -> Any:
        if self.key_types and isinstance(obj, self.key_types):
            from cryptography.hazmat.primitives import serialization

            der = obj.private_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _load_private_key, (der,)
        return NotImplemented


def _backend_dict(service: str) -> Any:
    """moto's store of one service's state, or None for a name moto does not know."""
    from moto.backends import get_backend

    try:
        return get_backend(service)  # type: ignore[call-overload]
    except (ModuleNotFoundError, AttributeError, KeyError, ValueError):
        return None


def dump_backends(service: str) -> bytes | None:
    backends = _backend_dict(service)
    if backends is None:
        return None
    state = {account: dict(regions.items()) for account, regions in backends.items()}
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.key_types = _private_key_types()
    pickler.dump(state)
    return buffer.getvalue()


def load_backends(service: str, data: bytes) -> None:
    backends = _backend_dict(service)
    if backends is None:
        raise RuntimeError(f"moto has no service named {service!r}")
    state = pickle.loads(data)  # noqa: S301 - our own data directory, written by this code
    backends.clear()
    for account, regions in state.items():
        holder = backends[account]  # builds moto's per-account container
        for region, backend in regions.items():
            dict.__setitem__(holder, region, backend)


@dataclass
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def ok(self) -> bool:
        return self.status[:1] == "2"


def call_wsgi(app: WsgiApp, environ: dict[str, Any]) -> _Answer:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return _Answer(captured["status"], captured["headers"], body)


class ServiceJournal:
    """The durable record of one service: ``snapshot-<gen>.pickle`` plus ``journal-<gen>.log``
    files; the state is the newest readable snapshot, then every journal from its
    generation on, replayed in order."""

    def __init__(self, service: str, directory: Path, *, fsync: bool) -> None:
        self.service = service
        self.directory = directory
        self.fsync = fsync
        self.lock = service_lock(service)  # serialises the service's requests
        self._sync_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self.generation = 0
        self.entries = 0
        self.size = 0
        self._fd: int | None = None
        self._written = 0
        self._synced = 0

    def _path(self, kind: str, generation: int) -> Path:
        suffix = "pickle" if kind == "snapshot" else "log"
        return self.directory / f"{kind}-{generation:08d}.{suffix}"

    def _generations(self, kind: str) -> list[int]:
        found = []
        for path in self.directory.glob(f"{kind}-*"):
            stem = path.name.split(".", 1)[0].split("-", 1)[1]
            if stem.isdigit() and not path.name.endswith(".tmp"):
                found.append(int(stem))
        return sorted(found)

    # -- start ---------------------------------------------------------------------------

    def recover(self, replay: Callable[[dict[str, Any], bytes], None]) -> int:
        """Load the newest snapshot and replay the journals after it; returns how many
        requests were replayed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        base = 0
        for generation in reversed(self._generations("snapshot")):
            data = self._path("snapshot", generation).read_bytes()
            if not data.startswith(_SNAPSHOT_MAGIC):
                continue
            header, _, payload = data[len(_SNAPSHOT_MAGIC) :].partition(b"\n")
            written_by = header.decode(errors="replace")
            try:
                load_backends(self.service, payload)
            except Exception as error:
                raise RuntimeError(
                    f"the {self.service} state in {self.directory} was written by {written_by} and cannot be read by "
                    f"moto {_moto_version()} ({error}). Move that data directory aside (or delete it) to start empty."
                ) from error
            base = generation
            break
        replayed = 0
        journals = [g for g in self._generations("journal") if g >= base]
        for generation in journals:
            replayed += self._replay_file(self._path("journal", generation), replay)
        self.generation = max([base, *journals])
        self._open_journal()
        if replayed:
            self.snapshot()
        return replayed

    def _replay_file(self, path: Path, replay: Callable[[dict[str, Any], bytes], None]) -> int:
        data = path.read_bytes()
        offset = count = 0
        while offset + _FRAME.size <= len(data):
            length, crc = _FRAME.unpack_from(data, offset)
            payload = data[offset + _FRAME.size : offset + _FRAME.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break  # a write the crash cut short: it was never answered
            record = json.loads(payload)
            replay(record["environ"], base64.b64decode(record["body"]))
            offset += _FRAME.size + length
            count += 1
        if offset < len(data):
            logger.warning(
                "emulator: dropped a torn journal tail", extra={"journal": str(path), "bytes": len(data) - offset}
            )
            with open(path, "r+b") as handle:
                handle.truncate(offset)
        return count

    def _open_journal(self) -> None:
        path = self._path("journal", self.generation)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.size = os.fstat(self._fd).st_size
        self.entries = 0

    # -- while serving -------------------------------------------------------------------

    def append(self, environ: dict[str, Any], body: bytes) -> int:
        """Journal one applied change (the caller holds ``lock``); returns its sequence number."""
        kept = {
            k: v for k, v in environ.items() if isinstance(v, str) and (k.startswith("HTTP_") or k in _KEPT_ENVIRON)
        }
        payload = json.dumps({"environ": kept, "body": base64.b64encode(body).decode()}).encode()
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        if self._fd is None:
            raise RuntimeError(f"the {self.service} journal is closed")
        view = memoryview(frame)
        while view:
            view = view[os.write(self._fd, view) :]
        self.entries += 1
        self.size += len(frame)
        self._written += 1
        return self._written

    def wait_durable(self, sequence: int) -> None:
        """Return once the journal is on disk up to ``sequence`` (one fsync serves every
        request waiting at that moment)."""
        if not self.fsync:
            return
        with self._sync_lock:
            if self._synced >= sequence or self._fd is None:
                return
            target = self._written
            os.fsync(self._fd)
            self._synced = max(self._synced, target)

    def needs_snapshot(self) -> bool:
        return self.entries >= JOURNAL_MAX_ENTRIES or self.size >= JOURNAL_MAX_BYTES

    def snapshot(self) -> None:
        """Pickle the service's state and start a new journal generation. The state is taken
        under ``lock``; the file is written after, while requests go on into the new journal."""
        with self.lock:
            state = dump_backends(self.service)
            if state is None:
                return
            with self._sync_lock:
                if self._fd is not None:
                    if self.fsync:
                        os.fsync(self._fd)
                    os.close(self._fd)
                self._synced = self._written
                self.generation += 1
                generation = self.generation
                self._open_journal()
        header = f"moto {_moto_version()}\n".encode()
        with self._snapshot_lock:
            write_atomically(self._path("snapshot", generation), [_SNAPSHOT_MAGIC, header, state], fsync=self.fsync)
            for kind in ("snapshot", "journal"):
                for older in self._generations(kind):
                    if older < generation:
                        self._path(kind, older).unlink(missing_ok=True)

    def close(self, *, snapshot: bool) -> None:
        if snapshot and self.entries:
            try:
                self.snapshot()
            except Exception:
                logger.exception(
                    "emulator: snapshot at stop failed; the journal will be replayed", extra={"service": self.service}
                )
        with self.lock, self._sync_lock:
            if self._fd is not None:
                if self.fsync:
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None


class MotoServices:
    """moto's WSGI app behind one lock per service; durable when given a directory. DynamoDB's
    hot operations skip moto's web framework (``dynamodb_fast``) unless ``fast_dynamodb`` is off."""

    def __init__(self, directory: Path | None, *, fsync: bool, fast_dynamodb: bool = True) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        moto_patches.apply()
        self.app: WsgiApp = DomainDispatcherApplication(create_backend_app)
        self.fast = DynamoFastPath() if fast_dynamodb else None
        self.directory = directory
        self.fsync = fsync
        self._journals: dict[str, ServiceJournal] = {}
        self._guard = threading.Lock()

    def open(self) -> dict[str, int]:
        """Bring every journaled service back; returns the requests replayed per service."""
        replayed: dict[str, int] = {}
        if self.directory is None:
            return replayed
        self.directory.mkdir(parents=True, exist_ok=True)
        for folder in sorted(p for p in self.directory.iterdir() if p.is_dir()):
            replayed[folder.name] = self._journal(folder.name).recover(self._replay)
        return replayed

    def _replay(self, kept: dict[str, Any], body: bytes) -> None:
        environ: dict[str, Any] = {
            **kept,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        answer = call_wsgi(self.app, environ)
        if not answer.ok:
            logger.warning(
                "emulator: a journaled request answered differently on replay",
                extra={"status": answer.status, "target": kept.get("HTTP_X_AMZ_TARGET"), "path": kept.get("PATH_INFO")},
            )

    def _journal(self, service: str) -> ServiceJournal:
        with self._guard:
            found = self._journals.get(service)
            if found is None:
                folder = (self.directory or Path(".")) / service
                found = ServiceJournal(service, folder, fsync=self.fsync)
                if self.directory is not None and not folder.exists():
                    found.recover(self._replay)
                self._journals[service] = found
            return found

    def __call__(self, environ: dict[str, Any], start_response: Any, service: str) -> Iterable[bytes]:
        if service in UNSERIALISED and self.directory is None:
            return self.app(environ, start_response)
        journal = self._journal(service)
        answer = self._serve(journal, environ, service)
        start_response(answer.status, answer.headers)
        return [answer.body]

    def _serve(self, journal: ServiceJournal, environ: dict[str, Any], service: str) -> _Answer:
        durable = self.directory is not None and is_change(environ)
        fast = self.fast if service == "dynamodb" and self.fast is not None and self.fast.takes(environ) else None
        body = b""
        if durable or fast is not None:
            body = read_body(environ)
            environ["wsgi.input"] = io.BytesIO(body)
        sequence = 0
        snapshot = False
        with journal.lock:
            found = fast.answer(environ, body) if fast is not None else None
            answer = _Answer(*found) if found is not None else call_wsgi(self.app, environ)
            moto_patches.weaken_instance_trackers()  # the classes of a service moto has just imported
            if durable and answer.ok:
                sequence = journal.append(environ, body)
                snapshot = service in SNAPSHOT_ON_CHANGE or journal.needs_snapshot()
        if snapshot:
            journal.snapshot()  # before answering: a KMS key is not the client's until it is on disk
        elif sequence:
            journal.wait_durable(sequence)
        return answer

    def reset(self) -> None:
        """After moto's own reset: record the empty state as every service's snapshot."""
        moto_patches.weaken_instance_trackers(force=True)  # moto's reset put plain lists back
        for journal in list(self._journals.values()):
            if self.directory is not None:
                journal.snapshot()

    def locks(self) -> list[threading.RLock]:
        with self._guard:
            return [j.lock for j in self._journals.values()]

    def close(self) -> None:
        for journal in list(self._journals.values()):
            if self.directory is not None:
                journal.close(snapshot=True)
