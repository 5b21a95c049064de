"""Tiers over real HTTP: the tiering job (fired as EventBridge would, its schedule time days
ahead) moves unpinned traces hot → warm → cold in metadata and storage class; the tier
filter; cold reads answer 409; restore brings a trace back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import registry
from molesignal import aws
from molesignal.local.lambda_context import LocalLambdaContext
from molesignal.local.loader import load_handler
from molesignal.local.scheduler import scheduled_event
from molesignal.settings import get_settings
from molesignal.traces.blobs import blob_key
from tests.support.api import Session, assert_core_error, create_org, create_user
from tests.support.traces import ingest, ndjson, scenario_events, sha256, zip_bundle

TIERING = next(s for s in registry.REGISTRY.schedules if s.name == "trace_tiering_worker")


def run_tiering(days_ahead: float) -> dict[str, Any]:
    event = scheduled_event(TIERING, get_settings().aws_region)
    event["time"] = (datetime.now(UTC) + timedelta(days=days_ahead)).strftime("%Y-%m-%dT%H:%M:%SZ")
    context = LocalLambdaContext(function_name="molesignal-trace_tiering_worker", memory_limit_in_mb=512, timeout_s=600)
    return dict(load_handler(TIERING.handler)(event, context))


def storage_class(key: str) -> str:
    head = aws.client("s3").head_object(Bucket=get_settings().resource_name("blobs"), Key=key)
    return str(head.get("StorageClass") or "STANDARD")


def _ids(client: httpx.Client, session: Session, **params: Any) -> list[str]:
    response = client.get("/v1/traces", params=params, headers=session.headers)
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


# The job ages every org's traces: in a deployment of their own, these tests wait for their
# own traces only, not for every trace the test process made before them (300 s, seen).
@pytest.mark.usefixtures("fresh_install")
def test_traces_age_by_tier_pinned_ones_stay_and_cold_ones_restore(client: httpx.Client, root: Session) -> None:
    editor = create_user(client, root, "editor", org_id=create_org(client, root))
    video = b"\x1aE\xdf\xa3" + bytes(range(200))
    bundle = zip_bundle({"events.ndjson": ndjson(scenario_events(fail_at=2)), "video.webm": video})
    ageing = ingest(client, editor.headers, bundle, scenario_slug="tier-me")["trace_id"]
    pinned = ingest(client, editor.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["trace_id"]
    assert client.post(f"/v1/traces/{pinned}/pin", headers=editor.headers).status_code == 200
    video_key = blob_key(editor.org_id, sha256(video))
    assert storage_class(video_key) == "STANDARD"
    assert set(_ids(client, editor, tier="hot")) == {ageing, pinned}

    # 40 days on: warm (Standard-IA), still readable; the pinned trace stays hot
    report = run_tiering(40)
    assert report["moved"]["warm"] >= 1 and report["objects_moved"] >= 1
    assert _ids(client, editor, tier="warm") == [ageing] and _ids(client, editor, tier="hot") == [pinned]
    assert storage_class(video_key) == "STANDARD_IA"
    assert client.get(f"/v1/traces/{ageing}/events?limit=2", headers=editor.headers).status_code == 200

    # 100 days on: cold (Glacier); reads need a restore first
    run_tiering(100)
    assert _ids(client, editor, tier="cold") == [ageing] and _ids(client, editor, tier="hot") == [pinned]
    assert storage_class(video_key) == "GLACIER"
    detail = client.get(f"/v1/traces/{ageing}", headers=editor.headers).json()
    assert detail["tier"] == "cold" and detail["signed_urls"]["video"] is None
    assert_core_error(client.get(f"/v1/traces/{ageing}/events", headers=editor.headers), 409, "trace_cold")
    assert_core_error(client.get(f"/v1/traces/{ageing}/blob/{sha256(video)}", headers=editor.headers), 409)
    assert_core_error(client.get(f"/v1/traces/{ageing}/report.md", headers=editor.headers), 409)

    restoring = client.post(f"/v1/traces/{ageing}/restore", headers=editor.headers)
    assert restoring.status_code == 200, restoring.text
    assert restoring.json() == {"status": "restoring", "eta_seconds": 300}
    assert client.get(f"/v1/traces/{ageing}", headers=editor.headers).json()["restore_status"] == "restoring"
    # the next run sees S3's restored copies and makes the trace hot again, its age counted from then
    finished = run_tiering(100)
    assert finished["restored"] >= 1
    assert set(_ids(client, editor, tier="hot")) == {ageing, pinned}
    assert storage_class(video_key) == "STANDARD"
    events = client.get(f"/v1/traces/{ageing}/events?kind=assertion", headers=editor.headers)
    assert events.status_code == 200 and events.json()["events"][-1]["ok"] is False
    assert client.post(f"/v1/traces/{ageing}/restore", headers=editor.headers).json() == {
        "status": "hot",
        "eta_seconds": 0,
    }


@pytest.mark.usefixtures("fresh_install")
def test_a_warm_trace_restores_at_once(client: httpx.Client, root: Session) -> None:
    editor = create_user(client, root, "editor", org_id=create_org(client, root))
    trace_id = ingest(client, editor.headers, zip_bundle({"events.ndjson": ndjson(scenario_events())}))["trace_id"]
    run_tiering(45)
    assert _ids(client, editor, tier="warm") == [trace_id]
    answer = client.post(f"/v1/traces/{trace_id}/restore", headers=editor.headers)
    assert answer.json() == {"status": "restored", "eta_seconds": 0}
    assert _ids(client, editor, tier="hot") == [trace_id]
    viewer = create_user(client, root, "viewer", org_id=editor.org_id)
    assert_core_error(client.post(f"/v1/traces/{trace_id}/restore", headers=viewer.headers), 403)
