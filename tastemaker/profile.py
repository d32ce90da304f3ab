"""A person's behaviour profile, as pure state transitions: apply an event, merge two profiles.

State (JSON, bounded)::

    {"events": 12,                                   every event applied
     "counts": {"page": 5, "Product Viewed": 4, ...}, per event name (page/screen: their type)
     "first_seen": 1795737720.7, "last_seen": ...,    event time, epoch seconds
     "devices": {"mobile": 3, "desktop": 9},
     "recent": [[time, name, [item ids]], ...]}      newest first, at most RECENT_MAX

Merging (an anonymous visitor logs in) adds counts and interleaves the recent lists by time, so the merged
profile is what one profile would hold had it seen both histories.
"""

from __future__ import annotations

from typing import Any, Mapping

RECENT_MAX = 50
MAX_COUNTED_NAMES = 200  # event names are free text: bound the map


def empty() -> dict[str, Any]:
    return {"events": 0, "counts": {}, "first_seen": None, "last_seen": None, "devices": {}, "recent": []}


def event_label(event: Mapping[str, Any]) -> str:
    return event.get("name") if event.get("type") == "track" and event.get("name") else event["type"]


def apply_event(profile: Mapping[str, Any] | None, event: Mapping[str, Any]) -> dict[str, Any]:
    profile = dict(profile or empty())
    label = event_label(event)
    at = event["event_time"]
    profile["events"] += 1
    profile["counts"] = _add(profile["counts"], {label: 1})
    if event.get("device_type"):
        profile["devices"] = _add(profile["devices"], {event["device_type"]: 1})
    profile["first_seen"] = at if profile["first_seen"] is None else min(profile["first_seen"], at)
    profile["last_seen"] = at if profile["last_seen"] is None else max(profile["last_seen"], at)
    profile["recent"] = _newest_first(profile["recent"] + [[at, label, list(event.get("item_ids") or [])]])
    return profile


def merge(into: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> dict[str, Any]:
    into, other = dict(into or empty()), other or empty()
    seen = [t for t in (into["first_seen"], other["first_seen"]) if t is not None]
    last = [t for t in (into["last_seen"], other["last_seen"]) if t is not None]
    return {
        "events": into["events"] + other["events"],
        "counts": _add(into["counts"], other["counts"]),
        "first_seen": min(seen) if seen else None,
        "last_seen": max(last) if last else None,
        "devices": _add(into["devices"], other["devices"]),
        "recent": _newest_first(into["recent"] + other["recent"]),
    }


def _add(counts: Mapping[str, int], more: Mapping[str, int]) -> dict[str, int]:
    total = dict(counts)
    for name, n in more.items():
        if name in total or len(total) < MAX_COUNTED_NAMES:
            total[name] = total.get(name, 0) + n
    return total


def _newest_first(entries: list) -> list:
    return sorted(entries, key=lambda entry: entry[0], reverse=True)[:RECENT_MAX]
