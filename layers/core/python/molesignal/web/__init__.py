"""The HTTP edge shared by every FastAPI function: envelopes, error mapping, dependencies."""
