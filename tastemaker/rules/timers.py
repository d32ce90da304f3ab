"""Timed rules' pending timers in a person's rule state (``timers``), at most one per rule::

    {"cart-abandoned": {"due": 1795739520.0, "version": 2,
                        "armed_by": {"at": 1795737720.0, "label": "Product Added", "signals": {...}}}}

A timed rule's ``when`` arms its timer, due at event time + ``wait``. While one is pending, another match
moves it to the new due time when the rule says ``rearm: true`` (the default: "wait after the *last*
add-to-cart") and leaves it when ``rearm: false`` ("wait after the *first*"). A later event matching
``unless`` disarms it. When due, the rule fires through the same guards as any firing; it is due at the
first of: the caller's synthetic event ``{"type": "timer", "name": <rule id>, "event_time": due}``, or
any later event of the person (so an ``unless`` arriving after the due time no longer cancels it, and a
lost timer event cannot leave a timer pending forever). A timer whose rule was deleted, disabled or
changed version since arming is dropped when next seen; a timer event for a timer that was moved,
disarmed or already fired is stale and ignored.
"""

from __future__ import annotations

from typing import Any, Mapping

TIMER_EVENT = "timer"


def timer_event(rule_id: str, due: float) -> dict[str, Any]:
    """The synthetic event the caller delivers at ``due`` for an armed timer."""
    return {"type": TIMER_EVENT, "name": rule_id, "event_time": due}


def due_timers(state: Mapping[str, Any] | None, now: float) -> list[tuple[str, float]]:
    """``(rule_id, due)`` of the pending timers due at ``now``, earliest first."""
    timers = (state or {}).get("timers")
    if not timers:
        return []
    return sorted(((rule_id, t["due"]) for rule_id, t in timers.items() if t["due"] <= now), key=lambda x: (x[1], x[0]))


def pending(state: Mapping[str, Any], rule_id: str) -> dict[str, Any] | None:
    return state.get("timers", {}).get(rule_id)


def with_timer(state: Mapping[str, Any], rule_id: str, timer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The state with ``rule_id``'s timer set, or removed when ``timer`` is None."""
    timers = dict(state.get("timers", {}))
    if timer is None:
        timers.pop(rule_id, None)
    else:
        timers[rule_id] = dict(timer)
    return {**state, "timers": timers}
