"""``python -m molesignal verify-events``: check an export and proofs without the server.

    python -m molesignal verify-events export.ndjson.gz [--proof proof.json ...]
        [--checkpoints checkpoints.json] [--public-key key.pem]

* every event in the export must hash to its ``hash`` (RFC 8785 digest linked onto its
  ``prev_hash``), and consecutive sequence numbers must link;
* each proof (the body of ``GET /api/v1/events/{id}/proof``) must fold from its event to its
  checkpoint's hash, and the checkpoint's signature must verify;
* each checkpoint (the ``data`` of ``GET /api/v1/events/checkpoints``) within the export's
  range must sign the export's hash at that sequence number.

A ``--public-key`` pins the key; otherwise the one the proofs or checkpoints carry is used.
Exit status 0 when everything holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from molesignal.events import canonical
from molesignal.events.checkpoints import signed_payload


def _format_of(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    for fmt in ("ndjson", "csv", "parquet"):
        if name.endswith("." + fmt) or name.endswith(".jsonl" if fmt == "ndjson" else "." + fmt):
            return fmt
    return "ndjson"


def signature_valid(public_key_pem: str, checkpoint: dict[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    payload = signed_payload(checkpoint["org_id"], int(checkpoint["seq"]), checkpoint["hash"], checkpoint["signed_at"])
    try:
        key.verify(base64.b64decode(checkpoint["signature"]), payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def check_events(events: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    previous: dict[str, Any] | None = None
    for event in sorted(events, key=lambda e: int(e["seq"])):
        recomputed = canonical.link(event["prev_hash"], canonical.digest(event))
        if recomputed != event["hash"]:
            problems.append(f"seq {event['seq']} ({event['id']}): content does not hash to its hash")
        if previous is not None:
            if int(event["seq"]) == int(previous["seq"]):
                problems.append(f"seq {event['seq']}: appears twice")
            elif int(event["seq"]) == int(previous["seq"]) + 1 and event["prev_hash"] != previous["hash"]:
                problems.append(f"seq {event['seq']}: does not link to seq {previous['seq']}")
        previous = event
    return problems


def check_proof(proof: dict[str, Any], pinned_key: str | None) -> list[str]:
    event, checkpoint = proof["event"], proof["checkpoint"]
    start = canonical.link(event["prev_hash"], canonical.digest(event))
    problems = []
    if start != event["hash"]:
        problems.append(f"proof for {event['id']}: the event does not hash to its hash")
    if int(checkpoint["seq"]) - int(event["seq"]) != len(proof["digests"]):
        problems.append(f"proof for {event['id']}: wrong number of digests")
    elif canonical.fold(start, proof["digests"]) != checkpoint["hash"]:
        problems.append(f"proof for {event['id']}: does not reach checkpoint {checkpoint['seq']}")
    if not signature_valid(pinned_key or proof["public_key"], checkpoint):
        problems.append(f"proof for {event['id']}: checkpoint {checkpoint['seq']} signature is invalid")
    return problems


def check_checkpoints(events: list[dict[str, Any]], checkpoints: list[dict[str, Any]], key: str | None) -> list[str]:
    by_seq = {int(e["seq"]): e for e in events}
    problems = []
    for checkpoint in checkpoints:
        event = by_seq.get(int(checkpoint["seq"]))
        if event is None:
            continue
        if event["hash"] != checkpoint["hash"]:
            problems.append(f"checkpoint {checkpoint['seq']}: the export's hash differs from the signed one")
        if key is None or not signature_valid(key, checkpoint):
            problems.append(f"checkpoint {checkpoint['seq']}: signature is invalid (or no public key)")
    return problems


def main(argv: Sequence[str]) -> int:
    from molesignal.exports.formats import read_events

    parser = argparse.ArgumentParser(prog="python -m molesignal verify-events", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="an events export: NDJSON, CSV or Parquet, optionally gzip")
    parser.add_argument("--format", choices=("ndjson", "csv", "parquet"), help="default: from the file name")
    parser.add_argument("--proof", type=Path, action="append", default=[], help="a proof JSON (repeatable)")
    parser.add_argument("--checkpoints", type=Path, help="GET /api/v1/events/checkpoints output")
    parser.add_argument("--public-key", type=Path, help="PEM of the signing key to pin")
    args = parser.parse_args(list(argv))
    events = read_events(args.export.read_bytes(), args.format or _format_of(args.export))
    pinned = args.public_key.read_text() if args.public_key else None
    problems = check_events(events)
    for path in args.proof:
        problems += check_proof(json.loads(path.read_text()), pinned)
    if args.checkpoints:
        listing = json.loads(args.checkpoints.read_text())
        key = pinned or listing.get("public_key")
        problems += check_checkpoints(events, list(listing.get("data", [])), key)
    out = sys.stdout
    seqs = [int(e["seq"]) for e in events]
    span = f"seq {min(seqs)}..{max(seqs)}" if seqs else "no events"
    for problem in problems:
        out.write(f"FAIL {problem}\n")
    verdict = "OK" if not problems else "BROKEN"
    out.write(f"{verdict}: {len(events)} events ({span}), {len(args.proof)} proofs checked\n")
    return 0 if not problems else 1
