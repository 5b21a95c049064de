"""Spec 004's topic routes: consume (a bounded long poll) and ack."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter

from molesignal.topics.consumer import ConsumeRequest, TopicConsumer
from molesignal.web.deps import CurrentPrincipal, TableDep
from topics_api.schemas import AckAnswer, AckBody, ConsumeAnswer, ConsumeBody, StartOffset

router = APIRouter(prefix="/v1/api/topics", tags=["topics"])


@router.post(
    "/consume",
    response_model=ConsumeAnswer,
    summary="Messages of one partition for a consumer group, from its committed offset (docs/topics.md)",
)
async def consume(body: ConsumeBody, principal: CurrentPrincipal, table: TableDep) -> ConsumeAnswer:
    start = body.start.Offset if isinstance(body.start, StartOffset) else body.start
    request = ConsumeRequest(
        topic_id=body.topic_id.lower(),
        group_id=body.group_id,
        start=start,
        limit=body.limit,
        partition_id=body.partition_id,
        timeout_seconds=body.timeout_seconds,
    )
    consumed = await anyio.to_thread.run_sync(lambda: TopicConsumer(table).consume(principal, request))
    return ConsumeAnswer.model_validate(
        {"messages": [m.public() for m in consumed.messages], "next_offset": consumed.next_offset}
    )


@router.post("/ack", response_model=AckAnswer, summary="Commit a consumer group's offset in one partition")
async def ack(body: AckBody, principal: CurrentPrincipal, table: TableDep) -> AckAnswer:
    def commit() -> int:
        consumer = TopicConsumer(table)
        return consumer.ack(principal, body.topic_id.lower(), body.group_id, body.partition_id, body.upto_offset)

    committed = await anyio.to_thread.run_sync(commit)
    return AckAnswer(
        success=True,
        topic_id=body.topic_id.lower(),
        group_id=body.group_id,
        partition_id=body.partition_id,
        acknowledged_offset=committed,
    )
