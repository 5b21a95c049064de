"""The vocabulary of the trace family: statuses, sources, tiers, artifact roles, event kinds."""

from __future__ import annotations

import re
import uuid

STATUSES = ("queued", "running", "passed", "failed", "error", "aborted")
FINISHED = frozenset({"passed", "failed", "error", "aborted"})
SOURCES = ("pr", "schedule", "manual", "shadow_diff")
TIERS = ("hot", "warm", "cold")
# The artifacts a trace detail signs URLs for (spec 003's signed_urls keys).
ARTIFACT_ROLES = ("ndjson", "video", "playwright", "rrweb", "summary", "report")
# Event kinds MoleSignal itself reads (report, diff, viewer); producers may send others.
STEP_KINDS = frozenset({"step", "assertion"})
NETWORK_KINDS = frozenset({"network.request", "network.response"})

SHA256 = re.compile(r"^[0-9a-f]{64}$")
TRACE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
# Scenario ids are derived, not stored: the same org and slug always name the same scenario.
_SCENARIO_NAMESPACE = uuid.UUID("6f3c2a70-4d5e-5b8f-9a61-2c7d8e9f0a1b")


def scenario_id(org_id: str, slug: str) -> str:
    return str(uuid.uuid5(_SCENARIO_NAMESPACE, f"{org_id}/{slug}"))


def is_trace_id(value: str) -> bool:
    return bool(TRACE_ID.match(value))
