"""Ingest: decoding, normalising and enqueueing telemetry."""
