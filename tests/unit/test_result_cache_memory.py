"""The result cache's in-memory copies are bounded by bytes as well as by count."""

from __future__ import annotations

from typing import Any

from molesignal.query import cache
from molesignal.query.cache import ResultCache


class NoTable:
    """DynamoDB is not what this test is about."""

    def put(self, item: dict[str, Any]) -> None:
        pass

    def get(self, pk: str, sk: str, *, consistent: bool = True) -> None:
        return None


def test_large_answers_evict_the_oldest_within_the_byte_budget() -> None:
    ResultCache.forget_all()
    results = ResultCache(NoTable(), ttl_s=60)  # type: ignore[arg-type]
    answer = {"rows": [["x" * 1000] for _ in range(1024)]}  # about 1 MiB as JSON
    count = cache.MAX_MEMORY_BYTES // (1024 * 1024) * 2
    for i in range(count):
        results.put("org", f"k{i}", answer)
    assert ResultCache._memory_bytes <= cache.MAX_MEMORY_BYTES
    assert ResultCache._memory_bytes == sum(len(blob) for _, blob in ResultCache._memory.values())
    assert results.get("org", f"k{count - 1}") == answer  # the newest are kept
    assert results.get("org", "k0") is None  # the oldest went first
    results.put("org", f"k{count - 1}", {"rows": []})  # replacing an entry releases its bytes
    assert ResultCache._memory_bytes == sum(len(blob) for _, blob in ResultCache._memory.values())
    ResultCache.forget_all()
    assert ResultCache._memory_bytes == 0 and not ResultCache._memory
