"""Layer 2 replays (spec 003): enqueue, list, status, and the org's runner."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from molesignal.clock import iso
from molesignal.traces.replays import Replays, public_replay
from molesignal.traces.service import TraceService
from traces_api.act_routes import public_base
from traces_api.deps import Reader, Writer
from traces_api.schemas import ReplayList, ReplayRequest, ReplayStatus, RunnerConfig, RunnerOut

router = APIRouter(tags=["trace"])


@router.post(
    "/v1/traces/{trace_id}/replay",
    status_code=202,
    response_model=ReplayStatus,
    summary="Queue a replay of the trace from a step, with edits (409 unless the trace is hot)",
)
def replay(trace_id: str, body: ReplayRequest, request: Request, principal: Writer) -> JSONResponse:
    item = Replays(TraceService()).enqueue(
        principal, trace_id, from_step=body.from_step, edits=body.edits.model_dump(), api_base=public_base(request)
    )
    return JSONResponse(ReplayStatus.model_validate(public_replay(item)).model_dump(), status_code=202)


@router.get("/v1/traces/{trace_id}/replays", response_model=ReplayList, summary="The trace's replays, newest first")
def list_replays(trace_id: str, principal: Reader) -> ReplayList:
    items = Replays(TraceService()).list_for_trace(principal, trace_id)
    return ReplayList.model_validate({"items": [public_replay(i) for i in items]})


@router.get("/v1/replays/runner", response_model=RunnerOut, summary="The org's replay runner (admin)")
def get_runner(principal: Reader) -> RunnerOut:
    item = Replays(TraceService()).runner(principal)
    return RunnerOut(url=item["url"], secret=None, updated_at=iso(int(item["updated_at_us"])))


@router.put(
    "/v1/replays/runner",
    response_model=RunnerOut,
    summary="Set the org's replay runner; answers a new signing secret, shown once (admin)",
)
def put_runner(body: RunnerConfig, principal: Writer) -> RunnerOut:
    item, secret = Replays(TraceService()).configure_runner(principal, body.url)
    return RunnerOut(url=item["url"], secret=secret, updated_at=iso(int(item["updated_at_us"])))


@router.get("/v1/replays/{replay_id}", response_model=ReplayStatus, summary="A replay's status")
def get_replay(replay_id: str, principal: Reader) -> ReplayStatus:
    return ReplayStatus.model_validate(public_replay(Replays(TraceService()).get(principal, replay_id)))
