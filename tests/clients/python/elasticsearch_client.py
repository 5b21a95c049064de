"""Drives whichever elasticsearch-py is first on PYTHONPATH (7.17, 8.x or 9.x) against
MoleSignal, configured with only a URL and a credential: info(), ping(), helpers.bulk.
Prints one JSON line of results.

    python elasticsearch_client.py <base url> <basic|apikey|apikey-pair|bearer> <token> <index> <count>
"""

from __future__ import annotations

import json
import sys

import elasticsearch
from elasticsearch import Elasticsearch, helpers


def client(url: str, scheme: str, token: str) -> Elasticsearch:
    major = elasticsearch.VERSION[0]
    if scheme == "basic":
        return (
            Elasticsearch(url, http_auth=("molesignal", token))
            if major < 8
            else Elasticsearch(url, basic_auth=("molesignal", token))
        )
    if scheme == "apikey":
        return Elasticsearch(url, api_key=token)
    if scheme == "apikey-pair":  # (id, key): the client sends base64("id:key"), as Beats do
        return Elasticsearch(url, api_key=("molesignal", token))
    if scheme == "bearer":
        return Elasticsearch(url, bearer_auth=token)
    raise SystemExit(f"unknown scheme {scheme}")


def main() -> None:
    url, scheme, token, index, count = sys.argv[1:]
    es = client(url, scheme, token)
    info = es.info()
    ping = es.ping()
    actions = [{"_index": index, "_source": {"n": n, "msg": f"py doc {n}"}} for n in range(int(count))]
    succeeded, errors = helpers.bulk(es, actions, chunk_size=10)
    result = {
        "client": elasticsearch.__versionstr__,
        "version": info["version"]["number"],
        "ping": ping,
        "succeeded": succeeded,
        "errors": errors,
    }
    print(json.dumps(result))  # noqa: T201 - the test reads this line


if __name__ == "__main__":
    main()
