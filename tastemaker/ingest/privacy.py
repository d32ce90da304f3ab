"""IP anonymization before anything is stored or logged: IPv4 keeps /24, IPv6 keeps /48 (as Google
Analytics and Matomo do), enough for coarse geo, not enough to single out a household.

``anonymize_ip`` for one address (the collector, the normalizer); ``scrub_ips`` for a whole record that is
kept as it was sent (a dead letter), which may hold addresses anywhere."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import orjson


# Cached: every message of a batch, and every request of a client, carries the same address, and parsing
# and masking it cost ~9 us, a fifth of the collector's per-event budget. Bounded, so no unbounded growth.
@lru_cache(maxsize=4096)
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


# Candidates only: each match is confirmed by ``ipaddress`` before it is replaced. IPv4: four dotted
# numbers not inside a longer dotted run (a version string "1.2.3.4.5" is no address). IPv6: hex groups
# with at least two colons, optionally ending in a dotted IPv4 part ("::ffff:10.1.2.3").
_IPV4 = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(rb"(?<![0-9A-Fa-f:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}"
                   rb"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![0-9A-Fa-f:.])")
#: Object keys whose string values are client addresses, anywhere in a record: ``context.ip`` (Segment), and
#: ``ip`` of a normalized event (already anonymized by the stages; a producer may have written a raw one).
IP_FIELDS = frozenset({"ip"})


def scrub_ips(raw: bytes) -> bytes:
    """``raw`` with every client address anonymized as ``anonymize_ip`` does; the same object if none was.

    A record that parses as JSON is re-serialized with the values of its ``ip`` fields (``context.ip`` and
    any other, at any depth) anonymized, or removed when they are no address. Anything else (not JSON,
    cut short, nested too deep to write back) has every IPv4/IPv6 address in its bytes anonymized in place.
    Either way the result is no longer the record byte for byte."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _scrub_text(raw)
    if not isinstance(value, (dict, list)) or not _anonymize_fields(value):
        return _scrub_text(raw)
    try:
        return _scrub_text(orjson.dumps(value))
    except TypeError:  # nested deeper than orjson writes: fall back to the bytes as they are
        return _scrub_text(raw)


def _anonymize_fields(value: dict | list) -> bool:
    """Anonymize ``ip`` fields in place (iteratively: any depth); whether any changed."""
    changed = False
    stack = [value]
    while stack:
        container = stack.pop()
        if isinstance(container, dict):
            for key in list(container):
                item = container[key]
                if key in IP_FIELDS and isinstance(item, str):
                    masked = anonymize_ip(item)
                    if masked != item:
                        changed = True
                        if masked is None:
                            del container[key]
                        else:
                            container[key] = masked
                elif isinstance(item, (dict, list)):
                    stack.append(item)
        else:
            stack.extend(item for item in container if isinstance(item, (dict, list)))
    return changed


def _scrub_text(raw: bytes) -> bytes:
    scrubbed = _IPV6.sub(_masked, _IPV4.sub(_masked, raw))
    return raw if scrubbed == raw else scrubbed


def _masked(match: re.Match) -> bytes:
    text = match.group().decode("ascii")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return match.group()  # looked like one, is none (a time "10:20:30", a version "1.2.3.999")
    return (anonymize_ip(text) or "").encode()
