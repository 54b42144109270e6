"""Who is calling: the client address behind trusted proxies and the allowlist decision."""

from __future__ import annotations

import pytest

from gateway.addresses import client_address, is_allowed, parse_address, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 2001:db8::/32", "test")
FORTYTWO = parse_networks("80.252.167.60", "test")

# peer, X-Forwarded-For headers, trusted proxies -> the client address believed
CLIENT_CASES = [
    ("80.252.167.60", [], PROXIES, "80.252.167.60"),
    # an untrusted peer's X-Forwarded-For is ignored, whatever it claims
    ("203.0.113.9", ["80.252.167.60"], PROXIES, "203.0.113.9"),
    ("203.0.113.9", ["80.252.167.60"], (), "203.0.113.9"),
    # a trusted proxy: the right-most address that is not a trusted proxy
    ("10.0.0.5", ["80.252.167.60"], PROXIES, "80.252.167.60"),
    ("10.0.0.5", ["80.252.167.60, 10.1.1.1"], PROXIES, "80.252.167.60"),
    ("10.0.0.5", ["80.252.167.60", "10.1.1.1"], PROXIES, "80.252.167.60"),  # two header lines
    # the client put a forged address first: the proxy appended the real one
    ("10.0.0.5", ["80.252.167.60, 203.0.113.9"], PROXIES, "203.0.113.9"),
    # a trusted proxy without X-Forwarded-For, or with only proxies in it
    ("10.0.0.5", [], PROXIES, "10.0.0.5"),
    ("10.0.0.5", ["10.9.9.9"], PROXIES, "10.9.9.9"),
    # garbage stops the walk at the last trusted hop, never becomes the client
    ("10.0.0.5", ["unknown"], PROXIES, "10.0.0.5"),
    ("10.0.0.5", ["80.252.167.60, unknown, 10.1.1.1"], PROXIES, "10.1.1.1"),
    # ports, brackets, IPv6, IPv4-mapped IPv6
    ("10.0.0.5", ["80.252.167.60:4711"], PROXIES, "80.252.167.60"),
    ("10.0.0.5", ["[2001:db9::1]:443"], PROXIES, "2001:db9::1"),
    ("2001:db8::7", ["198.51.100.4"], PROXIES, "198.51.100.4"),
    ("::ffff:10.0.0.5", ["198.51.100.4"], PROXIES, "198.51.100.4"),
    # a peer that is not an IP address (a unix socket) is taken as it is
    ("", ["80.252.167.60"], PROXIES, ""),
]


@pytest.mark.parametrize(("peer", "forwarded_for", "trusted", "expected"), CLIENT_CASES)
def test_client_address(peer: str, forwarded_for: list[str], trusted: tuple, expected: str) -> None:
    assert client_address(peer, forwarded_for, trusted) == expected


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("80.252.167.60", FORTYTWO, True),
        ("80.252.167.61", FORTYTWO, False),
        ("127.0.0.1", FORTYTWO, False),
        ("anything", (), True),  # no allowlist: everyone (credentials still needed)
        ("not-an-address", FORTYTWO, False),
        ("::ffff:80.252.167.60", FORTYTWO, True),
        ("2001:db8::1", FORTYTWO, False),
        ("2001:db8::1", PROXIES, True),
    ],
)
def test_is_allowed(address: str, allowed: tuple, expected: bool) -> None:
    assert is_allowed(address, allowed) is expected


def test_parse_address_refuses_what_is_not_an_address() -> None:
    assert parse_address("1.2.3.4.5") is None
    assert parse_address("") is None
    assert str(parse_address(" 192.0.2.1 ")) == "192.0.2.1"


def test_networks_are_parsed_or_refused_with_the_setting_name() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.0/8,,192.0.2.1 ", "X")] == ["10.0.0.0/8", "192.0.2.1/32"]
    with pytest.raises(ValueError, match=r"CBSP_TRUSTED_PROXIES: '10.0.0.1/8' is not"):
        parse_networks("10.0.0.1/8", "CBSP_TRUSTED_PROXIES")
    with pytest.raises(ValueError, match="'nonsense'"):
        parse_networks("nonsense", "CBSP_EDNA_ALLOWED_IPS")
