"""A small MaxMind DB (.mmdb, format 2.0) writer for tests: a City-shaped database of a few IPv4
networks, so the city lookup is tested with a real file read by the real reader, without
shipping MaxMind's data (the format is public: https://maxmind.github.io/MaxMind-DB/)."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path
from typing import Any

_METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


def _control(type_number: int, size: int) -> bytes:
    extended = type_number > 7
    first_type = 0 if extended else type_number
    if size < 29:
        head, extra = bytes([first_type << 5 | size]), b""
    elif size < 285:
        head, extra = bytes([first_type << 5 | 29]), bytes([size - 29])
    elif size < 65_821:
        head, extra = bytes([first_type << 5 | 30]), struct.pack(">H", size - 285)
    else:
        head, extra = bytes([first_type << 5 | 31]), struct.pack(">I", size - 65_821)[1:]
    return head + (bytes([type_number - 7]) if extended else b"") + extra


class Uint:
    """An unsigned integer of a given width (the metadata's fields have fixed types)."""

    TYPES = {16: 5, 32: 6, 64: 9}

    def __init__(self, bits: int, value: int) -> None:
        self.type_number, self.value = self.TYPES[bits], value


def encode(value: Any) -> bytes:
    if isinstance(value, Uint):
        raw = value.value.to_bytes((value.value.bit_length() + 7) // 8, "big")
        return _control(value.type_number, len(raw)) + raw
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative integers are not needed here")
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        if value < 2**16:
            return _control(5, len(raw)) + raw
        if value < 2**32:
            return _control(6, len(raw)) + raw
        return _control(9, len(raw)) + raw
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(str(k)) + encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_city_db(path: Path, networks: dict[str, dict[str, Any]]) -> Path:
    """Write an IPv4 database mapping each CIDR in ``networks`` to its record."""
    # The search tree: nodes of [left, right]; an int is a node index, a tuple a data offset.
    data = b""
    nodes: list[list[Any]] = [[None, None]]
    for cidr, record in networks.items():
        offset = len(data)
        data += encode(record)
        network = ipaddress.ip_network(cidr)
        bits = int(network.network_address)
        node = 0
        for depth in range(network.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == network.prefixlen - 1:
                nodes[node][bit] = ("data", offset)
                break
            if not isinstance(nodes[node][bit], int):
                nodes.append([None, None])
                nodes[node][bit] = len(nodes) - 1
            node = nodes[node][bit]
    count = len(nodes)

    def record_value(entry: Any) -> int:
        if entry is None:
            return count  # no data
        if isinstance(entry, int):
            return entry
        return count + 16 + int(entry[1])

    tree = b"".join(
        record_value(left).to_bytes(3, "big") + record_value(right).to_bytes(3, "big") for left, right in nodes
    )
    metadata = {
        "binary_format_major_version": Uint(16, 2),
        "binary_format_minor_version": Uint(16, 0),
        "build_epoch": Uint(64, 1_700_000_000),
        "database_type": "GeoLite2-City",
        "description": {"en": "MoleSignal test city database"},
        "ip_version": Uint(16, 4),
        "languages": ["en"],
        "node_count": Uint(32, count),
        "record_size": Uint(16, 24),
    }
    path.write_bytes(tree + b"\x00" * 16 + data + _METADATA_MARKER + encode(metadata))
    return path
