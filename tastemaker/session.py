"""A person's current visit: the page-type path, page views with their visible dwell and scroll, cart adds.

What intent (tastemaker/intent.py) reads, kept as small pure state inside the profile. A visit ends after
``gap_s`` without events (the web-analytics convention, 30 minutes); the next event starts a new one.

State (JSON, bounded; None before the first event)::

    {"start": t, "last": t,                         event times of the visit's first and latest events
     "counts": {"product": 4, "article": 1, ...},   steps per page type in the visit (at most 9 keys)
     "path": [["category", t], ["product", t], ...], the latest path_max steps, oldest first
     "path_by": "page",                             whether the last step came from a page or a track event
     "views": [{"id": page view id, "type": "product", "at": t, "dwell_ms": 41000, "scroll": 80,
                "keys": {"category": ["shoes"]}, "bonus": true}, ...],
                                                    the latest views_max page views, by last activity
                                                    (tabs interleave): the current one last
     "engaged_ms": 95000,                           visible dwell of all the visit's page views
     "scroll_sum": 160, "scrolled": 2,              sum of page views' deepest scroll, and their number
     "cart_adds": 1, "last_cart_add": t}

Steps: a page/screen event's ``page_type`` (None or unknown: "other"), and these track events::

    Product Viewed -> product            Product List Viewed, Product List Filtered -> category
    Products Searched -> search          Cart Viewed -> cart
    Checkout Started, Checkout Step Viewed, Checkout Step Completed, Payment Info Entered -> checkout
    Order Completed -> confirmation

A site may send both a page view and the matching track event (a product page and Product Viewed): a step
of the same type from the other kind of event within ``dedupe_s`` is the same step, counted once.

Engagement heartbeats ("Page Engaged") carry a page view's cumulative visible dwell and deepest scroll; the
increase since the last heartbeat of that view is added to the visit. Events are taken in arrival order
(the person stage sees one person's events in order); a late event joins the current visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from tastemaker.ingest.routing import ENGAGEMENT_EVENT_NAMES

PAGE_TYPES = ("product", "article", "category", "search", "cart", "checkout", "confirmation", "home", "other")
FUNNEL_TYPES = ("cart", "checkout")

STEP_OF_TRACK: Mapping[str, str] = {
    "Product Viewed": "product",
    "Product List Viewed": "category",
    "Product List Filtered": "category",
    "Products Searched": "search",
    "Cart Viewed": "cart",
    "Checkout Started": "checkout",
    "Checkout Step Viewed": "checkout",
    "Checkout Step Completed": "checkout",
    "Payment Info Entered": "checkout",
    "Order Completed": "confirmation",
}


@dataclass(frozen=True)
class SessionConfig:
    gap_s: float = 1800.0
    """Seconds without events after which the next event starts a new visit (30 minutes)."""
    path_max: int = 12
    """Steps of the visit's path kept (the latest)."""
    views_max: int = 3
    """Page views whose dwell and scroll are followed at once (open tabs)."""
    dedupe_s: float = 10.0
    """A page view and a track event of the same step type this close together are one step, seconds."""


DEFAULT = SessionConfig()


def new(at: float) -> dict[str, Any]:
    return {"start": at, "last": at, "counts": {}, "path": [], "path_by": None, "views": [], "engaged_ms": 0,
            "scroll_sum": 0, "scrolled": 0, "cart_adds": 0, "last_cart_add": None}


def step_of(event: Mapping[str, Any]) -> str | None:
    """The page type an event is a step of, or None (identify, heartbeats, cart adds, ...)."""
    if event.get("type") in ("page", "screen"):
        page_type = event.get("page_type")
        return page_type if page_type in PAGE_TYPES else "other"
    return STEP_OF_TRACK.get(event.get("name") or "") if event.get("type") == "track" else None


def is_heartbeat(event: Mapping[str, Any]) -> bool:
    return event.get("type") == "track" and event.get("name") in ENGAGEMENT_EVENT_NAMES


