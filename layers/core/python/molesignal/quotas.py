"""Per-org quotas and the shared limiter every route family calls.

Rates use one-second fixed windows counted atomically in DynamoDB (``ADD``), so every
concurrent Lambda instance sees the same count. Storage is checked against a usage
counter that the ingest path maintains. Each rejection writes one audit entry per org,
kind and window (not one per refused request), bumps a platform counter and raises a platform
event that alerting turns into an alert for the org's platform destinations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from molesignal import audit, counters, platform_events
from molesignal.errors import RateLimited, StorageQuotaExceeded
from molesignal.observability import logger
from molesignal.recent import MAX_ENTRIES, RecentReads
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import ConditionFailed, Item, Table


class RateKind(StrEnum):
    INGEST = "ingest"
    QUERY = "query"


@dataclass(frozen=True)
class Quota:
    ingest_qps: int
    query_qps: int
    storage_bytes: int

    def limit(self, kind: RateKind) -> int:
        return self.ingest_qps if kind is RateKind.INGEST else self.query_qps

    def to_dict(self) -> dict[str, int]:
        return {"ingest_qps": self.ingest_qps, "query_qps": self.query_qps, "storage_bytes": self.storage_bytes}


def default_quota() -> Quota:
    s = get_settings()
    return Quota(s.default_ingest_qps, s.default_query_qps, s.default_storage_bytes)


# Quotas as this process last read them, for the per-request checks: a change made by another
# process (root's PUT on the admin function) applies within MOLESIGNAL_WARM_MEMO_S.
_recent_quotas: RecentReads[str, Quota] = RecentReads()


def storage_usage_change(table: Table, org_id: str, delta_bytes: int) -> dict[str, Any]:
    """A transaction operation moving the org's stored bytes in the commit that lands or removes them."""
    pk, sk = keys.usage(org_id)
    return {
        "Update": {
            "TableName": table.name,
            "Key": table.marshal({"pk": pk, "sk": sk}),
            "UpdateExpression": "ADD storage_bytes :b",
            "ExpressionAttributeValues": table.marshal({":b": delta_bytes}),
        }
    }


class _UsageViews:
    """Each org's storage use as this process read it lately, plus the bytes it admitted since.

    The worker adds to the stored use when it lands a batch, seconds after the 202, so the
    check was never exact; a warm ingest function reuses its reading for up to
    ``MOLESIGNAL_WARM_MEMO_S`` while that reading, what it admitted since (raw payload bytes,
    more than they take once stored) and the request still fit under the cap, and reads again
    otherwise. So near the cap every request reads, and a refusal always reflects a fresh read;
    only other instances' admissions in that window can go past the cap unseen.
    """

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, float, int]] = {}  # org: (stored use read, when, admitted since)
        self._lock = threading.Lock()

    def used(self, org_id: str, incoming: int, limit: int, read: Callable[[], int]) -> int:
        now = time.monotonic()
        with self._lock:
            held = self._held.get(org_id)
        if held is not None and now - held[1] < get_settings().warm_memo_s and held[0] + held[2] + incoming <= limit:
            return held[0] + held[2]
        fresh = read()
        with self._lock:
            if len(self._held) >= MAX_ENTRIES:
                self._held.clear()
            self._held[org_id] = (fresh, now, 0)
        return fresh

    def admitted(self, org_id: str, size: int) -> None:
        with self._lock:
            held = self._held.get(org_id)
            if held is not None:
                self._held[org_id] = (held[0], held[1], held[2] + size)


_usage_views = _UsageViews()


