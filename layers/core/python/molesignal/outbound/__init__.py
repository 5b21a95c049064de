"""Connections MoleSignal opens to addresses tenants name: the URL policy (SSRF), the one HTTP
client that honours it, HMAC request signing, and KMS-sealed destination secrets."""
