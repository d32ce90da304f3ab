from datetime import datetime, timezone

import orjson
import pytest

from tastemaker.ingest.collect import MAX_MESSAGE_BYTES, Accepted, accept
from tastemaker.ingest.event_time import corrected_timestamp, format_iso
from tastemaker.ingest.privacy import anonymize_ip
from tastemaker.ingest.routing import Router, RouteError
from tastemaker.ingest.segment_schema import Invalid, validate

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "message, field, reason",
    [
        ({"userId": "u", "event": "E"}, "type", "type is required"),
        ({"type": "track", "userId": "u"}, "event", "event is required for track messages"),
        ({"type": "page"}, "userId", "userId or anonymousId is required"),
        ({"type": "alias", "userId": "u"}, "previousId", "previousId is required for alias messages"),
        ({"type": "group", "anonymousId": "a"}, "groupId", "groupId is required for group messages"),
        ({"type": "bogus", "userId": "u"}, "type", "type must be one of"),
        ({"type": "track", "userId": ["x"], "event": "E"}, "userId", "userId must be string or integer"),
        ({"type": "track", "userId": "u", "event": "E", "timestamp": "yesterday"}, "timestamp", "must be date-time"),
        ({"type": "track", "userId": "u", "event": "E", "properties": [1]}, "properties", "must be object"),
        ([1], None, "a message must be a JSON object"),
    ],
)
def test_invalid_messages_name_the_field_and_reason(message, field, reason):
    problem = validate(message)
    assert isinstance(problem, Invalid)
    assert problem.field == field
    assert reason in problem.reason


@pytest.mark.parametrize(
    "message",
    [
        {"type": "track", "userId": "u", "event": "Product Viewed", "properties": {"product_id": "p1"}},
        {"type": "page", "anonymousId": "a", "name": "Home"},
        {"type": "screen", "userId": 42},
        {"type": "identify", "userId": "u", "anonymousId": "a", "traits": {"plan": "pro"}},
        {"type": "alias", "userId": "u", "previousId": "a"},
        {"type": "group", "userId": "u", "groupId": "g"},
    ],
)
def test_valid_messages_of_every_type(message):
    assert validate(message) is None


def test_routing_by_type_and_event_name_with_overrides():
    router = Router.from_spec("Subscription Started=purchase_events; Product Viewed=engagement_metrics")
    assert router.topic_for({"type": "page"}) == "clickstream"
    assert router.topic_for({"type": "identify"}) == "identities"
    assert router.topic_for({"type": "track", "event": "Order Completed"}) == "purchase_events"
    assert router.topic_for({"type": "track", "event": "Page Engaged"}) == "engagement_metrics"
    assert router.topic_for({"type": "track", "event": "Products Searched"}) == "clickstream"
    assert router.topic_for({"type": "track", "event": "Subscription Started"}) == "purchase_events"
    assert router.topic_for({"type": "track", "event": "Product Viewed"}) == "engagement_metrics"
    with pytest.raises(RouteError, match="topic must be one of"):
        Router.from_spec("X=identities")
    with pytest.raises(RouteError, match="is not 'Event Name=topic'"):
        Router.from_spec("just a name")


def test_clock_skew_correction():
    # The device clock is years behind; the event left the device 5.5 s after it happened.
    happened = corrected_timestamp("2020-01-01T00:00:00Z", "2020-01-01T00:00:05.500Z", NOW)
    assert format_iso(happened) == "2026-11-26T11:59:54.500Z"
    assert corrected_timestamp("2026-11-26T10:00:00+01:00", None, NOW) == datetime(2026, 11, 26, 9, tzinfo=timezone.utc)
    assert corrected_timestamp(None, None, NOW) == NOW
    assert corrected_timestamp("2026-01-01T00:00:10Z", "2026-01-01T00:00:00Z", NOW) == NOW  # sent before it happened


