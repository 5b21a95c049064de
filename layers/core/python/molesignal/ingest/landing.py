"""Landing a worker batch: the messages of each (org, stream) together, then any left one by one.

Lambda hands the ingest worker up to ``batch_size`` queued requests at once. Landing each
on its own costs one set of Parquet objects and one DynamoDB transaction per request, so a
stream fed by many small requests falls behind the gateway that accepts them and fills its
partitions with small files. Here the requests of one stream in a batch become one file per
hour and one commit (``Lake.append_together``). Whatever cannot land that way — a message
that does not parse or whose payload cannot be read, a group that fails as a whole because
one request holds rows the lake cannot place — is left to the per-message path, so a poison
message fails alone and its neighbours land.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from molesignal import aws
from molesignal.ingest.columnar import RawBody, decode_columns
from molesignal.ingest.envelope import ARROW_COLUMNS, RAW_NDJSON, IngestMessage, decode_payload
from molesignal.ingest.normalize import TIMESTAMP
from molesignal.lake.compaction import Compactor
from molesignal.lake.writer import AppendResult, Delivery, Lake, LandSeparately
from molesignal.observability import logger
from molesignal.settings import get_settings

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class LandedGroup:
    org_id: str
    stream: str
    request_ids: tuple[str, ...]
    result: AppendResult


def delivery_of(lake: Lake, message: IngestMessage) -> Delivery:
    """The message's records, inline or behind its claim check, in the form it carries them."""
    if message.payload_b64 is not None:
        compressed = base64.b64decode(message.payload_b64)
    elif message.s3_key is not None:
        compressed = aws.client("s3").get_object(Bucket=lake.bucket, Key=message.s3_key)["Body"].read()
    else:
        raise ValueError(f"ingest message {message.request_id} carries neither payload nor claim check")
    if message.payload_format == ARROW_COLUMNS:
        return Delivery(
            message.request_id, raw=RawBody(None, message.received_us, handed_over=_columns(message, compressed))
        )
    text = decode_payload(compressed)
    if message.payload_format == RAW_NDJSON:
        return Delivery(message.request_id, raw=RawBody(text, message.received_us))
    return Delivery(message.request_id, text)


def _columns(message: IngestMessage, compressed: bytes) -> pa.Table:
    """The canonical columns a version 3 message carries (ADR 0028), checked against it."""
    table = decode_columns(compressed)
    if table.num_rows != message.records or table.column_names[:1] != [TIMESTAMP]:
        raise ValueError(f"ingest message {message.request_id}: its columns do not hold its {message.records} records")
    return table


def land_together(lake: Lake, bodies: Iterable[str]) -> list[LandedGroup]:
    """Land the messages (SQS bodies) of each (org, stream) with two or more of them as one
    commit; returns the groups that landed. Failures are logged and left to the caller's
    per-message path."""
    groups: dict[tuple[str, str], list[IngestMessage]] = {}
    for body in bodies:
        try:
            message = IngestMessage.from_json(body)
        except (ValueError, KeyError, TypeError):  # not an ingest message: the per-message path reports it
            continue
        groups.setdefault((message.org_id, message.stream), []).append(message)
    landed: list[LandedGroup] = []
    for (org_id, stream), messages in groups.items():
        if len(messages) < 2:
            continue
        try:
            deliveries = [delivery_of(lake, m) for m in messages]
            result = lake.append_together(org_id, stream, deliveries)
        except LandSeparately as exc:
            logger.info("landing a group one by one", extra={"org_id": org_id, "stream": stream, "why": str(exc)})
            continue
        except Exception:  # one bad request must not hold back the others
            logger.warning(
                "a group failed to land together; landing its messages one by one",
                extra={"org_id": org_id, "stream": stream, "messages": len(messages)},
                exc_info=True,
            )
            continue
        landed.append(LandedGroup(org_id, stream, tuple(m.request_id for m in messages), result))
    return landed


@dataclass
class Touched:
    """The hour partitions a worker invocation landed files in, per (org, stream)."""

    hours: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    def add(self, org_id: str, stream: str, result: AppendResult) -> None:
        if result.files:
            self.hours.setdefault((org_id, stream), set()).update(f.hour_us for f in result.files)


def compact_touched(lake: Lake, touched: Touched) -> int:
    """Merge full tiers of small files in the hours just landed in (ADR 0011); the rows are
    committed already, so a failure here is logged and left to the scheduled compaction.
    Returns the rounds committed."""
    fanin = get_settings().recent_compaction_fanin
    if not fanin:
        return 0
    compactor = Compactor(lake.table, lake.bucket)
    committed = 0
    for (org_id, stream), hours in touched.hours.items():
        try:
            rounds = compactor.compact_recent(org_id, stream, hours, fanin=fanin)
        except Exception:  # the landing stands; the schedule compacts what is left
            logger.warning("compacting recent hours failed", extra={"org_id": org_id, "stream": stream}, exc_info=True)
            continue
        committed += sum(1 for r in rounds if r.outcome == "committed")
    return committed
