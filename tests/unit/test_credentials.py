"""Which credential an Authorization header carries (molesignal.auth.credentials)."""

from __future__ import annotations

import base64

import pytest

from molesignal.auth.credentials import credential_from_header
from molesignal.errors import Unauthorized

TOKEN = "ms_abcdefghij_" + "A" * 40


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "basic_allowed"),
    [
        (f"Bearer {TOKEN}", False),
        (f"bearer   {TOKEN} ", False),
        (f"ApiKey {TOKEN}", False),
        (f"ApiKey {b64('beats-id:' + TOKEN)}", False),
        (f"Basic {b64('anyone:' + TOKEN)}", True),
        (f"Basic {b64(':' + TOKEN)}", True),
    ],
)
def test_the_token_is_found_in_each_scheme(header: str, basic_allowed: bool) -> None:
    assert credential_from_header(header, basic_allowed=basic_allowed) == TOKEN


def test_mtk_tokens_are_tokens_too() -> None:
    mtk = "mtk_abcdefghij_" + "B" * 40
    assert credential_from_header(f"Basic {b64('org:' + mtk)}", basic_allowed=True) == mtk


@pytest.mark.parametrize(
    ("header", "basic_allowed", "code"),
    [
        (None, True, "missing_token"),
        ("   ", True, "missing_token"),
        (f"Basic {b64('u:' + TOKEN)}", False, "invalid_scheme"),  # not an ingest route
        (f"Basic {b64('admin:AdminPass123!')}", True, "invalid_token"),  # a login password
        ("Basic not-base64!", True, "invalid_token"),
        (f"Basic {b64(TOKEN)}", True, "invalid_token"),  # no colon
        ("ApiKey somethingelse", False, "invalid_token"),
        ("Bearer", False, "invalid_scheme"),
        (f"Token {TOKEN}", True, "invalid_scheme"),
    ],
)
def test_refusals(header: str | None, basic_allowed: bool, code: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        credential_from_header(header, basic_allowed=basic_allowed)
    assert refused.value.code == code
