"""Plan rate limits (spec 001): requests per minute per org on the events family.

Free 60, Starter 300, Pro 1,000; Enterprise takes the org's own number. Windows are fixed
minutes counted atomically in DynamoDB (``ADD``), so every Lambda instance sees one count;
they sit beside the per-second ingest and query quotas, which still apply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from molesignal.errors import Invalid, NotFound
from molesignal.recent import forget_org
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Table

WINDOW_S = 60
MEMO_S = 5.0


class Plan(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    ENTERPRISE = "enterprise"


PER_MINUTE = {Plan.FREE: 60, Plan.STARTER: 300, Plan.PRO: 1000}
_memo: dict[str, tuple[tuple[Plan, int], float]] = {}


@dataclass(frozen=True)
class Verdict:
    limit: int
    remaining: int
    reset_s: int  # seconds until the window (and the count) starts again
    allowed: bool

    def headers(self) -> dict[str, str]:
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.reset_s)
        return out


def rate_of(plan: Plan, custom: int | None) -> int:
    if plan is Plan.ENTERPRISE:
        return custom or get_settings().enterprise_requests_per_minute
    return PER_MINUTE[plan]


@dataclass
class Plans:
    table: Table

    def get(self, org_id: str) -> tuple[Plan, int]:
        item = self.table.get(*keys.org(org_id), consistent=False) or {}
        plan = Plan(str(item.get("plan") or get_settings().default_plan))
        custom = item.get("plan_requests_per_minute")
        return plan, rate_of(plan, int(custom) if custom else None)

    def recent(self, org_id: str) -> tuple[Plan, int]:
        held = _memo.get(org_id)
        now = time.monotonic()
        if held is not None and now - held[1] < MEMO_S:
            return held[0]
        found = self.get(org_id)
        if len(_memo) > 4096:
            _memo.clear()
        _memo[org_id] = (found, now)
        return found

    def set(self, org_id: str, plan: Plan, requests_per_minute: int | None) -> tuple[Plan, int]:
        if requests_per_minute is not None and plan is not Plan.ENTERPRISE:
            raise Invalid("invalid argument: requests_per_minute is set only for the enterprise plan")
        pk, sk = keys.org(org_id)
        if not self.table.get(pk, sk):
            raise NotFound(f"not found: org {org_id!r}")
        self.table.update(
            pk,
            sk,
            "SET #plan = :plan, plan_requests_per_minute = :rpm",
            names={"#plan": "plan"},
            values={":plan": plan.value, ":rpm": requests_per_minute or 0},
        )
        _memo.pop(org_id, None)
        forget_org(org_id)
        return plan, rate_of(plan, requests_per_minute)

    def count(self, org_id: str, *, now: float | None = None) -> Verdict:
        """Count one request in this minute's window."""
        moment = time.time() if now is None else now
        window = int(moment) // WINDOW_S
        pk, sk = keys.rate_window(org_id, "plan", window)
        item = self.table.update(
            pk,
            sk,
            "ADD #n :one SET expires_at = :exp",
            names={"#n": "n"},
            values={":one": 1, ":exp": (window + 2) * WINDOW_S},
        )
        _, limit = self.recent(org_id)
        used = int(item["n"])
        reset = max(1, (window + 1) * WINDOW_S - int(moment))
        return Verdict(limit=limit, remaining=max(0, limit - used), reset_s=reset, allowed=used <= limit)
