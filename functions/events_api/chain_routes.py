"""The chain's evidence (spec 001 beyond the anchors): verification, checkpoints, proofs.

Registered before ``/{event_id}`` so the literal paths win, as API Gateway's matching does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from events_api.timeparams import epoch_us
from molesignal.events import cursor as cursors
from molesignal.events.checkpoints import ALGORITHM, Checkpoints, checkpoint_partition, public
from molesignal.events.public_key import public_key_pem
from molesignal.events.reading import MAX_PAGE, EventReader
from molesignal.events.verify import verify
from molesignal.storage.table import Table
from molesignal.web.deps import CurrentPrincipal

router = APIRouter(prefix="/api/v1/events", tags=["events: chain"])


@router.get("/verify", summary="Walk the org's hash chain over the lake; report the first break")
def verify_chain(
    principal: CurrentPrincipal,
    from_: Annotated[datetime | None, Query(alias="from", description="received at or after (ISO 8601)")] = None,
    to: Annotated[datetime | None, Query(description="received before (ISO 8601)")] = None,
) -> JSONResponse:
    EventReader.admit(principal)
    report = verify(Table(), principal.org_id, epoch_us(from_), epoch_us(to))
    return JSONResponse(report.body())


@router.get("/checkpoints", summary="Signed checkpoints of the chain head, newest first, with the public key")
def list_checkpoints(
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> JSONResponse:
    EventReader.admit(principal)
    table = Table()
    listing = {"list": "checkpoints"}
    before = cursors.decode(cursor, principal.org_id, listing).at_us if cursor else None
    condition = "pk = :pk" + (" AND sk < :before" if before is not None else "")
    values = {":pk": {"S": checkpoint_partition(principal.org_id)}}
    if before is not None:
        values[":before"] = {"S": f"{before:020d}"}
    page = table.client.query(
        TableName=table.name,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
        Limit=limit + 1,
    )
    items = [table.unmarshal(raw) for raw in page.get("Items", [])]
    has_more = len(items) > limit
    items = items[:limit]
    total = table.client.query(
        TableName=table.name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": checkpoint_partition(principal.org_id)}},
        Select="COUNT",
    ).get("Count", 0)
    body: dict[str, object] = {
        "data": [public(i) for i in items],
        "has_more": has_more,
        "total": int(total),
        "public_key": public_key_pem(),
        "algorithm": ALGORITHM,
    }
    if has_more:
        # Checkpoints are ordered by sequence number: the cursor's position is the last one shown.
        position = cursors.Position(int(items[-1]["seq"]), str(items[-1]["seq"]))
        body["next_cursor"] = cursors.encode(position, principal.org_id, listing)
    return JSONResponse(body)


@router.get("/{event_id}/proof", summary="What an auditor needs to check one event against a signed checkpoint")
def event_proof(event_id: str, principal: CurrentPrincipal) -> JSONResponse:
    EventReader.admit(principal)
    event = EventReader().get(principal, event_id)
    proof = Checkpoints(Table()).proof(principal.org_id, event)
    return JSONResponse({**proof, "public_key": public_key_pem()})
