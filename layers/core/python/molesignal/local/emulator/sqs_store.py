"""SQS queues in SQLite: what the local system's queues hold survives a crash of the process.

Standard and FIFO queues with SQS's rules: visibility timeouts, receive counts, redrive to a
dead-letter queue once a message has been received ``maxReceiveCount`` times (on the
receive after its last allowed one, as SQS does), per-message and per-queue delays,
retention, long polling, and FIFO message groups and five-minute deduplication. Every
change is one SQLite transaction, so a message is either sent or not, received or not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_MESSAGE_BYTES = 1_048_576
MAX_BATCH_ENTRIES = 10
DEDUP_WINDOW_S = 300
DIGESTS_KEPT = 10_000  # body MD5s remembered between a send and its receives
ACCOUNT_ID = "123456789012"
SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_INVALID_BODY = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The ASCII characters SQS accepts: an ASCII body (every body MoleSignal sends) is checked by
# deleting these bytes in C, not by the regex's per-character scan (~4 ms for 256 KiB).
_VALID_ASCII = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x80)])
_EXPIRY_EVERY_S = 60.0

# Settable attributes: (default, lowest, highest); None bounds mean free text.
_NUMERIC = {
    "VisibilityTimeout": (30, 0, 43_200),
    "MaximumMessageSize": (MAX_MESSAGE_BYTES, 1024, MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": (345_600, 60, 1_209_600),
    "DelaySeconds": (0, 0, 900),
    "ReceiveMessageWaitTimeSeconds": (0, 0, 20),
}
_TEXT = {
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY, created REAL NOT NULL, modified REAL NOT NULL,
    attributes TEXT NOT NULL, tags TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL, body TEXT NOT NULL,
    attributes TEXT NOT NULL, system TEXT NOT NULL, sent REAL NOT NULL, visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0, first_received REAL, receipt TEXT,
    group_id TEXT, dedup_id TEXT, sequence_number TEXT);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_id ON messages (message_id);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL, dedup_id TEXT NOT NULL, expires REAL NOT NULL, message_id TEXT NOT NULL,
    sequence_number TEXT, PRIMARY KEY (queue, dedup_id)) WITHOUT ROWID;
"""


class SqsError(Exception):
    """An SQS error: the modelled shape name and the Query-protocol code clients match on."""

    def __init__(self, shape: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.shape = shape
        self.code = code or shape
        self.message = message


def no_such_queue() -> SqsError:
    return SqsError(
        "QueueDoesNotExist", "The specified queue does not exist.", "AWS.SimpleQueueService.NonExistentQueue"
    )


def invalid_parameter(message: str) -> SqsError:
    return SqsError("InvalidParameterValue", message)


@dataclass(frozen=True)
class Sent:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    sequence_number: str | None


@dataclass(frozen=True)
class Received:
    message_id: str
    receipt: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]  # system attributes: SentTimestamp, ApproximateReceiveCount, ...
    message_attributes: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Outgoing:
    """A message to send, as SendMessage or one SendMessageBatch entry describes it."""

    body: str
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    system: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay_s: int | None = None
    group_id: str | None = None
    dedup_id: str | None = None


def attributes_md5(attributes: dict[str, dict[str, Any]]) -> str | None:
    """SQS's MD5 of message attributes: names sorted, each field length-prefixed."""
    if not attributes:
        return None
    digest = hashlib.md5()  # noqa: S324 - the digest SQS defines
    for name in sorted(attributes):
        value = attributes[name]
        data_type = str(value.get("DataType", ""))
        for part in (name.encode(), data_type.encode()):
            digest.update(len(part).to_bytes(4, "big") + part)
        if "StringValue" in value:
            raw = str(value["StringValue"]).encode()
            digest.update(b"\x01" + len(raw).to_bytes(4, "big") + raw)
        else:
            raw = _binary(value.get("BinaryValue"))
            digest.update(b"\x02" + len(raw).to_bytes(4, "big") + raw)
    return digest.hexdigest()


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return base64.b64decode(str(value or ""))


def _attributes_size(attributes: dict[str, dict[str, Any]]) -> int:
    size = 0
    for name, value in attributes.items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "StringValue" in value:
            size += len(str(value["StringValue"]).encode())
        else:
            size += len(_binary(value.get("BinaryValue")))
    return size


