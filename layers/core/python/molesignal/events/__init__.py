"""Audit events (spec 001): intake, the per-org hash chain, reading, exports and verification."""
