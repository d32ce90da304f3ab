"""Event time with Segment's clock-skew correction.

A device clock may be wrong by minutes or years. Segment's libraries stamp ``timestamp`` (when it happened,
device clock) and ``sentAt`` (when the batch left, same clock); the server knows ``receivedAt`` (its own
clock). The time the event happened on the server's clock is::

    timestamp' = receivedAt - (sentAt - timestamp)

Without ``sentAt`` the device's ``timestamp`` is used as it is; without either, ``receivedAt``. The offset
``sentAt - timestamp`` is the age of the event when sent (queueing, offline batching); it must not be negative.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

# Both cached: the messages of one request share receivedAt and usually sentAt, and often their timestamps;
# parsing and formatting cost 1-2 us each, several times per message. Bounded caches of immutable values.


@lru_cache(maxsize=4096)
def parse_iso(value: str) -> datetime:
    """ISO-8601 / RFC 3339 with any offset ('Z' included), as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


@lru_cache(maxsize=4096)
def format_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def corrected_timestamp(timestamp: str | None, sent_at: str | None, received_at: datetime) -> datetime:
    if timestamp is None:
        return received_at
    happened = parse_iso(timestamp)
    if sent_at is None:
        return happened
    age = parse_iso(sent_at) - happened
    if age.total_seconds() < 0:  # sent before it happened: the two stamps disagree, trust neither
        return received_at
    return received_at - age
