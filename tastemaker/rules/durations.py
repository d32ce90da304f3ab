"""Durations as rule documents write them: ``"90s"``, ``"10m"``, ``"1h"``, ``"7d"``, or compound ``"1h30m"``
(units s, m, h, d; no fractions, no spaces). Parsed to whole seconds; the parse is cached because
condition helpers (``count("X", "10m")``) pass the same few window strings on every event."""

from __future__ import annotations

import re
from functools import lru_cache

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_S = 365 * 86400  # a year: anything longer is a typo, and bounds the state kept for guards

_WHOLE = re.compile(r"(?:\d{1,7}[smhd])+")
_PART = re.compile(r"(\d+)([smhd])")


@lru_cache(maxsize=256)
def parse_duration(text: str) -> int:
    """Seconds in ``text``; ValueError (with the reason) when it is not a positive duration up to a year."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration like '90s', '10m', '1h', '7d' or '1h30m'")
    seconds = sum(int(n) * UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{text!r} is longer than the maximum of 365d")
    return seconds
