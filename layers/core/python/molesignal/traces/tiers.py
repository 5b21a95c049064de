"""Hot, warm and cold traces: the tiering job and restores.

A trace is hot for ``warm_after_days`` after it was created (or last restored), then warm
(S3 Standard-IA: still readable), then cold after ``cold_after_days`` (S3 Glacier Flexible
Retrieval: its objects must be restored before they can be read). Pinned traces never age.

On AWS the bucket's lifecycle rules move the objects; the emulator stores those rules but
never applies them. The job therefore does what the rules do — an object tagged for
automatic tiering whose age has passed a threshold is rewritten in the colder class — and
keeps each trace's ``tier`` in its metadata, which is what listing filters on. On AWS the
rules have usually moved the objects already and the job only records the tier.

A restore copies a warm trace's objects back to Standard at once; a cold trace's objects
get an S3 restore request (Expedited), and the job finishes the restore when S3 says the
copies are readable: the objects are rewritten in Standard and the trace is hot again, its
age counted from then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from molesignal.auth.principal import Principal
from molesignal.clock import now_us
from molesignal.settings import get_settings
from molesignal.storage import keys
from molesignal.storage.table import Item
from molesignal.traces.blobs import HOT_CLASSES, TIER_CLASSES, blob_key
from molesignal.traces.service import WRITE_ROLES, TraceService

DAY_US = 86_400_000_000
_RANK = {"hot": 0, "warm": 1, "cold": 2}


def tier_for_age(age_us: int, *, warm_after_days: int, cold_after_days: int) -> str:
    if age_us >= cold_after_days * DAY_US:
        return "cold"
    if age_us >= warm_after_days * DAY_US:
        return "warm"
    return "hot"


@dataclass
class TierReport:
    moved: dict[str, int] = field(default_factory=lambda: {"warm": 0, "cold": 0})
    objects_moved: int = 0
    restored: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "objects_moved": self.objects_moved, "restored": self.restored}


@dataclass
class Tiers:
    service: TraceService = field(default_factory=TraceService)

    @property
    def tiering(self) -> Any:
        return self.service.blobs.tiering

    def object_keys(self, item: Item) -> list[str]:
        keys_ = [blob_key(item["org_id"], sha) for sha in item.get("blobs") or {}]
        keys_ += [c["key"] for c in self.service.log.chunks(f"TRACE#{item['trace_id']}")]
        return keys_

    # --- the scheduled job -------------------------------------------------------------
    def run(self, now: int | None = None) -> TierReport:
        moment = now_us() if now is None else now
        report = TierReport()
        for org_id in self._orgs():
            for item in self._ageing(org_id, moment):
                target = tier_for_age(
                    moment - int(item.get("tier_clock_us") or item["created_at_us"]),
                    warm_after_days=self.tiering.warm_after_days,
                    cold_after_days=self.tiering.cold_after_days,
                )
                full = self.service.repo.get(item["trace_id"])
                if full is not None and _RANK[target] > _RANK[str(full.get("tier", "hot"))]:
                    report.objects_moved += self._age_objects(full, moment)
                    self.service.repo.update(item["trace_id"], lambda cur, t=target: _retier(cur, t))
                    report.moved[target] += 1
            for listing in self.service.repo.listing(org_id, "tier", "cold", before_us=moment):
                if listing.get("restore_status") == "restoring" and self._finish_restore(listing["trace_id"], moment):
                    report.restored += 1
        return report

    def _orgs(self) -> Iterator[str]:
        for org in self.service.table.query_all(keys.org_listing(), index="gsi1"):
            yield str(org["org_id"])

    def _ageing(self, org_id: str, moment: int) -> Iterator[Item]:
        """Listing items of unpinned hot and warm traces old enough to move (by creation;
        a restored trace's later clock is checked by the caller)."""
        cutoff = moment - self.tiering.warm_after_days * DAY_US
        for tier in ("hot", "warm"):
            for listing in self.service.repo.listing(org_id, "tier", tier, before_us=cutoff):
                if not listing.get("pinned"):
                    yield listing

    def _age_objects(self, item: Item, moment: int) -> int:
        """What the lifecycle rules do to this trace's objects: each tagged for automatic
        tiering moves to the class its own age calls for."""
        blobs = self.service.blobs
        moved = 0
        for key in self.object_keys(item):
            head = blobs.s3.head_object(Bucket=blobs.bucket, Key=key)
            modified = head["LastModified"]
            age = moment - int(modified.timestamp() * 1e6) if isinstance(modified, datetime) else 0
            wanted = TIER_CLASSES[
                tier_for_age(
                    age, warm_after_days=self.tiering.warm_after_days, cold_after_days=self.tiering.cold_after_days
                )
            ]
            if _class_rank(wanted) <= _class_rank(str(head.get("StorageClass") or "STANDARD")):
                continue  # already there (another trace listing the same blob moved it)
            tags = blobs.s3.get_object_tagging(Bucket=blobs.bucket, Key=key)["TagSet"]
            if {"Key": self.tiering.tag_key, "Value": self.tiering.tag_auto} not in tags:
                continue  # pinned by some trace
            blobs.change_class(key, wanted)
            moved += 1
        return moved

    # --- restores -----------------------------------------------------------------------
    def restore(self, principal: Principal, trace_id: str) -> tuple[str, int]:
        item = self.service.trace(principal, trace_id, WRITE_ROLES)
        tier = item.get("tier")
        if tier == "hot":
            return "hot", 0
        blobs = self.service.blobs
        settings = get_settings()
        classes = {key: blobs.storage_class(key) for key in self.object_keys(item)}
        # A warm trace may list a blob another, older trace took to Glacier: that needs S3's restore.
        if tier == "warm" and "GLACIER" not in classes.values():
            for key, storage_class in classes.items():
                if storage_class not in HOT_CLASSES:
                    blobs.change_class(key, "STANDARD")
            self.service.repo.update(trace_id, lambda cur: {**_retier(cur, "hot"), "tier_clock_us": now_us()})
            return "restored", 0
        if item.get("restore_status") != "restoring":
            for key, storage_class in classes.items():
                if storage_class == "GLACIER":
                    blobs.request_restore(key, settings.trace_restore_days)
            self.service.repo.update(
                trace_id, lambda _: {"restore_status": "restoring", "restore_requested_at_us": now_us()}
            )
        return "restoring", settings.trace_restore_eta_s

    def _finish_restore(self, trace_id: str, moment: int) -> bool:
        item = self.service.repo.get(trace_id)
        if item is None:
            return False
        blobs = self.service.blobs
        keys_ = self.object_keys(item)
        if not all(blobs.restore_done(key) for key in keys_):
            return False
        for key in keys_:
            if blobs.storage_class(key) not in HOT_CLASSES:
                blobs.change_class(key, "STANDARD")
        self.service.repo.update(
            trace_id,
            lambda cur: {**_retier(cur, "hot"), "tier_clock_us": moment, "restore_status": None},
        )
        return True


def _class_rank(storage_class: str) -> int:
    return {"STANDARD": 0, "STANDARD_IA": 1, "GLACIER": 2}.get(storage_class, 0)


def _retier(current: Item, tier: str) -> dict[str, Any]:
    return {"tier": tier} if current.get("tier") != tier else {}
