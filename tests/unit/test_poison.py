"""Poison: records no stage can carry are refused with their field, before anything is stored or re-encoded;
internal bundle items are held to the shape every stage relies on; dead letters carry no raw IP."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

import app  # noqa: F401  (first, as the worker imports it: app/__init__ declares the stages in order)
from agents.dead_letter import MAX_VALUE_BYTES, dead_letter_record
from agents.trending import readable_partial
from models.event import Event
from tastemaker import bundles
from tastemaker.delivery import SourcePosition
from tastemaker.ingest.collect import MAX_MESSAGE_BYTES, Accepted, accept, check, inspect_record
from tastemaker.ingest.normalize import normalize
from tastemaker.ingest.privacy import scrub_ips
from tastemaker.ingest.routing import Router
from tastemaker.ingest.segment_schema import Invalid
from tastemaker.ingest.structure import MAX_DEPTH, structure_problem, walk

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)
RECORD_TIME = NOW.timestamp()


def nested(depth: int, leaf: bytes = b'"x"') -> bytes:
    """JSON text of objects nested ``depth`` levels deep: {"a":{"a":...}}."""
    return b'{"a":' * depth + leaf + b"}" * depth


def identify_with_traits(depth: int) -> bytes:
    return b'{"type":"identify","userId":"deep","traits":' + nested(depth) + b"}"


# --- structure: nesting, numbers, keys, strings ---

@pytest.mark.parametrize("depth, refused", [(MAX_DEPTH, False), (MAX_DEPTH + 1, True), (300, True), (1000, True)])
def test_nesting_beyond_the_limit_is_refused_with_a_path_naming_where(depth, refused):
    value = orjson.loads(nested(depth))
    problem = structure_problem(value)
    if not refused:
        assert problem is None and walk(value) is None
        return
    assert problem == Invalid("a.a.a.a.a.a.a.a...", f"nested more than {MAX_DEPTH} levels deep")
    assert walk(value) == problem  # the fast path and the full walk agree


def test_the_fast_path_and_the_walk_agree_on_a_real_message():
    message = {"type": "track", "event": "Product Viewed", "userId": "u", "properties": {
        "products": [{"product_id": "p1", "variants": [{"size": 42}]}], "price": 12.5},
        "context": {"page": {"url": "https://shop.example/p"}, "library": {"name": "analytics.js"}}}
    assert structure_problem(message) is None
    assert structure_problem(message, encoded=orjson.dumps(message)) is None
    assert walk(message) is None


@pytest.mark.parametrize(
    "value, field, reason",
    [
        ({"a": [1, {"b": float("nan")}]}, "a[1].b", "finite number"),
        ({"a": float("inf")}, "a", "finite number"),
        ({"p": {"x": 2**70}}, "p.x", "64-bit"),
        ({"t": {"k\x00ey": 1}}, "t.k\\u0000ey", "NUL"),
        ({"s": "\ud800"}, "s", "Unicode"),
        ({"x": {1, 2}}, "x", "not a JSON value"),
        ({1: "one"}, None, "keys must be strings"),
    ],
)
def test_values_no_encoder_can_write_back_are_refused(value, field, reason):
    problem = walk(value)
    assert problem is not None and problem.field == field and reason in problem.reason


def test_nul_characters_in_values_are_kept_but_refused_in_ids():
    kept = check({"type": "track", "userId": "u", "event": "E", "properties": {"note": "a\x00b"}})
    assert isinstance(kept, dict) and kept["properties"]["note"] == "a\x00b"
    for name in ("userId", "anonymousId", "messageId", "event"):
        message = {"type": "track", "userId": "u", "event": "E", name: "x\x00y"}
        assert check(message) == Invalid(name, f"{name} must not contain a NUL character")


def test_long_keys_are_cut_in_the_path():
    value = {"traits": {"k" * 500: orjson.loads(nested(40))}}
    problem = structure_problem(value)
    assert problem.field.startswith("traits." + "k" * 40 + ".a") and problem.field.endswith("...")


# --- the poison corpus, as an input record and through the collector ---

POISON_RECORDS = {
    "nesting-300": (identify_with_traits(300), "traits.a.a.a.a.a.a.a...", "nested more than 32 levels deep"),
    "nesting-1000": (identify_with_traits(1000), "traits.a.a.a.a.a.a.a...", "nested more than 32 levels deep"),
    "nesting-1025": (identify_with_traits(1025), None, "not valid JSON"),  # past orjson's own parsing limit
    "invalid-utf8": (b'{"type":"page","userId":"u\xff\xfe"}', None, "not valid JSON"),
    "nan": (b'{"type":"track","userId":"u","event":"E","properties":{"price":NaN}}', None, "not valid JSON"),
    "infinity": (b'{"type":"track","userId":"u","event":"E","properties":{"price":Infinity}}', None, "not valid JSON"),
    "1e400": (b'{"type":"track","userId":"u","event":"E","properties":{"price":1e400}}', None, "not valid JSON"),
    "2MB": (b'{"type":"page","userId":"u","properties":{"x":"' + b"y" * 2_000_000 + b'"}}', None, "larger than 32 KB"),
    "not-an-object": (b"[1,2,3]", None, "must be a JSON object"),
    "userId-an-object": (b'{"type":"page","userId":{"a":1}}', "userId", "string or integer"),
    "properties-a-string": (b'{"type":"track","userId":"u","event":"E","properties":"x"}', "properties", "object"),
    "context-page-a-list": (b'{"type":"page","userId":"u","context":{"page":[1]}}', "context.page", "object"),
    "price-a-bool": (b'{"type":"track","userId":"u","event":"E","properties":{"price":true}}', "properties.price", "number"),
    "price-a-string-nan": (b'{"type":"track","userId":"u","event":"E","properties":{"price":"NaN"}}', "properties.price", "finite"),
    "price-1e300": (b'{"type":"track","userId":"u","event":"E","properties":{"price":1e300}}', "properties.price", "at most"),
    "nul-in-userId": (b'{"type":"page","userId":"u\\u0000v"}', "userId", "NUL"),
    "nul-in-a-key": (b'{"type":"identify","userId":"u","traits":{"a\\u0000":1}}', "traits.a\\u0000", "NUL"),
    "empty": (b"", None, "empty record"),
}


def refused_record(raw: bytes, now: float = RECORD_TIME) -> Invalid | dict:
    checked = inspect_record(raw)
    if isinstance(checked, Invalid):
        return checked
    return normalize(checked, topic="identities", record_time=RECORD_TIME, fallback_id="identities:0:1", now=now)


@pytest.mark.parametrize("raw, field, reason", POISON_RECORDS.values(), ids=POISON_RECORDS.keys())
def test_every_poison_record_on_an_input_topic_is_refused_with_its_field(raw, field, reason):
    refused = refused_record(raw)
    assert isinstance(refused, Invalid), refused
    assert refused.field == field and reason in refused.reason


def test_a_received_time_in_the_future_is_refused_when_the_clock_is_known():
    raw = b'{"type":"page","userId":"u","receivedAt":"9999-12-31T23:59:59Z","timestamp":"9999-12-31T23:59:59Z"}'
    refused = refused_record(raw)
    assert isinstance(refused, Invalid) and refused.field == "receivedAt"
    # A replay of history (a backtest) passes no clock and is judged by the record's own times.
    assert not isinstance(refused_record(raw, now=None), Invalid)


@pytest.mark.parametrize("depth", [300, 1000])
def test_the_collector_refuses_deep_nesting_with_a_400_naming_the_field(depth):
    message = orjson.loads(nested(depth))
    outcome = accept({"type": "track", "userId": "u", "event": "E", "properties": message},
                     source="web", received_at=NOW, router=Router())
    assert outcome == Invalid("properties.a.a.a.a.a.a.a...", "nested more than 32 levels deep")
    assert outcome.status == 400


def test_the_collector_still_accepts_what_it_accepted():
    accepted = accept({"type": "identify", "userId": "u", "traits": orjson.loads(nested(MAX_DEPTH - 2))},
                      source="web", received_at=NOW, router=Router())
    assert isinstance(accepted, Accepted) and len(accepted.value) < MAX_MESSAGE_BYTES


# --- internal bundle items ---

def normalized(**fields) -> dict:
    message = {"type": "track", "event": "Product Viewed", "anonymousId": "dev-1",
               "properties": {"product_id": "sku-1", "price": 3}, **fields}
    event = normalize(message, topic="clickstream", record_time=RECORD_TIME, fallback_id="clickstream:0:7")
    assert not isinstance(event, Invalid)
    return event


def test_the_event_table_is_the_event_record():
    assert set(bundles.EVENT_FIELDS) == set(Event._options.fields)
    required = {name for name, needed in bundles.EVENT_FIELDS.items() if needed}
    assert required == set(Event._options.fields) - set(Event._options.defaults)


def test_what_the_stages_send_passes_the_item_check():
    position = SourcePosition("clickstream", 0, 7)
    event = normalized(traits={"a": orjson.loads(nested(MAX_DEPTH - 3))}, type="identify", userId="u")
    bundles.check_item(bundles.item("u", event, position), RECORD_TIME)
    refund = normalized(event="Order Refunded", properties={"revenue": -25.5, "products": [{"product_id": "p"}]})
    bundles.check_item(bundles.item("dev-1", refund, position), RECORD_TIME)  # what ingest accepts passes
    for body in ({"kind": "link", "id": "a", "person": "p"}, {"kind": "tick", "now": RECORD_TIME},
                 {"kind": "command", "command": "opt_out", "at": RECORD_TIME}, {"kind": "merge_into", "target": "p"},
                 {"kind": "absorb", "from": "a", "ids": ["a"], "profile": {}, "applied": {}},
                 {"kind": "unlink", "id": "a"}, {"kind": "forget_id", "of": "p"}, {"kind": "forget_tombstone", "of": "p"}):
        bundles.check_item(bundles.item("p", body, position), RECORD_TIME)


POISON_ITEMS = {
    "not-an-object": ([1], "must be an object"),
    "no-key": ({"body": {}}, "key"),
    "key-a-number": ({"key": 5, "body": {}}, "key"),
    "body-a-list": ({"key": "k", "body": [1]}, "object body"),
    "nesting-300": ({"key": "k", "body": orjson.loads(nested(300))}, "nested more than 64 levels"),
    "too-large": ({"key": "k", "body": {"x": "y" * (bundles.MAX_ITEM_BYTES + 1)}}, "larger than"),
    "event-time-a-string": ({"key": "k", "body": "event_time"}, "event_time"),
    "event-time-year-5000": ({"key": "k", "body": "far-future"}, "event_time"),
    "item-ids-a-string": ({"key": "k", "body": "item_ids"}, "item_ids"),
    "price-huge": ({"key": "k", "body": "price"}, "price"),
    "missing-field": ({"key": "k", "body": "missing"}, "received_at is required"),
    "traits-a-list": ({"key": "k", "body": "traits"}, "traits is required, an object"),
    "is-bot-a-string": ({"key": "k", "body": "is_bot"}, "is_bot"),
    "kind-a-list": ({"key": "k", "body": {"kind": ["tick"]}}, "kind must be a string"),
    "tick-without-time": ({"key": "k", "body": {"kind": "tick", "now": "soon"}}, "now"),
    "absorb-ids-not-a-list": ({"key": "k", "body": {"kind": "absorb", "ids": "a", "profile": {}, "applied": {}}}, "ids"),
}


def poison_item(template):
    entry = dict(template) if isinstance(template, dict) else template
    if isinstance(entry, dict) and isinstance(entry.get("body"), str):
        body = normalized()
        change = entry["body"]
        if change == "event_time":
            body["event_time"] = "yesterday"
        elif change == "far-future":
            body["event_time"] = 95_617_584_000.0
        elif change == "item_ids":
            body["item_ids"] = "sku-1"
        elif change == "price":
            body["price"] = -1e300
        elif change == "missing":
            del body["received_at"]
        elif change == "traits":
            body["traits"] = [1]
        elif change == "is_bot":
            body["is_bot"] = "yes"
        entry["body"] = body
    return entry


@pytest.mark.parametrize("template, reason", POISON_ITEMS.values(), ids=POISON_ITEMS.keys())
def test_poison_items_are_refused_with_a_reason(template, reason):
    with pytest.raises(bundles.BadItem, match=reason):
        bundles.check_item(poison_item(template), RECORD_TIME)


def test_a_bundle_writer_refuses_an_item_no_bundle_can_hold_and_keeps_the_rest():
    writer = bundles.BundleWriter(4)
    writer.add(bundles.item("a", {"x": 1}))
    with pytest.raises(bundles.Unbundlable):
        writer.add(bundles.item("b", {"x": "y" * (bundles.MAX_ITEM_BYTES + 1)}))
    with pytest.raises(bundles.Unbundlable):
        writer.add(bundles.item("c", orjson.loads(nested(300))))
    assert len(writer) == 1
    assert bundles.item_bytes(bundles.item("c", orjson.loads(nested(300)))).startswith(b'{"unserializable_item"')


def test_a_bundle_with_more_items_than_positions_is_not_a_bundle():
    with pytest.raises(ValueError, match="more than"):
        bundles.unpack(orjson.dumps({"items": [{}] * (bundles.MAX_ITEMS + 1)}))


# --- stored values ---

def test_a_trending_partial_keeps_only_what_can_be_computed_with():
    stored = {"item:a": {"score": 2.0, "at": RECORD_TIME}, "item:b": {"score": 1.0, "at": 1e300},
              "item:c": {"score": "x", "at": 1}, "item:d": 5, "item:e": {"score": -1, "at": 1}}
    assert readable_partial(stored, RECORD_TIME) == {"item:a": {"score": 2.0, "at": RECORD_TIME}}
    assert readable_partial([1, 2], RECORD_TIME) == {}


def test_a_table_value_that_is_not_a_json_object_reads_as_absent_and_is_counted():
    from app.stage_reports import OUTCOMES
    from faust.serializers import codecs

    from tables import STATE_CODEC

    codec = codecs.get_codec(STATE_CODEC)
    before = OUTCOMES["skipped:table_value"]
    assert codec.loads(b'{"person": "p"}') == {"person": "p"}
    assert [codec.loads(raw) for raw in (b"{not json", b"\xff\xfe", b"[1]", b'"x"', nested(1025))] == [None] * 5
    assert OUTCOMES["skipped:table_value"] == before + 5
    assert codec.dumps({"a": 1}) == codecs.get_codec("json").dumps({"a": 1})  # the same bytes as Faust's json


# --- dead letters carry no raw IP ---

def test_json_dead_letters_have_their_ip_fields_anonymized():
    raw = orjson.dumps({"type": "page", "userId": "u", "context": {"ip": "203.0.113.77", "locale": "de"},
                        "body": {"ip": "2001:db8:abcd:12:1:2:3:4"}, "note": "from 198.51.100.9"})
    scrubbed = orjson.loads(scrub_ips(raw))
    assert scrubbed["context"] == {"ip": "203.0.113.0", "locale": "de"}
    assert scrubbed["body"]["ip"] == "2001:db8:abcd::"
    assert scrubbed["note"] == "from 198.51.100.0"
    assert orjson.loads(scrub_ips(orjson.dumps({"context": {"ip": "not an address"}}))) == {"context": {}}


def test_bytes_that_are_not_json_have_every_address_anonymized():
    raw = b'{"context":{"ip":"203.0.113.77"},"x": cut here 2001:db8:abcd:12::9 and ::ffff:10.1.2.3'
    assert scrub_ips(raw) == b'{"context":{"ip":"203.0.113.0"},"x": cut here 2001:db8:abcd:: and 10.1.2.0'
    # Too deep to write back as JSON: the bytes are scrubbed as they are.
    deep = b'{"context":{"ip":"203.0.113.77"},"traits":' + nested(300) + b"}"
    assert scrub_ips(deep) == deep.replace(b"203.0.113.77", b"203.0.113.0")


@pytest.mark.parametrize("text", [b"no address here", b"at 10:20:30, v1.2.3.4.5, 2026-11-26T10:00:00Z", b'{"ip":"203.0.113.0"}'])
def test_records_without_a_raw_address_are_left_as_they_are(text):
    assert scrub_ips(text) is text


def test_a_dead_letter_says_what_was_changed():
    source = SourcePosition("identities", 3, 41)
    raw = orjson.dumps({"type": "page", "userId": "u", "context": {"ip": "203.0.113.77"}})
    key, value, headers = dead_letter_record(raw, b"u", "nested more than 32 levels deep", "traits.a", source)
    assert b"203.0.113.77" not in value and b"203.0.113.0" in value
    assert headers == {"tm-reason": b"nested more than 32 levels deep", "tm-field": b"traits.a",
                       "tm-source": b"identities:3:41", "tm-scrubbed": b"ip"}
    clean = orjson.dumps({"type": "page", "userId": "u"})
    assert dead_letter_record(clean, b"u", "r", None, source)[1] is clean  # unchanged: byte for byte, no header
    big = b"x" * 2_000_000 + b" 198.51.100.9"
    key, value, headers = dead_letter_record(big, b"k" * 5000, "message larger than 32 KB", None, source)
    assert len(value) == MAX_VALUE_BYTES and headers["tm-truncated"] == str(len(big)).encode()
    assert len(key) == 1024
