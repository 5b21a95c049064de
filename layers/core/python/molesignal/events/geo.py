"""Offline geo enrichment of an event's ``context.location``.

Country and ASN come from geoip2fast's own data file (shipped inside the package, no
download); addresses that are not public — private, loopback, link-local, multicast,
reserved, documentation ranges — are marked by their scope and never looked up. The
result is part of the hashed event, so what was recorded is what verification checks.

City-level fields (``city``, ``region``, ``postal_code``, ``latitude``, ``longitude``,
``time_zone``) come from a MaxMind City database (GeoIP2 or GeoLite2 City, ``.mmdb``) when
the operator supplies one (``MOLESIGNAL_GEOIP_CITY_DB``: its path; MaxMind's licence does not
let MoleSignal ship it). A database that cannot be opened is logged once and skipped: the
chain keeps moving with country and ASN only.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from typing import Any

from molesignal.observability import logger
from molesignal.settings import get_settings

_DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"  # country + ASN, IPv4 and IPv6
_lock = threading.Lock()
_reader: Any = None
_city_readers: dict[str, Any] = {}  # path -> reader, or None when it could not be opened


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


def _city_reader(path: str) -> Any:
    if path not in _city_readers:
        with _lock:
            if path not in _city_readers:
                import maxminddb

                try:
                    _city_readers[path] = maxminddb.open_database(path)
                except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                    logger.error("the city geo database cannot be opened", extra={"path": path, "error": str(exc)})
                    _city_readers[path] = None
    return _city_readers[path]


def _english(node: Any) -> str | None:
    names = node.get("names") if isinstance(node, dict) else None
    name = names.get("en") if isinstance(names, dict) else None
    return name if isinstance(name, str) and name else None


def city_fields(record: Any) -> dict[str, Any]:
    """The city-level fields of a GeoIP2/GeoLite2 City record that it has."""
    if not isinstance(record, dict):
        return {}
    found: dict[str, Any] = {}
    city = _english(record.get("city"))
    if city:
        found["city"] = city
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        region = subdivisions[0].get("iso_code") or _english(subdivisions[0])
        if isinstance(region, str) and region:
            found["region"] = region
    postal = record.get("postal")
    if isinstance(postal, dict) and isinstance(postal.get("code"), str):
        found["postal_code"] = postal["code"]
    location = record.get("location")
    if isinstance(location, dict):
        for name in ("latitude", "longitude"):
            if isinstance(location.get(name), int | float) and not isinstance(location.get(name), bool):
                found[name] = float(location[name])
        if isinstance(location.get("time_zone"), str):
            found["time_zone"] = location["time_zone"]
    country = record.get("country")
    iso = country.get("iso_code") if isinstance(country, dict) else None
    if isinstance(iso, str) and len(iso) == 2:
        found["city_country"] = iso  # used only when geoip2fast has no country
    return found


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
    path = get_settings().geoip_city_db
    reader = _city_reader(path) if path else None
    if reader is not None:
        try:
            record = reader.get(address)
        except ValueError:  # an IPv6 address in an IPv4-only database
            record = None
        extra = city_fields(record)
        fallback_country = extra.pop("city_country", None)
        if "country" not in found and fallback_country:
            found["country"] = fallback_country
        found.update(extra)
    return found


def enrich(event: Mapping[str, Any]) -> dict[str, Any]:
    return lookup(str(event["context"]["location"]))
