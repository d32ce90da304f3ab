"""The internal event record built from Segment messages: fields, context, sanity limits, bots."""

from __future__ import annotations

import pytest

from models.event import Event
from tastemaker.ingest.normalize import normalize
from tastemaker.ingest.sanity import Limits
from tastemaker.ingest.segment_schema import Invalid

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
NOW = 1_795_737_725.0  # 2026-11-26T10:02:05Z


def run(message: dict, **options):
    return normalize(message, topic="clickstream", record_time=NOW, fallback_id="clickstream:0:7", **options)


def track(event="Product Viewed", **fields):
    return {"type": "track", "event": event, "anonymousId": "dev-1", **fields}


def test_a_product_view_from_a_phone_becomes_an_event_record():
    fields = run(track(
        messageId="m1", userId=42, timestamp="2026-11-26T10:00:00Z", sentAt="2026-11-26T10:00:05Z",
        properties={"product_id": "sku-1", "price": "12.50", "category": "Shoes", "quantity": 2},
        context={"userAgent": IPHONE, "ip": "203.0.113.77", "locale": "de-DE",
                 "page": {"url": "https://shop.example/p/1?utm_source=news&utm_campaign=xmas", "title": "Shoe"},
                 "location": {"country": "DE", "city": "Berlin", "latitude": 52.5}},
    ))
    event = Event(**fields)  # the normalizer fills exactly the record's fields
    assert (event.event_id, event.type, event.name, event.key) == ("m1", "track", "Product Viewed", "42")
    assert (event.user_id, event.anonymous_id, event.source) == ("42", "dev-1", "kafka:clickstream")
    assert event.event_time == NOW - 5  # Segment's skew correction: received - (sentAt - timestamp)
    assert event.received_at == NOW
    assert (event.page_url, event.page_path, event.page_title) == (
        "https://shop.example/p/1?utm_source=news&utm_campaign=xmas", "/p/1", "Shoe")
    assert (event.item_ids, event.category, event.price, event.quantity) == (["sku-1"], "Shoes", 12.5, 2)
    assert (event.device_type, event.locale, event.ip) == ("mobile", "de-DE", "203.0.113.0")
    assert event.campaign == {"name": "xmas", "source": "news"}
    assert event.geo == {"country": "DE", "city": "Berlin"}  # no coordinates
    assert not event.is_bot and event.clamped == []


def test_collector_messages_keep_their_corrected_time_and_list_events_name_every_product():
    fields = run(track("Product List Viewed", messageId="m2", source="web", receivedAt="2026-11-26T10:00:00.000Z",
                       timestamp="2026-11-26T09:59:58.000Z", sentAt="2026-11-26T10:30:00Z",
                       properties={"products": [{"product_id": "a"}, {"product_id": 7}, {"sku": "x"}, "junk"]}))
    assert fields["received_at"] - fields["event_time"] == 2.0  # not corrected a second time
    assert fields["item_ids"] == ["a", "7"] and fields["source"] == "web"


def test_a_page_call_reads_its_own_properties_and_an_order_its_total():
    page = run({"type": "page", "name": "Home", "userId": "u", "properties": {"url": "https://s.example/", "path": "/",
                                                                          "referrer": "https://q.example/"}})
    assert (page["name"], page["page_path"], page["page_referrer"]) == ("Home", "/", "https://q.example/")
    order = run(track("Order Completed", properties={"total": 99.5, "products": [{"product_id": "p1"}]}))
    assert (order["revenue"], order["item_ids"]) == (99.5, ["p1"])


@pytest.mark.parametrize("user_agent, device, bot", [
    (DESKTOP, "desktop", False),
    (IPHONE, "mobile", False),
    ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
     "Mobile/15E148 Safari/604.1", "tablet", False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36",
     "bot", True),
    ("python-requests/2.32.3", "bot", True),
])
def test_device_type_and_bots_by_user_agent(user_agent, device, bot):
    fields = run(track(context={"userAgent": user_agent}))
    assert (fields["device_type"], fields["is_bot"]) == (device, bot)
    assert fields["bot_reason"] == ("user_agent" if bot else None)


def test_mobile_libraries_device_type_without_a_user_agent():
    assert run(track(context={"device": {"type": "android"}}))["device_type"] == "mobile"


@pytest.mark.parametrize("properties, field", [
    ({"dwell_ms": -5}, "properties.dwell_ms"),
    ({"scroll_depth": -1}, "properties.scroll_depth"),
    ({"price": -3}, "properties.price"),
    ({"price": "cheap"}, "properties.price"),
    ({"dwell_ms": True}, "properties.dwell_ms"),
    ({"price": "NaN"}, "properties.price"),
    ({"tags": {"a": 1}}, "properties.tags"),
])
def test_impossible_or_wrong_typed_values_refuse_the_event_naming_the_field(properties, field):
    refused = run(track("Page Engaged", properties=properties))
    assert isinstance(refused, Invalid) and refused.field == field


def test_values_past_their_caps_are_clamped_and_listed():
    fields = run(track("Page Engaged", timestamp="2027-01-01T00:00:00Z",
                       properties={"dwell_ms": 9_000_000, "scroll_depth": 140}),
                 limits=Limits(max_dwell_ms=3_600_000, max_future=300))
    assert (fields["dwell_ms"], fields["scroll_depth"], fields["event_time"]) == (3_600_000, 100, NOW)
    assert sorted(fields["clamped"]) == ["dwell_ms", "event_time", "scroll_depth"]


def test_events_older_than_the_maximum_age_are_refused():
    refused = run(track(timestamp="2026-01-01T00:00:00Z"), limits=Limits(max_age=30 * 86400))
    assert isinstance(refused, Invalid) and refused.field == "timestamp"
    assert "30 days" in refused.reason


def test_a_timestamp_that_is_no_date_is_refused():
    refused = run(track(timestamp="yesterday"))
    assert isinstance(refused, Invalid) and refused.field == "timestamp"


def test_properties_that_are_not_an_object_are_refused():
    refused = run({"type": "track", "event": "E", "userId": "u", "context": {"page": "home"}})
    assert isinstance(refused, Invalid) and refused.field == "context.page"


def test_brand_tags_and_an_explicit_page_type_are_read_from_properties():
    fields = run(track(properties={"brand": " Acme ", "tags": ["trail", "", "trail", "waterproof", 7],
                                   "page_type": "product"}))
    assert (fields["brand"], fields["tags"], fields["page_type"]) == ("Acme", ["trail", "waterproof"], "product")
    assert run(track(properties={"tags": "a, b,,c"}))["tags"] == ["a", "b", "c"]
    assert run(track(properties={"tags": ["x" * 100] + [f"t{n}" for n in range(40)]}))["tags"][0] == "x" * 64
    assert len(run(track(properties={"tags": [f"t{n}" for n in range(40)]}))["tags"]) == 20
