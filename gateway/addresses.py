"""Who is calling: the client address behind trusted proxies, and source IP allowlists.

Pure functions over strings and networks, so the decision table is unit-tested
without a network. ``X-Forwarded-For`` is believed only when the direct peer is a
configured trusted proxy; then the client is the right-most address in it that is
not itself a trusted proxy (each proxy appends the address it saw, so everything to
the left of that point was written by the client and may be forged).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def parse_networks(text: str, source: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (a bare address is a /32 or /128); ValueError names ``source``."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(f"{source}: {item!r} is not an IP address or CIDR network ({exc})") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An address from a peer or an X-Forwarded-For entry (port and brackets allowed); None if not one."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The address a request comes from: ``peer`` unless it is a trusted proxy (see module doc).

    Walking ``X-Forwarded-For`` right to left stops at the first address that is not a
    trusted proxy; an entry that is not an address stops the walk at the last trusted
    hop, so garbage never becomes the client address.
    """
    current = parse_address(peer)
    if current is None or not _within(current, trusted):
        return peer
    entries = [entry for header in forwarded_for for entry in header.split(",") if entry.strip()]
    for entry in reversed(entries):
        address = parse_address(entry)
        if address is None:
            break
        current = address
        if not _within(address, trusted):
            break
    return str(current)


def is_allowed(address: str, allowed: Sequence[Network]) -> bool:
    """Whether ``address`` may call: always when no allowlist is configured."""
    if not allowed:
        return True
    parsed = parse_address(address)
    return parsed is not None and _within(parsed, allowed)


def _within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)
