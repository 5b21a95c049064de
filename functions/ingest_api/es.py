"""The Elasticsearch ``_bulk`` surface (index and create into streams named by the index)."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from molesignal.ingest.service import IngestResult

if TYPE_CHECKING:
    from molesignal.ingest.decoders.es_bulk import BulkItem

ELASTIC_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
INFO: dict[str, Any] = {
    "name": "molesignal",
    "cluster_name": "molesignal",
    "cluster_uuid": "molesignal",
    "version": {
        "number": "9.0.0",
        "build_flavor": "default",
        "build_type": "molesignal",
        "lucene_version": "10.0.0",
        "minimum_wire_compatibility_version": "8.18.0",
        "minimum_index_compatibility_version": "8.0.0",
    },
    "tagline": "You Know, for Search",
}


def cat_health() -> list[dict[str, Any]]:
    """``_cat/health`` as one green single-node cluster: MoleSignal has no shards to report."""
    now = time.time()
    return [
        {
            "epoch": str(int(now)),
            "timestamp": time.strftime("%H:%M:%S", time.gmtime(now)),
            "cluster": INFO["cluster_name"],
            "status": "green",
            "node.total": "1",
            "node.data": "1",
            "shards": "0",
            "pri": "0",
            "relo": "0",
            "init": "0",
            "unassign": "0",
            "pending_tasks": "0",
            "max_task_wait_time": "-",
            "active_shards_percent": "100.0%",
        }
    ]


def cat_health_text() -> str:
    return " ".join(cat_health()[0].values()) + "\n"


def new_doc_id() -> str:
    return secrets.token_urlsafe(15)[:20]


def response_media_type(accept: str) -> str:
    # Clients that negotiate compatibility (elasticsearch-py 8/9) get the vendor type back.
    if "compatible-with=" in accept:
        version = accept.split("compatible-with=", 1)[1].split(";", maxsplit=1)[0].split(",", maxsplit=1)[0].strip()
        return f"application/vnd.elasticsearch+json;compatible-with={version}"
    return "application/json"


def bulk_response(items: list[BulkItem], ids: list[str | None], result: IngestResult, started: float) -> dict[str, Any]:
    rejected = result.rejected_indexes()
    out: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        entry: dict[str, Any] = {"_index": item.index, "_id": ids[position]}
        if item.error is not None:
            entry.update(status=item.error.status, error={"type": item.error.type, "reason": item.error.reason})
        elif position in rejected:
            reason = rejected[position]
            # Elasticsearch answers a write to an index the caller may not write with 403.
            status, kind = (
                (403, "security_exception") if reason.code == "reserved_stream" else (400, "document_parsing_exception")
            )
            entry.update(status=status, error={"type": kind, "reason": reason.reason, "code": reason.code})
        else:
            entry.update(
                _version=1,
                result="created",
                _shards={"total": 1, "successful": 1, "failed": 0},
                _seq_no=position,
                _primary_term=1,
                status=201,
            )
        out.append({item.action: entry})
    return {
        "took": int((time.perf_counter() - started) * 1000),
        "errors": any("error" in next(iter(i.values())) for i in out),
        "items": out,
        "request_id": result.request_id,
        "accepted": result.accepted,
        "rejected": len(out) - result.accepted,
    }
