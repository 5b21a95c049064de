"""JSON as orjson reads it, except that integers beyond 64 bits keep every digit.

orjson reads an integer literal outside [-2**63, 2**64 - 1] as a float, so 2**70 would be
stored as ``1.1805916207174113e+21``. Only a literal of at least 20 digits (19 after a minus)
can be one, so bodies without such a run of digits — nearly all — are parsed once, by orjson.
A body with one is parsed again by the standard library, which reads integers exactly; it
only runs on text orjson has already accepted, so both agree on what is valid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_MAYBE_WIDE_INTEGER = re.compile(rb"\d{20}|-\d{19}")
# The regex above tries every position of the text (60 ms per MiB of NDJSON); mapping every
# digit to "0" and looking for a run of 19 is two C loops (under 2 ms per MiB), and text
# without such a run cannot hold a wide integer, so the regex only runs on the rare rest.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def may_hold_wide_integer(data: bytes) -> bool:
    """Whether ``_MAYBE_WIDE_INTEGER`` matches somewhere in the text: a run of 20 digits, or
    of 19 after a minus. Hexadecimal ids hold such runs now and then, so each run is looked at
    where it is rather than by the regex over the whole text."""
    digits = data.translate(_DIGITS_AS_ZERO)
    at = digits.find(_NINETEEN_DIGITS)
    while at != -1:  # a run starts at ``at``: an earlier start would have been found first
        if digits[at + 19 : at + 20] == b"0" or data[at - 1 : at] == b"-":
            return True
        at = digits.find(_NINETEEN_DIGITS, at + 20)  # the run is 19 digits: at + 19 is not one
    return False


def loads(data: bytes) -> Any:
    """Raises ``orjson.JSONDecodeError`` (a ValueError) for text that is not JSON."""
    value = orjson.loads(data)
    if not may_hold_wide_integer(data):
        return value
    try:
        return json.loads(data)
    except RecursionError:  # orjson reads 1024 levels, the standard library fewer
        raise orjson.JSONDecodeError("nested too deeply to read its numbers exactly", "", 0) from None
