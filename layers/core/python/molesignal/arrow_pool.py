"""The allocator pyarrow uses in MoleSignal's processes: jemalloc, not pyarrow's default
(mimalloc on Linux wheels).

Measured end to end on `make dev` (docs/performance.md, 2026-12-07): with mimalloc the ingest
worker spent 8-9 ms of kernel time per MiB landed and the main process 5-6 (pages given back
and faulted in again for every batch's Parquet encoding and every body's Arrow read); with
jemalloc 3 and 2, and the whole path ran ~10 % faster. pyarrow reads the variable when it first
allocates, so the deployed functions get it in their environment (infra_cdk) and the local
system sets it for itself and its children before anything allocates; an operator's own value
is kept. The query engine processes choose the system allocator themselves (they run under an
address-space limit, which jemalloc's up-front reservation would count against).
"""

from __future__ import annotations

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
POOL = "jemalloc"


def environment() -> dict[str, str]:
    return {POOL_VARIABLE: POOL}
