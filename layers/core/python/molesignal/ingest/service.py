"""The ingest function's domain: admit the caller, normalise and count, enforce the
per-stream field cap and the org's quotas, and enqueue — before any Parquet is written."""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from molesignal import aws
from molesignal.auth.principal import Principal, Role
from molesignal.clock import now_us
from molesignal.errors import DomainError, Forbidden, Unavailable
from molesignal.ingest import envelope
from molesignal.ingest.normalize import TIMESTAMP, check_stream_name, normalize
from molesignal.ingest.records import MALFORMED, parse_json_records
from molesignal.lake.streams import DEFAULT_FIELD_CAP, RESERVED_STREAMS, Stream, Streams
from molesignal.quotas import Limiter, RateKind
from molesignal.recent import recent_org
from molesignal.settings import get_settings
from molesignal.storage.table import Item, Table

MAX_REPORTED_ERRORS = 100
# Most a body's canonical NDJSON, zstd-compressed, can weigh per raw byte and per record (a
# float like ``1e15`` is written ``1000000000000000.0``, array text gains escapes, each record
# a ``_timestamp``): the storage quota is checked against this bound on the column-wise path.
_CANONICAL_BYTES_PER_RAW_BYTE = 20
_CANONICAL_BYTES_PER_RECORD = 48


@dataclass(frozen=True)
class Rejection:
    index: int
    code: str
    reason: str


@dataclass
class IngestResult:
    request_id: str
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    streams: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def rejected_indexes(self) -> dict[int, Rejection]:
        return {r.index: r for r in self.rejections}

    def to_response(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "streams": self.streams,
            "errors": [
                {"index": r.index, "code": r.code, "error": r.reason} for r in self.rejections[:MAX_REPORTED_ERRORS]
            ],
        }


def new_request_id() -> str:
    return f"{now_us():016x}{secrets.token_hex(8)}"


def check_tenant_stream(name: str) -> str:
    """A stream a tenant route may write: a valid name, and not one MoleSignal writes itself."""
    lowered = check_stream_name(name)
    if lowered in RESERVED_STREAMS:
        raise Forbidden(
            f"forbidden: stream {lowered!r} is reserved: only MoleSignal writes it (sealed OTLP content)",
            code="reserved_stream",
        )
    return lowered


@dataclass
class _StreamBatch:
    records: list[dict[str, Any]] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)


def admit_writer(table: Table, principal: Principal) -> Item:
    """May this caller write telemetry into its org now? (role, and the org not paused).

    Returns the org item (empty if the org has none)."""
    principal.require(Role.INGEST, Role.EDITOR, Role.ADMIN)
    # As read lately (molesignal.recent): a pause made elsewhere holds within MOLESIGNAL_WARM_MEMO_S.
    org = recent_org(table, principal.org_id) or {}
    if org.get("ingestion_paused"):
        raise Unavailable("service unavailable: ingestion is paused for this org", code="ingestion_paused")
    return org


# Counts rate windows while a request's body is read (Ingestor.admit_alongside): a DynamoDB
# round trip on its own thread, so a few suffice however many requests the instance serves.
_counting = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rate-window")


class Admission:
    """The ingest rate window's count for one request, made on a helper thread while the route
    reads the body (Arrow's parse releases the GIL; the count is a DynamoDB round trip; ADR 0032).

    ``settle`` waits for the count and raises its refusal; the request must settle before it
    answers anything or sends anything, which leaving the ``with`` block does at the latest. A
    refused request therefore gets the same 429, ahead of any other error its stream name or
    body would have earned, and nothing of it reaches the queue — as with ``Ingestor.admit``."""

    def __init__(self, org: Item, counted: Future[None]) -> None:
        self.org = org
        self._counted = counted
        self._settled = False

    def settle(self) -> None:
        if not self._settled:
            self._settled = True  # a refusal is raised once; leaving the block then adds nothing
            self._counted.result()

    def __enter__(self) -> Admission:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.settle()  # raised here, the refusal replaces an error the block raised before it


