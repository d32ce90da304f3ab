"""Values no real visit produces, and what is done with each: clamp it to the possible, or refuse the event.

    value                      rule                          outcome
    dwell_ms < 0               impossible                    refuse (dead-letter, reason names the field)
    dwell_ms > max_dwell_ms    a tab left open for hours     clamp to max_dwell_ms
    scroll_depth < 0           impossible                    refuse
    scroll_depth > 100         rounding, zoom                clamp to 100
    price, quantity < 0        impossible (refunds are       refuse
                               their own events)
    price, quantity, revenue   no order is that large; sums  refuse
      beyond +-MAX_AMOUNT      of such values overflow to
                               infinity, which JSON cannot
                               hold (orjson writes null)
    event time > received      device clock still wrong      clamp to the receive time
      + max_future             after skew correction
    event time < received      replayed or corrupt           refuse (history goes through /v1/import
      - max_age                                              within max_age, or a bulk load)
    received > now             a claimed receivedAt, or a    refuse: every later time is measured
      + max_future             producer-set record time,     from it (a year-9999 time made decayed
                               in the future                 scores overflow); only when ``now`` is
                                                             given (a re-read later judges alike)

Clamping keeps the rest of an event that is worth having (a page view with an absurd dwell is still a page
view); refusing is for values that show the event itself cannot be trusted. Which values a rule changed is
listed in the event's ``clamped`` field and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tastemaker.ingest.segment_schema import Invalid

MAX_AMOUNT = 1e15  # a price, quantity or order value above this is no real one (and sums of them stay finite)


@dataclass(frozen=True)
class Limits:
    #: Visible time of one page view beyond which it is clamped, milliseconds (default 1 hour).
    max_dwell_ms: int = 3_600_000
    #: How far past its receive time an event's time may lie before it is clamped, seconds.
    max_future: float = 300.0
    #: How far before its receive time an event's time may lie before the event is refused, seconds (30 days).
    max_age: float = 30 * 24 * 3600.0


def apply_limits(event: dict[str, Any], limits: Limits, now: float | None = None) -> list[str] | Invalid:
    """Clamp ``event`` (normalized fields) in place; the names of clamped fields, or why it is refused.

    ``now``: the wall clock, for the bound on the received time (None: not checked, as for a backtest)."""
    clamped: list[str] = []
    for name, field in (("dwell_ms", "properties.dwell_ms"), ("scroll_depth", "properties.scroll_depth"),
                        ("price", "properties.price"), ("quantity", "properties.quantity")):
        if event.get(name) is not None and event[name] < 0:
            return Invalid(field, f"{name} must not be negative (got {event[name]})")
    for name in ("price", "quantity", "revenue"):
        if event.get(name) is not None and abs(event[name]) > MAX_AMOUNT:
            return Invalid(f"properties.{name}", f"{name} must be at most {MAX_AMOUNT:g} (in magnitude)")
    if now is not None and event["received_at"] > now + limits.max_future:
        return Invalid("receivedAt", f"received time (receivedAt, else the Kafka record time) more than "
                                     f"{limits.max_future:g} s in the future")
    if event.get("dwell_ms") is not None and event["dwell_ms"] > limits.max_dwell_ms:
        event["dwell_ms"] = limits.max_dwell_ms
        clamped.append("dwell_ms")
    if event.get("scroll_depth") is not None and event["scroll_depth"] > 100:
        event["scroll_depth"] = 100
        clamped.append("scroll_depth")
    received = event["received_at"]
    if event["event_time"] > received + limits.max_future:
        event["event_time"] = received
        clamped.append("event_time")
    elif event["event_time"] < received - limits.max_age:
        days = limits.max_age / 86400
        return Invalid("timestamp", f"event time more than {days:g} days before it was received")
    return clamped