def apply_event(
    session: Mapping[str, Any] | None, event: Mapping[str, Any], keys: Mapping[str, list[str]] | None = None,
    long_dwell_ms: int | None = None, config: SessionConfig = DEFAULT,
) -> tuple[dict[str, Any], dict[str, list[str]] | None]:
    """The visit after ``event``, and the affinity keys of a page view whose visible dwell has just reached
    ``long_dwell_ms`` (once per page view), else None. ``keys``: the event's category/brand/tags."""
    at = event["event_time"]
    if session is None or at - session["last"] > config.gap_s:
        session = new(at)
    else:
        session = {**session, "last": max(session["last"], at)}
    step, reached = step_of(event), None
    by = "track" if event.get("type") == "track" else "page"
    if step is not None:
        session = _step(session, step, at, by, config)
    if by == "page":
        view = {"id": event.get("event_id"), "type": step, "at": at, "dwell_ms": 0, "scroll": None,
                "keys": dict(keys or {}), "bonus": False}
        session["views"] = (session["views"] + [view])[-config.views_max:]
    elif is_heartbeat(event) and event.get("page_view_id"):
        session, reached = _heartbeat(session, event, long_dwell_ms, config)
    elif event.get("name") == "Product Viewed" and keys and session["views"]:
        # The page view it happened on learns what it was about (a tracker's page event rarely says).
        current = session["views"][-1]
        missing = {d: k for d, k in keys.items() if d not in current["keys"]}
        if missing:
            session["views"] = session["views"][:-1] + [{**current, "keys": {**current["keys"], **missing}}]
    elif event.get("name") == "Product Added":
        last_add = session["last_cart_add"]
        session["cart_adds"] += 1
        session["last_cart_add"] = at if last_add is None else max(last_add, at)
    return session, reached


def _step(session: dict[str, Any], step: str, at: float, by: str, config: SessionConfig) -> dict[str, Any]:
    path = session["path"]
    if path and path[-1][0] == step and session["path_by"] != by and abs(at - path[-1][1]) <= config.dedupe_s:
        return session  # the page view and its track event: one step
    session["path"] = (path + [[step, at]])[-config.path_max:]
    session["path_by"] = by
    session["counts"] = {**session["counts"], step: session["counts"].get(step, 0) + 1}
    return session


def _heartbeat(
    session: dict[str, Any], event: Mapping[str, Any], long_dwell_ms: int | None, config: SessionConfig,
) -> tuple[dict[str, Any], dict[str, list[str]] | None]:
    view_id = event["page_view_id"]
    views = session["views"]
    index = next((i for i, v in enumerate(views) if v["id"] == view_id), None)
    view = dict(views[index]) if index is not None else {
        "id": view_id, "type": "other", "at": event["event_time"], "dwell_ms": 0, "scroll": None, "keys": {},
        "bonus": False}  # its page view came before this visit, or was crowded out by other tabs
    dwell, scroll = event.get("dwell_ms"), event.get("scroll_depth")
    if dwell is not None and dwell > view["dwell_ms"]:
        session["engaged_ms"] += dwell - view["dwell_ms"]
        view["dwell_ms"] = dwell
    if scroll is not None:
        if view["scroll"] is None:
            session["scrolled"] += 1
            session["scroll_sum"] += scroll
            view["scroll"] = scroll
        elif scroll > view["scroll"]:
            session["scroll_sum"] += scroll - view["scroll"]
            view["scroll"] = scroll
    view["at"] = max(view["at"], event["event_time"])
    reached = None
    if long_dwell_ms is not None and not view["bonus"] and view["dwell_ms"] >= long_dwell_ms:
        view["bonus"] = True
        reached = view["keys"]
    others = [v for i, v in enumerate(views) if i != index]
    session["views"] = (others + [view])[-config.views_max:]
    return session, reached


def merge(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, config: SessionConfig = DEFAULT) -> dict[str, Any] | None:
    """Two persons' visits: the later one alone if the earlier had ended before it began, else one visit
    (counts and totals added, paths and page views interleaved by time)."""
    if a is None or b is None:
        return dict(a or b) if (a or b) else None
    older, newer = (a, b) if (a["last"], a["start"]) <= (b["last"], b["start"]) else (b, a)
    if newer["start"] - older["last"] > config.gap_s:
        return dict(newer)
    counts = dict(older["counts"])
    for step, n in newer["counts"].items():
        counts[step] = counts.get(step, 0) + n
    adds = [t for t in (older["last_cart_add"], newer["last_cart_add"]) if t is not None]
    return {
        "start": min(older["start"], newer["start"]),
        "last": newer["last"],
        "counts": counts,
        "path": sorted(older["path"] + newer["path"], key=lambda s: s[1])[-config.path_max:],
        "path_by": newer["path_by"],
        "views": sorted(older["views"] + newer["views"], key=lambda v: v["at"])[-config.views_max:],
        "engaged_ms": older["engaged_ms"] + newer["engaged_ms"],
        "scroll_sum": older["scroll_sum"] + newer["scroll_sum"],
        "scrolled": older["scrolled"] + newer["scrolled"],
        "cart_adds": older["cart_adds"] + newer["cart_adds"],
        "last_cart_add": max(adds) if adds else None,
    }
