"""Who sent a collector request: the address rate limits count and the stored (anonymized) IP comes from.

    socket peer not a trusted proxy ──────────────────────────────▶ the peer (X-Forwarded-For ignored:
                                                                      anyone can write that header)
    socket peer is a trusted proxy ─▶ X-Forwarded-For, right to left:
                                        skip addresses of trusted proxies
                                        the first one that is not ──▶ the client
                                        every one trusted ──────────▶ the left-most (the first hop)
                                        one not an address ─────────▶ the last trusted hop (what is left
                                                                      of it cannot be trusted)

Only the right-most untrusted entry is believable: each proxy appends the address it saw, so everything
to the left of what the nearest untrusted hop sent is whatever that hop chose to write (MDN's
X-Forwarded-For page, "selecting an IP address"). Trusted proxies are configured as CIDR networks
(``TASTEMAKER_TRUSTED_PROXIES``).

Rate limits key IPv6 clients by their /64: one subscriber usually gets a whole /64 and can rotate through
it at will, so per-address buckets would not limit anyone.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.0.2.7, fd00::/8"`` -> networks (a bare address is a /32 or /128).
    Raises ValueError naming the entry that is not one."""
    networks = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or CIDR network") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as proxies write it: ``192.0.2.1``, ``192.0.2.1:4711``, ``2001:db8::1``, ``[2001:db8::1]:80``."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in proxies)


def client_address(peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str | None:
    """The request's client address (see the module docstring). ``forwarded_for``: every X-Forwarded-For
    header value, in the order received."""
    peer_address = _address(peer) if peer else None
    if peer_address is None:
        return peer
    if not proxies or not _trusted(peer_address, proxies):
        return str(peer_address)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return str(client)
        client = address
        if not _trusted(address, proxies):
            return str(address)
    return str(client)


@lru_cache(maxsize=4096)
def bucket_key(address: str | None) -> str:
    """The rate-limit key of a client address: IPv4 as it is, IPv6 by its /64 network."""
    if not address:
        return "-"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
