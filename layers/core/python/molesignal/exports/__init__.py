"""Exports (spec 001): a query's result or a filtered set of audit events, written by the
export worker to the exports bucket and downloaded through a short-lived presigned link."""
