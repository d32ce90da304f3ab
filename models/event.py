"""The one internal event record: what every stage after ingest reads, whatever the producer sent.

``tastemaker.ingest.normalize`` builds its fields from a Segment message; ``agents/ingest`` puts it on
``<app_id>-events-by-id``; ``agents/identity`` fills ``person``; ``agents/person`` applies it to a profile.
Collections have no defaults (Faust would share one list between records): the normalizer sets every field.
On the wire it is plain JSON (no Faust metadata), so any Kafka client can read the internal topics too.
"""

from __future__ import annotations

import faust


class Event(faust.Record, serializer="json", include_metadata=False):
    #: Segment ``messageId`` (or ``topic:partition:offset`` when a producer sent none).
    event_id: str
    #: Where it came from: the collector's write-key source name, or ``kafka:<input topic>``.
    source: str
    #: Input topic it arrived on, without the topic prefix: clickstream, purchase_events, ...
    topic: str
    #: Segment message type: track, page, screen, identify, alias, group.
    type: str
    #: track: the event name ("Product Viewed"); page/screen: the page name, if any.
    name: str | None
    #: The id the event was keyed by: ``user_id`` when present, else ``anonymous_id``.
    key: str
    anonymous_id: str | None
    user_id: str | None
    #: When it happened, epoch seconds on the server's clock (Segment's clock-skew correction applied).
    event_time: float
    #: When Tastemaker received it (collector), or the Kafka record time for direct producers.
    received_at: float
    #: Catalogue ids the event is about: product_id / item_id, and every products[].product_id.
    item_ids: list[str]
    #: UTM campaign: name, source, medium, term, content (context.campaign, else the page URL's utm_*).
    campaign: dict[str, str]
    #: Coarse location if the client supplied one: country, region, city.
    geo: dict[str, str]
    #: identify/group traits, as sent.
    traits: dict
    #: Fields a sanity rule clamped (tastemaker/ingest/sanity.py).
    clamped: list[str]
    #: properties.tags (a list, or one comma-separated string), at most 20.
    tags: list[str]
    page_url: str | None = None
    page_path: str | None = None
    page_referrer: str | None = None
    page_title: str | None = None
    category: str | None = None
    brand: str | None = None
    #: product, article, category, search, cart, checkout, confirmation, home, other: properties.page_type
    #: when the site sends it, else classified from the event name and page path (tastemaker/page_types.py).
    page_type: str | None = None
    price: float | None = None
    quantity: float | None = None
    #: Order value: properties.revenue, else properties.total.
    revenue: float | None = None
    #: Visible time of the page view so far, milliseconds (engagement heartbeats).
    dwell_ms: int | None = None
    #: Deepest scroll of the page view so far, percent 0-100.
    scroll_depth: int | None = None
    page_view_id: str | None = None
    #: desktop, mobile, tablet, bot or other (from the user agent, or Segment's context.device.type).
    device_type: str | None = None
    locale: str | None = None
    #: The client address, anonymized (IPv4 /24, IPv6 /48).
    ip: str | None = None
    #: alias: the id being merged into ``user_id``.
    previous_id: str | None = None
    group_id: str | None = None
    #: A bot (by user agent, or by an impossible event rate): kept out of profiles, counted.
    is_bot: bool = False
    bot_reason: str | None = None
    #: Canonical person id, filled by the identity stage.
    person: str | None = None