def _validate_attributes(attributes: dict[str, dict[str, Any]]) -> None:
    if len(attributes) > 10:
        raise invalid_parameter(f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10].")
    for name, value in attributes.items():
        data_type = str(value.get("DataType", ""))
        if not data_type or data_type.split(".", 1)[0] not in ("String", "Number", "Binary"):
            raise SqsError(
                "InvalidParameterValue", f"The message attribute '{name}' has an invalid message attribute type"
            )
        if "StringValue" not in value and "BinaryValue" not in value:
            raise SqsError(
                "InvalidParameterValue",
                f"The message attribute '{name}' must contain non-empty message attribute value",
            )


def queue_arn(region: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}"


class QueueStore:
    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._expired_at: dict[str, float] = {}
        # Queues seen to exist: every message call checks its queue first. Forgotten when a
        # queue is deleted (or the store cleared), under the same lock.
        self._known: set[str] = set()
        # MD5s of the bodies sent by this process, by message id (a receive answers it, and a
        # body is up to 1 MiB); bounded, and a miss computes it from the body as before.
        self._digests: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> QueueStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        db.executescript(_SCHEMA)
        self._db = db
        self._known.clear()
        self._closed = False
        return self

    def close(self) -> None:
        """Wake every long poll (they answer empty) and close the database."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()
            if self._db is not None:
                self._db.close()
                self._db = None

    def clear(self) -> None:
        with self._write() as db:
            self._known.clear()
            for table in ("queues", "messages", "dedup"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def release_in_flight(self) -> int:
        """Make every received-but-undeleted message visible again. The local system's pollers
        run in the emulator's process, so after a restart nobody still holds those messages."""
        with self._write(wakes=True) as db:
            return db.execute(
                "UPDATE messages SET visible_at = ? WHERE receive_count > 0 AND visible_at > ?",
                (time.time(), time.time()),
            ).rowcount

    @contextmanager
    def _write(self, *, wakes: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; ``wakes`` when it may have made messages receivable, so that long
        polls look again (a receive that only hides messages wakes nobody)."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            if wakes:
                self._changed.notify_all()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the queue store is closed")
        return self._db

    # -- queues --------------------------------------------------------------------------

    def _attributes(self, db: sqlite3.Connection, name: str) -> dict[str, str]:
        row = db.execute("SELECT attributes FROM queues WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise no_such_queue()
        attributes: dict[str, str] = json.loads(row[0])
        return attributes

    def create_queue(self, name: str, attributes: dict[str, str], tags: dict[str, str]) -> None:
        fifo = name.endswith(".fifo")
        if not _NAME.match(name.removesuffix(".fifo")) or len(name) > 80:
            raise invalid_parameter(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
            )
        if attributes.get("FifoQueue", "false").lower() == "true" and not fifo:
            raise SqsError(
                "InvalidParameterValue",
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
                "must end with .fifo suffix.",
            )
        if fifo:
            attributes = {"FifoQueue": "true", **attributes}
        with self._write() as db:
            normalised = self._validated(db, attributes, fifo=fifo)
            row = db.execute("SELECT attributes FROM queues WHERE name = ?", (name,)).fetchone()
            if row is not None:
                existing = json.loads(row[0])
                for key, value in normalised.items():
                    if existing.get(key, _default(key)) != value:
                        raise SqsError(
                            "QueueNameExists",
                            f"A queue already exists with the same name and a different value for attribute {key}",
                            "QueueAlreadyExists",
                        )
                return
            now = time.time()
            db.execute(
                "INSERT INTO queues (name, created, modified, attributes, tags) VALUES (?, ?, ?, ?, ?)",
                (name, now, now, json.dumps(normalised), json.dumps(tags)),
            )

    def _validated(self, db: sqlite3.Connection, attributes: dict[str, str], *, fifo: bool) -> dict[str, str]:
        normalised: dict[str, str] = {}
        for key, raw in attributes.items():
            value = str(raw)
            if key in _NUMERIC:
                _, lowest, highest = _NUMERIC[key]
                if not value.lstrip("-").isdigit() or not lowest <= int(value) <= highest:
                    raise SqsError("InvalidAttributeValue", f"Invalid value for the parameter {key}.")
                normalised[key] = str(int(value))
            elif key in _TEXT:
                if key in ("FifoQueue", "ContentBasedDeduplication") and not fifo:
                    raise SqsError("InvalidAttributeName", f"Unknown Attribute {key}.")
                if key == "RedrivePolicy" and value:
                    value = self._redrive_policy(db, value)
                normalised[key] = value
            else:
                raise SqsError("InvalidAttributeName", f"Unknown Attribute {key}.")
        return normalised

    def _redrive_policy(self, db: sqlite3.Connection, value: str) -> str:
        try:
            policy = json.loads(value)
            target = str(policy["deadLetterTargetArn"])
            count = int(policy["maxReceiveCount"])
        except (ValueError, KeyError, TypeError):
            raise SqsError(
                "InvalidAttributeValue",
                "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a "
                "dict or valid json, or is missing deadLetterTargetArn or maxReceiveCount.",
            ) from None
        if not 1 <= count <= 1000:
            raise SqsError(
                "InvalidAttributeValue",
                "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: "
                "must be between 1 and 1000.",
            )
        if db.execute("SELECT 1 FROM queues WHERE name = ?", (target.rsplit(":", 1)[-1],)).fetchone() is None:
            raise SqsError(
                "InvalidAttributeValue",
                "Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.",
            )
        return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count})

    def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        with self._write(wakes=True) as db:
            current = self._attributes(db, name)
            current.update(self._validated(db, attributes, fifo=name.endswith(".fifo")))
            db.execute(
                "UPDATE queues SET attributes = ?, modified = ? WHERE name = ?",
                (json.dumps(current), time.time(), name),
            )

    def queue_exists(self, name: str) -> bool:
        with self._lock:
            if name in self._known and self._db is not None:
                return True
            found = self._conn().execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone() is not None
            if found:
                self._known.add(name)
            return found

    def get_attributes(self, name: str, region: str) -> dict[str, str]:
        """Every attribute of the queue, the approximate counts included."""
        now = time.time()
        with self._lock:
            db = self._conn()
            stored = self._attributes(db, name)
            created, modified = db.execute("SELECT created, modified FROM queues WHERE name = ?", (name,)).fetchone()
            visible, hidden, delayed = db.execute(
                "SELECT COALESCE(SUM(visible_at <= ?), 0),"
                " COALESCE(SUM(visible_at > ? AND receive_count > 0), 0),"
                " COALESCE(SUM(visible_at > ? AND receive_count = 0), 0)"
                " FROM messages WHERE queue = ?",
                (now, now, now, name),
            ).fetchone()
        attributes = {key: str(default) for key, (default, _, _) in _NUMERIC.items()}
        attributes.update(stored)
        attributes.update(
            {
                "QueueArn": queue_arn(region, name),
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(hidden),
                "ApproximateNumberOfMessagesDelayed": str(delayed),
                "CreatedTimestamp": str(int(created)),
                "LastModifiedTimestamp": str(int(modified)),
            }
        )
        attributes.setdefault("SqsManagedSseEnabled", "true")
        return attributes

    def delete_queue(self, name: str) -> None:
        with self._write() as db:
            self._attributes(db, name)
            db.execute("DELETE FROM messages WHERE queue = ?", (name,))
            db.execute("DELETE FROM dedup WHERE queue = ?", (name,))
            db.execute("DELETE FROM queues WHERE name = ?", (name,))
            self._known.discard(name)

    def list_queues(self, prefix: str = "") -> list[str]:
        with self._lock:
            rows = self._conn().execute("SELECT name FROM queues ORDER BY name").fetchall()
        return [str(r[0]) for r in rows if str(r[0]).startswith(prefix)]

    def dead_letter_sources(self, name: str) -> list[str]:
        with self._lock:
            db = self._conn()
            self._attributes(db, name)
            rows = db.execute("SELECT name, attributes FROM queues").fetchall()
        sources = []
        for source, attributes in rows:
            policy = json.loads(attributes).get("RedrivePolicy")
            if policy and json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1] == name:
                sources.append(str(source))
        return sources

    def tags(self, name: str) -> dict[str, str]:
        with self._lock:
            row = self._conn().execute("SELECT tags FROM queues WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise no_such_queue()
        tags: dict[str, str] = json.loads(row[0])
        return tags

    def set_tags(self, name: str, add: dict[str, str], remove: list[str]) -> None:
        with self._write() as db:
            row = db.execute("SELECT tags FROM queues WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise no_such_queue()
            tags = json.loads(row[0])
            tags.update(add)
            for key in remove:
                tags.pop(key, None)
            db.execute("UPDATE queues SET tags = ? WHERE name = ?", (json.dumps(tags), name))

    def purge(self, name: str) -> None:
        with self._write() as db:
            self._attributes(db, name)
            db.execute("DELETE FROM messages WHERE queue = ?", (name,))

    # -- messages ------------------------------------------------------------------------

    def send(self, name: str, messages: list[Outgoing]) -> list[Sent | SqsError]:
        """Send messages; each answer is what was sent or why that one was refused."""
        with self._write(wakes=True) as db:
            attributes = self._attributes(db, name)
            return [self._send_one(db, name, attributes, m) for m in messages]

    def _send_one(self, db: sqlite3.Connection, name: str, queue: dict[str, str], message: Outgoing) -> Sent | SqsError:
        now = time.time()
        try:
            _check_message(message, int(queue.get("MaximumMessageSize", MAX_MESSAGE_BYTES)))
            delay = int(queue.get("DelaySeconds", 0)) if message.delay_s is None else message.delay_s
            if not 0 <= delay <= 900:
                raise invalid_parameter(
                    f"Value {delay} for parameter DelaySeconds is invalid. "
                    "Reason: DelaySeconds must be >= 0 and <= 900."
                )
            fifo = name.endswith(".fifo")
            dedup_id = _fifo_dedup_id(queue, message) if fifo else message.dedup_id
        except SqsError as error:
            return error
        if fifo:
            db.execute("DELETE FROM dedup WHERE queue = ? AND expires <= ?", (name, now))
            seen = db.execute(
                "SELECT message_id, sequence_number FROM dedup WHERE queue = ? AND dedup_id = ?", (name, dedup_id)
            ).fetchone()
            if seen is not None:  # the same message within five minutes: accepted, not sent again
                return Sent(str(seen[0]), _md5(message.body), attributes_md5(message.attributes), seen[1])
        message_id = str(uuid.uuid4())
        digest = _md5(message.body)
        cursor = db.execute(
            "INSERT INTO messages (queue, message_id, body, attributes, system, sent, visible_at, group_id, dedup_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                message_id,
                message.body,
                json.dumps(message.attributes, default=_json_bytes),
                json.dumps(message.system, default=_json_bytes),
                now,
                now + delay,
                message.group_id,
                dedup_id,
            ),
        )
        sequence = None
        if fifo:
            sequence = f"{cursor.lastrowid:020d}"
            db.execute("UPDATE messages SET sequence_number = ? WHERE seq = ?", (sequence, cursor.lastrowid))
            db.execute(
                "INSERT OR REPLACE INTO dedup (queue, dedup_id, expires, message_id, sequence_number)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, dedup_id, now + DEDUP_WINDOW_S, message_id, sequence),
            )
        if len(self._digests) >= DIGESTS_KEPT:
            self._digests.clear()
        self._digests[message_id] = digest
        return Sent(message_id, digest, attributes_md5(message.attributes), sequence)

    def receive(
        self,
        name: str,
        *,
        max_messages: int = 1,
        visibility_s: int | None = None,
        wait_s: float | None = None,
        region: str = "us-east-1",
    ) -> list[Received]:
        """Receive up to ``max_messages``, waiting up to ``wait_s`` for the first to be there."""
        if not 1 <= max_messages <= 10:
            raise invalid_parameter(
                f"Value {max_messages} for parameter MaxNumberOfMessages is invalid. Reason: must be between 1 and 10, "
                "if provided."
            )
        if visibility_s is not None and not 0 <= visibility_s <= 43_200:
            raise invalid_parameter(f"Value {visibility_s} for parameter VisibilityTimeout is invalid.")
        with self._lock:
            queue = self._attributes(self._conn(), name)
        wait = float(queue.get("ReceiveMessageWaitTimeSeconds", 0)) if wait_s is None else wait_s
        if not 0 <= wait <= 20:
            raise invalid_parameter(
                f"Value {wait_s} for parameter WaitTimeSeconds is invalid. Reason: must be >= 0 and <= 20, if provided."
            )
        deadline = time.monotonic() + wait
        while True:
            received = self._receive_now(name, max_messages, visibility_s, region)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            with self._lock:
                if self._closed:
                    return []
                upcoming = (
                    self._conn().execute("SELECT MIN(visible_at) FROM messages WHERE queue = ?", (name,)).fetchone()[0]
                )
                pause = remaining if upcoming is None else min(remaining, max(0.01, upcoming - time.time()))
                self._changed.wait(min(pause, 1.0))
                if self._closed:
                    return []

    def _receive_now(self, name: str, limit: int, visibility_s: int | None, region: str) -> list[Received]:
        now = time.time()
        with self._write() as db:
            queue = self._attributes(db, name)
            self._expire(db, name, queue, now)
            visibility = int(queue.get("VisibilityTimeout", 30)) if visibility_s is None else visibility_s
            redrive = json.loads(queue["RedrivePolicy"]) if queue.get("RedrivePolicy") else None
            candidates = self._candidates(db, name, limit, now, fifo=name.endswith(".fifo"))
            received: list[Received] = []
            for row in candidates:
                seq, message_id, body, attributes, system, sent, count, first = row[:8]
                if redrive and count >= int(redrive["maxReceiveCount"]):
                    target = str(redrive["deadLetterTargetArn"]).rsplit(":", 1)[-1]
                    if db.execute("SELECT 1 FROM queues WHERE name = ?", (target,)).fetchone():
                        db.execute(
                            "UPDATE messages SET queue = ?, visible_at = ?, receipt = NULL WHERE seq = ?",
                            (target, now, seq),
                        )
                        self._changed.notify_all()  # a long poll on the DLQ may take it (after the commit)
                        continue
                receipt = base64.urlsafe_b64encode(f"{name}\n{message_id}\n{uuid.uuid4().hex}".encode()).decode()
                db.execute(
                    "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ?,"
                    " first_received = COALESCE(first_received, ?) WHERE seq = ?",
                    (now + visibility, receipt, now, seq),
                )
                group_id, dedup_id, sequence = row[8:11]
                system_attributes = {
                    "SenderId": SENDER_ID,
                    "SentTimestamp": str(int(sent * 1000)),
                    "ApproximateReceiveCount": str(count + 1),
                    "ApproximateFirstReceiveTimestamp": str(int((first or now) * 1000)),
                }
                if group_id is not None:
                    system_attributes["MessageGroupId"] = str(group_id)
                if dedup_id is not None:
                    system_attributes["MessageDeduplicationId"] = str(dedup_id)
                if sequence is not None:
                    system_attributes["SequenceNumber"] = str(sequence)
                trace = json.loads(system).get("AWSTraceHeader")
                if trace:
                    system_attributes["AWSTraceHeader"] = str(trace.get("StringValue", ""))
                digest = self._digests.get(str(message_id)) or _md5(str(body))
                received.append(
                    Received(str(message_id), receipt, str(body), digest, system_attributes, json.loads(attributes))
                )
            return received

    @staticmethod
    def _candidates(db: sqlite3.Connection, name: str, limit: int, now: float, *, fifo: bool) -> list[tuple[Any, ...]]:
        columns = (
            "seq, message_id, body, attributes, system, sent, receive_count, first_received, group_id, dedup_id,"
            " sequence_number, visible_at"
        )
        if not fifo:
            return db.execute(
                f"SELECT {columns} FROM messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?",  # noqa: S608
                (name, now, limit),
            ).fetchall()
        # FIFO: a group with a message in flight waits; within a group, strictly in order.
        blocked = {
            r[0]
            for r in db.execute(
                "SELECT DISTINCT group_id FROM messages WHERE queue = ? AND visible_at > ? AND receive_count > 0",
                (name, now),
            )
        }
        chosen: list[tuple[Any, ...]] = []
        for row in db.execute(f"SELECT {columns} FROM messages WHERE queue = ? ORDER BY seq", (name,)):  # noqa: S608
            if len(chosen) >= limit:
                break
            if row[8] in blocked:
                continue
            if row[11] > now:  # delayed: the messages after it in its group wait for it
                blocked.add(row[8])
                continue
            chosen.append(row)
        return chosen

    def _expire(self, db: sqlite3.Connection, name: str, queue: dict[str, str], now: float) -> None:
        if now - self._expired_at.get(name, 0.0) < _EXPIRY_EVERY_S:
            return
        self._expired_at[name] = now
        retention = int(queue.get("MessageRetentionPeriod", 345_600))
        db.execute("DELETE FROM messages WHERE queue = ? AND sent < ?", (name, now - retention))

    def _find_receipt(self, db: sqlite3.Connection, name: str, receipt: str) -> tuple[int, str | None] | None:
        """The message a receipt handle names (its seq and its current receipt), or None if gone."""
        try:
            queue, message_id, _ = base64.urlsafe_b64decode(receipt.encode()).decode().split("\n")
        except (ValueError, UnicodeDecodeError):
            raise SqsError(
                "ReceiptHandleIsInvalid", f'The input receipt handle "{receipt}" is not a valid receipt handle.'
            ) from None
        if queue != name:
            raise SqsError(
                "ReceiptHandleIsInvalid", f'The input receipt handle "{receipt}" is not a valid receipt handle.'
            )
        row = db.execute(
            "SELECT seq, receipt FROM messages WHERE message_id = ? AND queue = ?", (message_id, name)
        ).fetchone()
        return (int(row[0]), row[1]) if row else None

    def delete(self, name: str, receipts: list[str]) -> list[SqsError | None]:
        """Delete received messages. A receipt from an earlier receive deletes nothing and is no
        error (as in SQS: only the latest receipt of a message deletes it)."""
        with self._write() as db:
            self._attributes(db, name)
            answers: list[SqsError | None] = []
            for receipt in receipts:
                try:
                    found = self._find_receipt(db, name, receipt)
                except SqsError as error:
                    answers.append(error)
                    continue
                if found is not None and found[1] == receipt:
                    db.execute("DELETE FROM messages WHERE seq = ?", (found[0],))
                answers.append(None)
            return answers

    def change_visibility(self, name: str, changes: list[tuple[str, int]]) -> list[SqsError | None]:
        with self._write(wakes=True) as db:
            self._attributes(db, name)
            answers: list[SqsError | None] = []
            now = time.time()
            for receipt, timeout in changes:
                try:
                    if not 0 <= timeout <= 43_200:
                        raise invalid_parameter(f"Value {timeout} for parameter VisibilityTimeout is invalid.")
                    found = self._find_receipt(db, name, receipt)
                    if found is None or found[1] != receipt:
                        raise SqsError(
                            "MessageNotInflight",
                            "The message referred to isn't in flight.",
                            "AWS.SimpleQueueService.MessageNotInflight",
                        )
                except SqsError as error:
                    answers.append(error)
                    continue
                db.execute("UPDATE messages SET visible_at = ? WHERE seq = ?", (now + timeout, found[0]))
                answers.append(None)
            return answers


def _check_message(message: Outgoing, limit: int) -> None:
    _validate_attributes(message.attributes)
    if not message.body:
        raise SqsError("MissingParameter", "The request must contain the parameter MessageBody.")
    encoded = message.body.encode()
    if len(encoded) + _attributes_size(message.attributes) > limit:
        raise invalid_parameter(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )
    ascii_body = len(encoded) == len(message.body)
    if encoded.translate(None, _VALID_ASCII) if ascii_body else _INVALID_BODY.search(message.body):
        raise SqsError(
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are "
            "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    if message.group_id == "":
        raise invalid_parameter("Value for parameter MessageGroupId is invalid.")


def _fifo_dedup_id(queue: dict[str, str], message: Outgoing) -> str:
    if message.delay_s:
        raise invalid_parameter(
            f"Value {message.delay_s} for parameter DelaySeconds is invalid. Reason: The request include "
            "parameter that is not valid for this queue type."
        )
    if not message.group_id:
        raise SqsError("MissingParameter", "The request must contain the parameter MessageGroupId.")
    if message.dedup_id is not None:
        return message.dedup_id
    if queue.get("ContentBasedDeduplication", "false").lower() == "true":
        return hashlib.sha256(message.body.encode()).hexdigest()
    raise invalid_parameter(
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    )


def _default(key: str) -> str | None:
    found = _NUMERIC.get(key)
    return str(found[0]) if found else None


def _md5(body: str) -> str:
    return hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - the digest SQS defines


def _json_bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot store {type(value).__name__} in a message attribute")
