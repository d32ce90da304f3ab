"""Rate limits of the collector: token buckets per write key and per client address, in bounded memory.

    request ──▶ client bucket has a token? ─ no ─▶ 429 + Retry-After (the body is not even read)
                      │ yes
                      ▼
                read, parse, write key ─▶ cost = messages in the request (at least 1)
                      ▼
                key bucket and client bucket both have room for the cost?
                      ├─ yes: both charged ─▶ accepted (produced)
                      └─ no:  neither charged ─▶ 429 + Retry-After: seconds until there is room

A bucket holds up to ``burst`` tokens and gains ``per_second`` tokens a second; a token is one event, so a
batch of 100 messages costs as much as 100 single calls: what abuse costs Tastemaker is events to store and
process, not HTTP requests. A request costing more than ``burst`` (a batch larger than the burst) is
admitted when the bucket is full and leaves it in debt, so the average rate still holds and no valid
request is refused forever.

The buckets live in this worker's memory: with N collecting workers behind a load balancer a client gets
up to N times the rate. Each table keeps at most ``max_keys`` buckets, the least recently used evicted
first, so a flood of new addresses (spoofed, or a botnet) costs bounded memory; an evicted key starts again
with a full bucket, which is what a key that has been idle for a while would have anyway.

Pure: time is passed in (``now``, monotonic seconds), nothing here reads a clock or imports Faust.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


class RateSpecError(ValueError):
    """A rate limit setting that is not ``RATE[,BURST]`` or ``off``."""


@dataclass(frozen=True)
class Rate:
    #: Tokens (events) added each second: the sustained rate allowed.
    per_second: float
    #: Most tokens a bucket holds: how many events may arrive at once after a quiet period.
    burst: float

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and math.isfinite(self.per_second)):
            raise RateSpecError(f"rate {self.per_second!r} must be a positive number of events per second")
        if not (self.burst >= 1 and math.isfinite(self.burst)):
            raise RateSpecError(f"burst {self.burst!r} must be at least 1 event")

    @classmethod
    def from_spec(cls, spec: str) -> "Rate | None":
        """``"2000,10000"`` (events per second, burst) or ``"2000"`` (burst: 5 seconds' worth); ``"off"`` or
        ``"0"``: no limit (None)."""
        text = spec.strip().lower()
        if text in ("off", "0", "none", ""):
            return None
        parts = [p.strip() for p in text.split(",")]
        if len(parts) > 2:
            raise RateSpecError(f"{spec!r} is not RATE[,BURST]")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise RateSpecError(f"{spec!r} is not RATE[,BURST] (numbers)") from None
        per_second = numbers[0]
        burst = numbers[1] if len(numbers) == 2 else max(per_second * 5, 1.0)
        return cls(per_second, burst)

    def spec(self) -> str:
        return f"{self.per_second:g},{self.burst:g}"


def retry_after_header(seconds: float) -> str:
    """HTTP's ``Retry-After`` takes whole seconds: rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


class BucketTable:
    """Token buckets by key (a write key's source, a client address), at most ``max_keys`` of them."""

    def __init__(self, rate: Rate, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate = rate
        self.max_keys = max_keys
        # key -> [tokens, as of (monotonic seconds)]; ordered from least to most recently used.
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: str) -> bool:
        return key in self._buckets

    def tokens(self, key: str, now: float) -> float:
        """Tokens ``key`` has at ``now`` (a key never seen has a full bucket)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.rate.burst
        tokens, since = bucket
        return min(self.rate.burst, tokens + max(0.0, now - since) * self.rate.per_second)

    def wait(self, key: str, cost: float, now: float) -> float:
        """Seconds until ``key`` may spend ``cost`` (0: now). A cost above the burst needs a full bucket."""
        needed = min(cost, self.rate.burst)
        missing = needed - self.tokens(key, now)
        return 0.0 if missing <= 0 else missing / self.rate.per_second

    def take(self, key: str, cost: float, now: float) -> None:
        """Spend ``cost`` tokens of ``key`` (the bucket may go into debt: see the module docstring)."""
        tokens = self.tokens(key, now) - cost
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [tokens, now]
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            bucket[0], bucket[1] = tokens, now
            self._buckets.move_to_end(key)


def admit(now: float, cost: float, *charges: tuple[BucketTable | None, str]) -> float:
    """Charge ``cost`` to every (table, key) when all of them have room, and return 0; otherwise charge
    none and return the seconds to wait until all of them would have. A None table is no limit."""
    wait = max((table.wait(key, cost, now) for table, key in charges if table is not None), default=0.0)
    if wait > 0:
        return wait
    for table, key in charges:
        if table is not None:
            table.take(key, cost, now)
    return 0.0