@pytest.mark.parametrize(
    "ip, anonymized",
    [("203.0.113.77", "203.0.113.0"), ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"), ("::ffff:10.1.2.3", "10.1.2.0"), ("nope", None), (None, None)],
)
def test_ip_anonymization(ip, anonymized):
    assert anonymize_ip(ip) == anonymized


def test_accept_fills_and_corrects_the_record():
    message = {
        "type": "track",
        "event": "Order Completed",
        "anonymousId": "a-1",
        "timestamp": "2020-01-01T00:00:00Z",
        "sentAt": "2020-01-01T00:00:01Z",
        "context": {"ip": "198.51.100.9", "locale": "de-DE"},
        "writeKey": "secret",
    }
    accepted = accept(message, source="web", received_at=NOW, router=Router())
    assert isinstance(accepted, Accepted)
    assert (accepted.topic, accepted.key) == ("purchase_events", "a-1")
    record = orjson.loads(accepted.value)
    assert "writeKey" not in record
    assert record["messageId"] == accepted.message_id and len(record["messageId"]) == 36
    assert record["timestamp"] == "2026-11-26T11:59:59.000Z"
    assert record["originalTimestamp"] == "2020-01-01T00:00:00Z"
    assert record["receivedAt"] == "2026-11-26T12:00:00.000Z"
    assert record["source"] == "web"
    assert record["context"] == {"ip": "198.51.100.0", "locale": "de-DE"}


def test_accept_keys_by_user_id_and_uses_the_client_address_when_none_is_given():
    accepted = accept(
        {"type": "page", "userId": 7, "anonymousId": "a", "messageId": "m-1"},
        source="web", received_at=NOW, router=Router(), client_ip="192.0.2.200",
    )
    assert (accepted.key, accepted.message_id) == ("7", "m-1")
    assert orjson.loads(accepted.value)["context"]["ip"] == "192.0.2.0"


def test_accept_refuses_oversized_and_unparseable_times():
    big = {"type": "track", "userId": "u", "event": "E", "properties": {"blob": "x" * MAX_MESSAGE_BYTES}}
    assert accept(big, source="web", received_at=NOW, router=Router()) == Invalid(None, "message larger than 32 KB", 413)
    bad_day = {"type": "track", "userId": "u", "event": "E", "timestamp": "2026-02-31T00:00:00Z"}
    assert accept(bad_day, source="web", received_at=NOW, router=Router()).field == "timestamp"


def test_null_fields_count_as_absent():
    # Segment's Python library sends {"userId": null, "anonymousId": "a"} for anonymous page views.
    accepted = accept({"type": "page", "userId": None, "anonymousId": "a", "name": None}, source="s", received_at=NOW, router=Router())
    assert isinstance(accepted, Accepted) and accepted.key == "a"
    assert "userId" not in orjson.loads(accepted.value)


def test_blank_or_fractional_ids_name_nobody():
    for who in ({"userId": " "}, {"userId": "\u00a0"}, {"anonymousId": "  "}):
        assert accept({"type": "page", **who}, source="s", received_at=NOW, router=Router()).field == "userId"
    assert accept({"type": "page", "userId": 1.0}, source="s", received_at=NOW, router=Router()).key == "1"


def test_the_stored_record_is_held_to_the_size_limit_too():
    # Small enough as sent, too large once receivedAt, source, timestamps are added.
    message = {"type": "track", "userId": "u", "event": "E", "properties": {"x": "y" * (MAX_MESSAGE_BYTES - 90)}}
    assert len(orjson.dumps(message)) <= MAX_MESSAGE_BYTES
    assert accept(message, source="web", received_at=NOW, router=Router()).status == 413


def test_dates_at_the_edge_of_the_calendar_are_refused_not_crashed_on():
    message = {"type": "track", "userId": "u", "event": "E", "timestamp": "0001-01-01T00:00:00+01:00"}
    assert accept(message, source="s", received_at=NOW, router=Router()).field == "timestamp"


def test_the_per_type_validators_find_what_the_whole_schema_finds():
    from itertools import product

    import fastjsonschema

    from tastemaker.ingest import segment_schema

    def whole(message):  # the general schema alone, as validate() used it before the per-type validators
        try:
            segment_schema._validate(message)
        except fastjsonschema.JsonSchemaValueException as exc:
            return segment_schema._explain(exc, message)

    grid = product(["track", "alias", "group", "page", 3], [None, "E", ""], [None, "u", ""], [None, "p"], [None, "g"])
    for kind, event, user, previous, group in grid:
        values = {"type": kind, "event": event, "userId": user, "previousId": previous, "groupId": group}
        message = {k: v for k, v in values.items() if v is not None}
        assert validate(message) == whole(message), message