class Ingestor:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    def admit(self, principal: Principal) -> Item:
        """Role, paused org and the ingest rate quota — checked before reading the body.

        Returns the org item (empty if the org has none) so callers can apply its settings
        without reading it again."""
        org = admit_writer(self.table, principal)
        Limiter(self.table).check_rate(principal.org_id, RateKind.INGEST, actor=principal.actor)
        return org

    def admit_alongside(self, principal: Principal) -> Admission:
        """``admit``, with the rate window counted on a helper thread while the caller reads
        the body: role and paused org are checked now; ``Admission.settle`` gives the count's
        verdict."""
        org = admit_writer(self.table, principal)
        count = Limiter(self.table).check_rate
        context = contextvars.copy_context()
        counted = _counting.submit(context.run, count, principal.org_id, RateKind.INGEST, actor=principal.actor)
        return Admission(org, counted)

    def submit_body(
        self, principal: Principal, stream: str, body: bytes, *, admission: Admission | None = None
    ) -> IngestResult:
        """A native JSON/NDJSON body for one stream: read column-wise when Arrow can store it
        exactly as the record path would and every record is accepted (ADR 0022), else
        record by record. The answer is the same either way. With an ``admission`` still
        counting, Arrow's parse runs meanwhile and the request goes on only once it is settled."""
        settle = admission.settle if admission is not None else _settled
        result = self._submit_columnar(principal, check_tenant_stream(stream), body, settle)
        if result is not None:
            return result
        settle()
        return self.submit(principal, ((index, stream, raw) for index, raw in parse_json_records(body)))

    def _submit_columnar(
        self, principal: Principal, name: str, body: bytes, settle: Callable[[], None]
    ) -> IngestResult | None:
        from molesignal.ingest import columnar  # pyarrow: loaded by the first NDJSON body, not at cold start

        received = now_us()
        columns = columnar.read(body, received)
        settle()  # nothing past the parse happens for a refused request
        if columns is None:
            return None
        stream = Streams(self.table).recent(principal.org_id, name)
        if not _fits_field_cap(stream, columns.names()):
            return None  # some record may be refused: the record path says which
        limiter = Limiter(self.table)
        bound = _CANONICAL_BYTES_PER_RAW_BYTE * len(body) + _CANONICAL_BYTES_PER_RECORD * columns.rows + 4096
        if not limiter.fits_storage(principal.org_id, bound):
            return None  # near the cap: the record path weighs the canonical bytes themselves
        result = IngestResult(request_id=new_request_id())
        payload, payload_format = columnar.hand_over(columns, body, received)
        self._send(
            envelope.IngestMessage(
                request_id=f"{result.request_id}-0",
                org_id=principal.org_id,
                stream=name,
                received_us=received,
                records=columns.rows,
                raw_bytes=len(payload),
                payload_format=payload_format,
            ),
            payload,
        )
        result.streams[name] = result.accepted = columns.rows
        return result

    def submit(
        self,
        principal: Principal,
        items: Iterable[tuple[int, str, Any]],
        *,
        reserved: frozenset[str] = frozenset(),
    ) -> IngestResult:
        """Normalise ``(index, stream, raw record)`` items and enqueue them per stream.

        A record that cannot be stored is rejected with its reason; the others go on. A
        record for a reserved stream is rejected unless the caller (MoleSignal's own
        writer, never a tenant route) names that stream in ``reserved``.
        """
        received = now_us()
        result = IngestResult(request_id=new_request_id())
        batches: dict[str, _StreamBatch] = {}
        for index, stream, raw in items:
            if raw is MALFORMED:
                result.rejections.append(Rejection(index, "malformed_json", "invalid argument: line is not valid JSON"))
                continue
            try:
                name = check_stream_name(stream)
                if name not in reserved:
                    check_tenant_stream(name)
                record = normalize(raw, received_us=received)
            except DomainError as exc:
                result.rejections.append(Rejection(index, exc.code, exc.message))
                continue
            batch = batches.setdefault(name, _StreamBatch())
            batch.records.append(record)
            batch.indexes.append(index)
        payloads: list[tuple[str, _StreamBatch, bytes]] = []
        for name, batch in batches.items():
            self._enforce_field_cap(principal.org_id, name, batch, result)
            if batch.records:
                payloads.append((name, batch, envelope.encode_records(batch.records)))
        if payloads:
            incoming = sum(len(p) for _, _, p in payloads)
            Limiter(self.table).check_storage(principal.org_id, incoming, actor=principal.actor)
        for number, (name, batch, payload) in enumerate(payloads):
            self._enqueue(principal.org_id, name, f"{result.request_id}-{number}", received, batch, payload)
            result.streams[name] = len(batch.records)
            result.accepted += len(batch.records)
        result.rejections.sort(key=lambda r: r.index)
        return result

    def _enforce_field_cap(self, org_id: str, name: str, batch: _StreamBatch, result: IngestResult) -> None:
        known, cap = _fields_and_cap(Streams(self.table).recent(org_id, name))
        added: set[str] = set()
        seen = known | {TIMESTAMP}  # known, added, and the timestamp: one set difference per record
        kept_records, kept_indexes = [], []
        for index, record in zip(batch.indexes, batch.records, strict=True):
            fresh = record.keys() - seen
            if fresh and len(known) + len(added) + len(fresh) > cap:
                shown = ", ".join(sorted(fresh)[:5])
                result.rejections.append(
                    Rejection(
                        index,
                        "field_cap_exceeded",
                        f"invalid argument: stream {name!r} is limited to {cap} fields; this record adds new fields "
                        f"({shown}{', ...' if len(fresh) > 5 else ''})",
                    )
                )
                continue
            added |= fresh
            seen |= fresh
            kept_records.append(record)
            kept_indexes.append(index)
        batch.records, batch.indexes = kept_records, kept_indexes

    def _enqueue(
        self, org_id: str, stream: str, request_id: str, received: int, batch: _StreamBatch, payload: bytes
    ) -> None:
        message = envelope.IngestMessage(
            request_id=request_id,
            org_id=org_id,
            stream=stream,
            received_us=received,
            records=len(batch.records),
            raw_bytes=len(payload),
        )
        self._send(message, payload)

    def _send(self, message: envelope.IngestMessage, payload: bytes) -> None:
        """Queue the message with its payload inline, or claim-checked in the lake bucket."""
        inline = envelope.inline(payload)
        if inline is None:
            s3_key = envelope.incoming_key(message.org_id, message.request_id)
            bucket = get_settings().resource_name("lake")
            aws.client("s3").put_object(Bucket=bucket, Key=s3_key, Body=payload)
            message = replace(message, s3_key=s3_key)
        else:
            message = replace(message, payload_b64=inline)
        aws.client("sqs").send_message(QueueUrl=ingest_queue_url(), MessageBody=message.to_json())


def _settled() -> None:
    """No count pending: the caller admitted the request before the body."""


def _fits_field_cap(stream: Stream | None, names: frozenset[str]) -> bool:
    """Whether every record fits the stream's field cap whatever order they come in: the
    record path refuses a record only once the fields added so far reach the cap."""
    known, cap = _fields_and_cap(stream)
    return len(known) + len(names - known) <= cap


def _fields_and_cap(stream: Stream | None) -> tuple[set[str], int]:
    """The stream's known field names and its field cap (a new stream's: none, the default)."""
    return (set(stream.schema), stream.field_cap) if stream else (set(), DEFAULT_FIELD_CAP)


_queue_url: dict[str, str] = {}


def ingest_queue_url() -> str:
    name = get_settings().queue_name("ingest")
    if name not in _queue_url:
        _queue_url[name] = aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_url[name]
