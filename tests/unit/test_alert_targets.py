"""Which destination URLs and addresses alert delivery may reach, and the webhook signature."""

from __future__ import annotations

import ipaddress

import pytest

from molesignal.alerts.senders import signature
from molesignal.alerts.targets import TargetRefused, address_problem, parse_target
from tests.support.receivers import verify_signature


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fd00:ec2::254", "fe80::1", "0.0.0.0", "224.0.0.1", "::ffff:169.254.169.254"],  # noqa: S104
)
def test_link_local_metadata_and_odd_addresses_are_never_allowed(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address), allow_private=True) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "::1", "fc00::1"]
)
def test_private_addresses_depend_on_the_setting(address: str) -> None:
    parsed = ipaddress.ip_address(address)
    assert address_problem(parsed, allow_private=True) is None
    assert address_problem(parsed, allow_private=False) is not None


def test_public_addresses_are_allowed() -> None:
    assert address_problem(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None


def test_urls_are_shown_without_query_and_http_needs_private_targets() -> None:
    target = parse_target("https://hooks.example.com:8443/a/b?token=x", allow_private=False)
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/a/b?token=x")
    assert target.display == "https://hooks.example.com:8443/a/b"
    with pytest.raises(TargetRefused):
        parse_target("http://hooks.example.com/a", allow_private=False)
    with pytest.raises(TargetRefused):
        parse_target("https://metadata.google.internal/x", allow_private=False)
    assert parse_target("http://127.0.0.1:9/x", allow_private=True).port == 9


def test_the_signature_is_what_a_receiver_checks() -> None:
    body = b'{"status":"firing"}'
    header = signature("s3cret-s3cret-s3cret", 1_800_000_000, body)
    assert header.startswith("t=1800000000,v1=")
    assert verify_signature("s3cret-s3cret-s3cret", header, body, now=1_800_000_010)
    assert not verify_signature("s3cret-s3cret-s3cret", header, body + b" ", now=1_800_000_010)
    assert not verify_signature("another-secret-entirely", header, body, now=1_800_000_010)
    assert not verify_signature("s3cret-s3cret-s3cret", header, body, now=1_800_001_000)  # a replay, much later
