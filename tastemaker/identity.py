"""Which person an incoming event belongs to.

Segment-style events carry ``userId`` (a known user) and/or ``anonymousId`` (a device or browser). Until
identity resolution links the two, the raw key is the user id when present, else the anonymous id.
"""

from __future__ import annotations

from typing import Any


def raw_user_key(event: Any) -> str | None:
    """The key an event is partitioned and counted by, or None when it names nobody."""
    if not isinstance(event, dict):
        return None
    for field_name in ("userId", "anonymousId"):
        value = event.get(field_name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema counts 1.0 as an integer
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # Segment allows integer ids; keys are strings
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
