"""Tamper evidence over real HTTP: verify finds the first break after a row in the lake is
modified, deleted or reordered; signed checkpoints and proofs check out offline, and
``python -m molesignal verify-events`` checks an export with its proofs without the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from molesignal.events.offline import check_proof, signature_valid
from tests.support.api import Session
from tests.support.events import drain_events, drain_exports, event, org_admin, rewrite_lake, sign_checkpoints


def chained_org(client: httpx.Client, root: Session, count: int = 6) -> tuple[Session, list[str]]:
    admin = org_admin(client, root)
    batch = [event(f"key.rotate_{i}") for i in range(count)]
    response = client.post("/api/v1/events/batch", json={"events": batch}, headers=admin.headers)
    assert response.status_code == 202
    drain_events()
    return admin, response.json()["ids"]


def verify(client: httpx.Client, admin: Session, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/events/verify", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_untouched_chain_verifies(client: httpx.Client, root: Session) -> None:
    admin, _ = chained_org(client, root)
    client.post("/api/v1/events", json=event("later.one"), headers=admin.headers)
    drain_events()
    report = verify(client, admin)
    assert report["verified"] is True and report["events_checked"] == 7
    assert report["head"]["seq"] == 7 and "first_break" not in report
    assert (
        verify(client, admin, **{"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"})["events_checked"] == 0
    )


def _edit_metadata(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "metadata": '{"plan":"free"}'} if r["seq"] == 2 else r for r in found]


def _swap_actions(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_seq = {r["seq"]: r for r in found}
    by_seq[3]["action"], by_seq[4]["action"] = by_seq[4]["action"], by_seq[3]["action"]
    return found


def _swap_positions(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Reorder whole events, each keeping its own hashes: only the links give it away.
    by_seq = {r["seq"]: r for r in found}
    by_seq[3]["seq"], by_seq[4]["seq"] = 4, 3
    return found


@pytest.mark.parametrize(
    ("tampering", "change", "seq", "reason"),
    [
        (
            "a modified metadata value",
            lambda rs: [{**r, "metadata": '{"plan":"free"}'} if r["seq"] == 2 else r for r in rs],
            2,
            "modified",
        ),
        ("a deleted event", lambda rs: [r for r in rs if r["seq"] != 5], 5, "missing"),
        ("two events' actions swapped", _swap_actions, 3, "modified"),
        ("two events reordered", _swap_positions, 3, None),
        ("a duplicated event", lambda rs: [*rs, dict(rs[0])], None, "duplicate"),
    ],
)
def test_tampering_with_the_lake_is_detected(
    client: httpx.Client, root: Session, tampering: str, change: Any, seq: int | None, reason: str | None
) -> None:
    admin, _ = chained_org(client, root)
    rewrite_lake(admin.org_id, change)
    report = verify(client, admin)
    assert report["verified"] is False, tampering
    if seq is not None:
        assert report["first_break"]["seq"] == seq, (tampering, report)
    if reason is not None:
        assert report["first_break"]["reason"] == reason, (tampering, report)


def test_checkpoints_are_signed_and_proofs_check_offline(client: httpx.Client, root: Session) -> None:
    admin, ids = chained_org(client, root)
    response = client.get(f"/api/v1/events/{ids[1]}/proof", headers=admin.headers)
    assert response.status_code == 409 and response.json()["error"] == "checkpoint_pending"
    sign_checkpoints()
    listing = client.get("/api/v1/events/checkpoints", headers=admin.headers).json()
    assert listing["total"] == 1 and listing["has_more"] is False
    (checkpoint,) = listing["data"]
    assert checkpoint["seq"] == 6 and checkpoint["algorithm"] == "ECDSA_SHA_256"
    assert signature_valid(listing["public_key"], checkpoint)
    assert not signature_valid(listing["public_key"], {**checkpoint, "seq": 5}), "the signature covers the sequence"
    proof = client.get(f"/api/v1/events/{ids[1]}/proof", headers=admin.headers).json()
    assert len(proof["digests"]) == 4
    assert check_proof(proof, listing["public_key"]) == []
    forged = {**proof, "event": {**proof["event"], "action": "key.delete"}}
    assert check_proof(forged, listing["public_key"]) != []


def test_verify_events_command_checks_an_export_and_proofs(client: httpx.Client, root: Session, tmp_path: Path) -> None:
    admin, ids = chained_org(client, root)
    sign_checkpoints()
    created = client.post(
        "/api/v1/exports", json={"format": "ndjson", "gzip": True, "events": {}}, headers=admin.headers
    )
    drain_exports()
    location = client.get(f"/api/v1/exports/{created.json()['id']}/download", headers=admin.headers).headers["location"]
    export_file = tmp_path / "events.ndjson.gz"
    export_file.write_bytes(httpx.get(location).content)
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(client.get(f"/api/v1/events/{ids[0]}/proof", headers=admin.headers).text)
    checkpoints_file = tmp_path / "checkpoints.json"
    checkpoints_file.write_text(client.get("/api/v1/events/checkpoints", headers=admin.headers).text)
    command = [sys.executable, "-m", "molesignal", "verify-events", str(export_file)]
    command += ["--proof", str(proof_file), "--checkpoints", str(checkpoints_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK: 6 events (seq 1..6), 1 proofs checked")
    # An export edited after download fails the check, naming the event.
    import gzip

    lines = gzip.decompress(export_file.read_bytes()).decode().splitlines()
    altered = json.loads(lines[2])
    altered["actor"]["id"] = "someone_else"
    lines[2] = json.dumps(altered)
    (tmp_path / "edited.ndjson").write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "molesignal", "verify-events", str(tmp_path / "edited.ndjson")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "FAIL seq 3" in done.stdout
