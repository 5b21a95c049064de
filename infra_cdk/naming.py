"""Construct ids from registry and resource names."""

from __future__ import annotations

import re


def pascal(name: str) -> str:
    """``auth_api`` -> ``AuthApi``, ``jwt-signing-key`` -> ``JwtSigningKey``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)
