"""The cheaper paths of the per-event pass (bench/person_micro.py) decide exactly what the paths they short-cut
decide: Segment validation without the anyOf, the trending partial updated in place, and source positions
built without the generated frozen __init__."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError, astuple, replace

import pytest

from tastemaker import bundles, trending
from tastemaker.delivery import SourcePosition
from tastemaker.ingest import segment_schema

NOW = 1_795_737_720.0


MESSAGES = [
    {"type": "track", "event": "E", "anonymousId": "a"},
    {"type": "track", "event": "E", "userId": 7},
    {"type": "track", "anonymousId": "a"},  # no event name
    {"type": "track", "event": "E"},  # nobody
    {"type": "page", "anonymousId": ""},
    {"type": "page", "userId": None},
    {"type": "alias", "userId": "u"},
    {"type": "alias", "previousId": "p", "userId": "u"},
    {"type": "group", "anonymousId": "a"},
    {"type": "identify", "anonymousId": True},
    {"type": "identify", "anonymousId": "a", "timestamp": "yesterday"},
    {"type": "screen", "anonymousId": "a", "context": []},
    {"type": "nonsense", "anonymousId": "a"},
    {"type": 3, "anonymousId": "a"},
    {"anonymousId": "a"},
    {"type": "track", "event": "", "userId": "u", "anonymousId": "a"},
    {"type": "track", "event": "E", "anonymousId": "a" * 600},
]


@pytest.mark.parametrize("message", MESSAGES)
def test_validation_without_the_anyof_reports_what_the_whole_schema_does(message):
    kind = message.get("type")
    full = segment_schema._VALIDATE_BY_TYPE.get(kind, segment_schema._validate) if isinstance(kind, str) \
        else segment_schema._validate
    try:
        full(message)
        expected = None
    except segment_schema.fastjsonschema.JsonSchemaValueException as exc:
        expected = segment_schema._explain(exc, message)
    assert segment_schema.validate(message) == expected


def partial_events(n: int, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    names = ["Product Viewed", "Product Added", "Order Completed", "Products Searched", None]
    events = []
    for i in range(n):
        name = rng.choice(names)
        events.append({"type": "track" if name else "identify", "name": name, "event_time": NOW + i * 30.0,
                       "item_ids": [f"sku-{rng.randrange(40)}" for _ in range(rng.randint(0, 2))],
                       "category": rng.choice([None, "shoes", "bags"])})
    return events


def test_the_partial_updated_in_place_is_the_one_apply_to_partial_returns():
    pure, in_place = None, {}
    for event in partial_events(2000):
        before = dict(in_place)  # a snapshot taken before (as the stage stores one) stays as it was
        snapshot_values = {key: dict(value) for key, value in in_place.items()}
        updated = trending.apply_to_partial(pure, event, max_keys=25)
        changed = trending.add_to_partial(in_place, event, max_keys=25)
        assert changed == (updated is not None)
        pure = updated if updated is not None else pure
        assert list((pure or {}).items()) == list(in_place.items())  # same keys, values and order
        assert {key: dict(value) for key, value in before.items()} == snapshot_values
    assert len(in_place) == 25


def test_source_positions_stay_frozen_values():
    position = SourcePosition("clickstream", 3, 41)
    assert position == SourcePosition("clickstream", 3, 41, "") and hash(position) == hash(SourcePosition("clickstream", 3, 41))
    with pytest.raises(FrozenInstanceError):
        position.offset = 1  # type: ignore[misc]
    moved = replace(position, via="alice")
    assert position.with_via("alice") == moved and position.with_via("") == position
    assert astuple(moved) == ("clickstream", 3, 41, "alice") and moved.stream == "clickstream:3|alice"
    assert position.text == position.encode().decode() == "clickstream:3:41"
    assert SourcePosition.decode("my:topic:3:41", "alice") == SourcePosition("my:topic", 3, 41, "alice")
    assert bundles.source_of(bundles.item("k", {}, moved)) == moved


def _clean_id_before(value):  # tastemaker.identity.clean_id before its fast path for strings
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class _Text(str):
    pass


@pytest.mark.parametrize("value", [None, "", " ", " a ", "a", "\tb\n", 0, 7, -3, 1.0, 1.5, True, False, [], {},
                                   _Text(" x "), 2**70, float("nan")])
def test_clean_id_cleans_as_before(value):
    from tastemaker.identity import clean_id

    assert clean_id(value) == _clean_id_before(value)


def test_one_count_added_is_the_count_added():
    from tastemaker import profile

    counts = {f"n{i}": i for i in range(5)}
    for limit in (3, 5, 6, 200):
        for name in ("n1", "new"):
            assert profile._add_one(counts, name, limit) == profile._add(counts, {name: 1}, limit)
    assert counts == {f"n{i}": i for i in range(5)}  # not changed


def test_the_rules_view_of_intent_is_refresh_intents():
    from tastemaker import behaviour, profile

    events = [{"type": "page", "event_time": NOW + i, "page_type": "product", "item_ids": ["sku-1"], "name": None}
              for i in range(3)] + [{"type": "track", "name": "Product Added", "event_time": NOW + 9,
                                     "item_ids": ["sku-1"], "price": 5.0, "quantity": 1}]
    state = None
    for event in events:
        state = profile.apply_event(state, event)
    knowledge = behaviour.Knowledge()
    for opted_out in (False, True):
        subject = profile.opt_out(state, NOW) if opted_out else state
        expected = profile.refresh_intent(subject, NOW + 60, None).get("intent") or {}
        view = behaviour.rules_view(subject, NOW + 60, None, knowledge, {"intent": None})
        assert view["intent"] == {"browse": expected.get("browse", 0.0), "research": expected.get("research", 0.0),
                                  "purchase": expected.get("purchase", 0.0),
                                  "abandonment": expected.get("abandonment_risk", 0.0)}