@dataclass
class Limiter:
    table: Table

    def recent_quota(self, org_id: str) -> Quota:
        """The org's quota, read at most ``MOLESIGNAL_WARM_MEMO_S`` ago by this process."""
        return _recent_quotas.get(org_id, lambda: self.quota(org_id))

    def quota(self, org_id: str) -> Quota:
        item = self.table.get(*keys.quota(org_id), consistent=False)
        base = default_quota()
        if not item:
            return base
        return Quota(
            ingest_qps=int(item.get("ingest_qps", base.ingest_qps)),
            query_qps=int(item.get("query_qps", base.query_qps)),
            storage_bytes=int(item.get("storage_bytes", base.storage_bytes)),
        )

    def set_quota(self, org_id: str, quota: Quota) -> Quota:
        pk, sk = keys.quota(org_id)
        self.table.put({"pk": pk, "sk": sk, "kind": "quota", **quota.to_dict()})
        _recent_quotas.forget(org_id)
        return quota

    def usage(self, org_id: str) -> dict[str, int]:
        item = self.table.get(*keys.usage(org_id), consistent=False) or {}
        return {"storage_bytes": int(item.get("storage_bytes", 0))}

    def add_storage(self, org_id: str, delta_bytes: int) -> None:
        pk, sk = keys.usage(org_id)
        self.table.update(pk, sk, "ADD storage_bytes :d", values={":d": delta_bytes})

    def check_rate(self, org_id: str, kind: RateKind, *, actor: str = "", now: float | None = None) -> None:
        """Count one request in this second's window; refuse past the org's QPS."""
        moment = time.time() if now is None else now
        window = int(moment)
        pk, sk = keys.rate_window(org_id, kind.value, window)
        item = self.table.update(
            pk, sk, "ADD #n :one SET expires_at = :exp", names={"#n": "n"}, values={":one": 1, ":exp": window + 120}
        )
        limit = self.recent_quota(org_id).limit(kind)
        if int(item["n"]) > limit:
            self._reject(org_id, f"{kind.value}_qps", window, actor, {"limit": limit})
            raise RateLimited(
                f"rate limited: {kind.value} quota of {limit} requests per second exceeded",
                retry_after_s=1,
                code=f"{kind.value}_rate_limited",
            )

    def _storage_in_use(self, org_id: str, incoming_bytes: int) -> tuple[int, int]:
        """(used, limit) as this process sees them for a request of ``incoming_bytes``."""
        limit = self.recent_quota(org_id).storage_bytes
        return _usage_views.used(org_id, incoming_bytes, limit, lambda: self.usage(org_id)["storage_bytes"]), limit

    def fits_storage(self, org_id: str, incoming_bytes: int) -> bool:
        """Would ``incoming_bytes`` fit under the cap? If so they count as admitted by this
        process (the column-wise ingest path asks with an upper bound, and falls back to the
        record path's ``check_storage`` when the answer is no)."""
        used, limit = self._storage_in_use(org_id, incoming_bytes)
        if used + incoming_bytes > limit:
            return False
        _usage_views.admitted(org_id, incoming_bytes)
        return True

    def check_storage(self, org_id: str, incoming_bytes: int, *, actor: str = "") -> None:
        used, limit = self._storage_in_use(org_id, incoming_bytes)
        if used + incoming_bytes > limit:
            self._reject(org_id, "storage", int(time.time()) // 60, actor, {"limit": limit, "used": used})
            raise StorageQuotaExceeded(
                f"quota exhausted: storage cap of {limit} bytes reached ({used} used)", code="storage_quota_exceeded"
            )
        _usage_views.admitted(org_id, incoming_bytes)

    def _reject(self, org_id: str, kind: str, window: int, actor: str, details: dict[str, Any]) -> None:
        marker: Item = {"pk": f"QUOTAHIT#{org_id}#{kind}", "sk": f"W#{window}", "expires_at": window + 3600}
        try:
            self.table.put(marker, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            return  # already audited for this window
        counters.increment(self.table, f"quota_rejections_{kind}_total")
        audit.record(
            self.table,
            org_id=org_id,
            action="quota.exceeded",
            actor=actor,
            target=kind,
            outcome="rejected",
            details=details,
        )
        logger.warning("quota exceeded", extra={"org_id": org_id, "quota": kind, **details})
        # One alert per org, quota and window, like the audit entry (molesignal.alerts.platform).
        platform_events.quota_exceeded(org_id, kind, window, details)
