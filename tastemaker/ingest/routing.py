"""Which input topic a message belongs on.

    page, screen ───────────────────────────────────────────▶ clickstream
    identify, alias, group ─────────────────────────────────▶ identities
    track, by event name:
      cart, checkout, order, refund, coupon (e-commerce v2) ▶ purchase_events
      engagement heartbeats (the tracker's "Page Engaged") ─▶ engagement_metrics
      anything else (Product Viewed, Products Searched, ...) ▶ clickstream

Event names follow Segment's E-commerce Spec v2. ``TASTEMAKER_EVENT_ROUTES`` adds to or overrides the
track mapping by exact event name, e.g. ``Subscription Started=purchase_events;Video Watched=engagement_metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

CLICKSTREAM = "clickstream"
PURCHASE_EVENTS = "purchase_events"
ENGAGEMENT_METRICS = "engagement_metrics"
IDENTITIES = "identities"
INPUT_TOPICS = (CLICKSTREAM, PURCHASE_EVENTS, ENGAGEMENT_METRICS, IDENTITIES)

PURCHASE_EVENT_NAMES = (
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Completed",
    "Order Updated",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Coupon Removed",
)
ENGAGEMENT_EVENT_NAMES = ("Page Engaged",)

DEFAULT_TRACK_ROUTES: Mapping[str, str] = MappingProxyType(
    {**{n: PURCHASE_EVENTS for n in PURCHASE_EVENT_NAMES}, **{n: ENGAGEMENT_METRICS for n in ENGAGEMENT_EVENT_NAMES}}
)
_BY_TYPE = {"page": CLICKSTREAM, "screen": CLICKSTREAM, "identify": IDENTITIES, "alias": IDENTITIES, "group": IDENTITIES}


class RouteError(ValueError):
    pass


@dataclass(frozen=True)
class Router:
    track_routes: Mapping[str, str] = field(default_factory=lambda: DEFAULT_TRACK_ROUTES)

    def topic_for(self, message: Mapping) -> str:
        """The input topic name (without prefix) of a valid message."""
        kind = message["type"]
        if kind == "track":
            return self.track_routes.get(message["event"], CLICKSTREAM)
        return _BY_TYPE[kind]

    @classmethod
    def from_spec(cls, spec: str) -> "Router":
        """Defaults plus ``Event Name=topic;...`` overrides (topic one of the input topics)."""
        routes = dict(DEFAULT_TRACK_ROUTES)
        for item in filter(None, (part.strip() for part in spec.split(";"))):
            name, sep, topic = item.rpartition("=")
            name, topic = name.strip(), topic.strip()
            if not sep or not name:
                raise RouteError(f"route {item!r} is not 'Event Name=topic'")
            if topic not in INPUT_TOPICS or topic == IDENTITIES:
                raise RouteError(f"route {item!r}: topic must be one of clickstream, purchase_events, engagement_metrics")
            routes[name] = topic
        return cls(MappingProxyType(routes))
