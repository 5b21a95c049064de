"""Test-run trace bundles (spec 003): ingest, storage, reads, shares, tiers, reports, diffs, replays."""
