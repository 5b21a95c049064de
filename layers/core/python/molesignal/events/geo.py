"""Offline geo enrichment of an event's ``context.location``.

Country and ASN come from geoip2fast's own data file (shipped inside the package, no
download); addresses that are not public — private, loopback, link-local, multicast,
reserved, documentation ranges — are marked by their scope and never looked up. The
result is part of the hashed event, so what was recorded is what verification checks.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from typing import Any

_DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"  # country + ASN, IPv4 and IPv6
_lock = threading.Lock()
_reader: Any = None


def scope(address: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved:
        return "reserved"
    if ip.is_private or not ip.is_global:
        return "private"
    return "public"


def _geoip() -> Any:
    global _reader
    if _reader is None:
        with _lock:
            if _reader is None:
                from geoip2fast import GeoIP2Fast

                _reader = GeoIP2Fast(geoip2fast_data_file=_DATA_FILE, verbose=False)
    return _reader


def lookup(address: str) -> dict[str, Any]:
    found: dict[str, Any] = {"scope": scope(address)}
    if found["scope"] != "public":
        return found
    result = _geoip().lookup(address)
    country = getattr(result, "country_code", "") or ""
    if len(country) == 2 and country.isalpha():
        found["country"] = country
    asn = getattr(result, "asn_name", "") or ""
    if asn:
        found["asn"] = asn
    return found


def enrich(event: Mapping[str, Any]) -> dict[str, Any]:
    return lookup(str(event["context"]["location"]))
