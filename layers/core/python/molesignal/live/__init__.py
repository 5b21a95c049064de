"""Live queries over WebSocket (``GET /v1/ws``, docs/live.md, ADR 0021)."""
