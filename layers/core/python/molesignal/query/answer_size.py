"""How large an answer is as the function's response carries it.

A Lambda function's response is one JSON document holding the body as a string (Python 3.12
runtimes write non-ASCII characters as they are), and it may be at most 6 MB. So a body
costs its own bytes plus one for each character the response's JSON escapes: every quote
and backslash, and every newline of an NDJSON answer. A JSON answer is mostly quotes:
counting them is what keeps a 5 MiB cap under the 6 MB limit.
"""

from __future__ import annotations


def response_bytes(body: bytes) -> int:
    return len(body) + body.count(b'"') + body.count(b"\\") + body.count(b"\n")
