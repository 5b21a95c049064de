"""Whether anything watches an org's committed changes: one marker item per org, cached briefly.

Topics (through their sources) and live subscriptions consume committed changes; an org with
neither should pay nothing per commit. The marker ``ORG#<org>#WATCH`` / ``CHANGES`` holds

* ``topics_version``: moved on by every change to the org's topic sources, so a writer's cached
  topic list is read again only when it is out of date;
* ``live_until``: epoch seconds until which a live subscription of the org may exist (the
  expiry of its latest subscription).

A new org's marker is written with its creation (nothing watches it yet). An org older than the
marker has neither attribute: its topic list is read once and recorded, and its live
subscriptions, which never recorded themselves, are assumed to exist until the longest a
subscription lives from the first change that finds the attribute missing.

Writers read it through a per-process cache of ``watch_cache_s`` (1 s). The staleness is closed
on the other side: whoever starts watching (a topic source added, an org's first live
subscription) writes the marker and then waits that long (``settle``) before answering, so every
writer's cached state is younger than the marker once the answer is out, and every change
committed after it is seen. docs/topics.md and docs/live.md state the bound.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from molesignal.settings import get_settings
from molesignal.storage.table import ConditionFailed, Table

_SK = "CHANGES"


def _pk(org_id: str) -> str:
    return f"ORG#{org_id}#WATCH"


@dataclass(frozen=True)
class WatchState:
    topics_version: int | None  # None: never recorded (an org older than the marker): read the topics
    live_until_s: int | None  # 0: never a live subscription; None: never recorded (an org older than the marker)
    read_at: float  # time.monotonic() of the read

    def fresh(self) -> bool:
        """Still within the cache bound: an answer that waited ``settle`` came after this read."""
        return time.monotonic() - self.read_at < get_settings().watch_cache_s


_cache: dict[str, WatchState] = {}
_lock = threading.Lock()


class Watch:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()
        self.requests = 0  # DynamoDB requests this instance made (the benchmarks count them)

    def state(self, org_id: str) -> WatchState:
        with _lock:
            cached = _cache.get(org_id)
        if cached is not None and cached.fresh():
            return cached
        return self.read(org_id)

    def read(self, org_id: str) -> WatchState:
        """The marker as stored now (strongly consistent), cached for the next ``watch_cache_s``."""
        self.requests += 1
        item = self.table.get(_pk(org_id), _SK) or {}
        version = item.get("topics_version")
        live_until = item.get("live_until")
        state = WatchState(
            None if version is None else int(version),
            None if live_until is None else int(live_until),
            time.monotonic(),
        )
        with _lock:
            _cache[org_id] = state
        return state

    def live(self, org_id: str, *, subscription_max_s: int) -> bool:
        """Whether a live subscription of the org may exist now. For an org older than the
        marker, whose subscriptions never recorded themselves, that is "maybe, for as long as
        a subscription made just now could live": recorded, so it is assumed once per org."""
        until = self.state(org_id).live_until_s
        if until is None:
            until = int(time.time()) + subscription_max_s
            self._extend_live_until(org_id, until)
        return until > time.time()

    def _extend_live_until(self, org_id: str, until_s: int) -> None:
        # Refused when another subscription moved it further already.
        self._update_unless_beaten(
            org_id,
            "SET live_until = :until",
            "attribute_not_exists(live_until) OR live_until < :until",
            {":until": until_s},
        )

    def _update_unless_beaten(self, org_id: str, expression: str, condition: str, values: dict[str, Any]) -> None:
        """A conditional change of the marker; a failed condition means another writer got there
        first, which is as good. This process reads the marker afresh either way."""
        with contextlib.suppress(ConditionFailed):
            self.table.update(_pk(org_id), _SK, expression, condition=condition, values=values)
        forget(org_id)

    def record_new_org(self, org_id: str) -> None:
        """A new org: no topic has a source and nobody subscribes, so its writers skip both
        without a first lookup. Kept if a marker is there already (an id used before)."""
        with contextlib.suppress(ConditionFailed):
            self.table.put(
                {"pk": _pk(org_id), "sk": _SK, "topics_version": 0, "live_until": 0},
                condition="attribute_not_exists(pk)",
            )

    def topics_changed(self, org_id: str) -> None:
        """The org's topic sources changed: writers read its topic list again."""
        self.table.update(_pk(org_id), _SK, "ADD topics_version :one", values={":one": 1})
        forget(org_id)

    def record_topics(self, org_id: str, has_sources: bool) -> None:
        """First record of an org's topics (its marker predates them, or never had them): 0 when
        no topic has a source, so its writers skip the topic list from now on."""
        # Refused when a topic change recorded it first.
        self._update_unless_beaten(
            org_id, "SET topics_version = :v", "attribute_not_exists(topics_version)", {":v": 1 if has_sources else 0}
        )

    def live_subscribed(self, org_id: str, until_s: int) -> bool:
        """A subscription of the org may exist until ``until_s``. True when writers may have
        cached that nobody watches (no subscription of the org was alive): the caller must
        ``settle`` before its answer."""
        before = self.read(org_id).live_until_s or 0
        if before < until_s - 600:  # moved on at most every 10 minutes of subscribing
            self._extend_live_until(org_id, until_s)
        return before <= time.time() + get_settings().watch_cache_s + 1


def forget(org_id: str) -> None:
    with _lock:
        _cache.pop(org_id, None)


def settle() -> None:
    """Wait until every writer's cached marker is younger than the write just made."""
    time.sleep(get_settings().watch_cache_s)
