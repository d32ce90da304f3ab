"""IP anonymization before anything is stored or logged: IPv4 keeps /24, IPv6 keeps /48 (as Google
Analytics and Matomo do), enough for coarse geo, not enough to single out a household."""

from __future__ import annotations

import ipaddress


def anonymize_ip(address: str | None) -> str | None:
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None  # not an address: drop it rather than store whatever it is
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
