"""The OTLP/HTTP receiver's domain: decode export requests, flatten them into rows, split content.

* :mod:`molesignal.otlp.decode` — request bodies (protobuf or OTLP/JSON, gzip/deflate) into
  the official ``Export*ServiceRequest`` messages (opentelemetry-proto).
* :mod:`molesignal.otlp.flatten` — those messages into flat rows for the ``otel_logs``,
  ``otel_metrics`` and ``otel_spans`` streams, skipping (and counting) malformed records.
* :mod:`molesignal.otlp.content` — the content contract: content-bearing columns split out
  of each row and sealed with AES-256-GCM under per-org KMS data keys.

Nothing here imports protobuf or opentelemetry at import time; only ``decode`` loads them,
when it decodes.
"""
