import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker import trending
from tastemaker.trending import TrendingConfig

T0 = 1_795_737_600.0
HALF_LIFE = trending.DEFAULT.half_life


def event(t, name="Product Viewed", items=("p1",), category=None):
    kind = "track" if name not in ("page", "screen", "identify") else name
    return {"type": kind, "name": name if kind == "track" else None, "event_time": t, "item_ids": list(items),
            "category": category}


def replay(events, config=trending.DEFAULT):
    state = None
    for e in events:
        state = trending.apply(state, e, config)
    return state


def brute_force(events, now, config=trending.DEFAULT):
    return sum(config.weight(e) * 2 ** (-(now - e["event_time"]) / config.half_life) for e in events)


def test_a_score_halves_at_each_half_life():
    state = trending.apply(None, event(T0))
    assert trending.score_at(state, T0) == 1.0
    assert trending.score_at(state, T0 + HALF_LIFE) == pytest.approx(0.5)
    assert trending.score_at(state, T0 + 3 * HALF_LIFE) == pytest.approx(0.125)
    short = TrendingConfig(half_life=60.0)
    assert trending.score_at(trending.apply(None, event(T0), short), T0 + 60.0, short) == pytest.approx(0.5)


def test_weights_per_label_default_and_configured():
    at = T0 + 10.0
    scores = {name: trending.score_at(trending.apply(None, event(at, name)), at)
              for name in ("Product Viewed", "page", "Product Clicked", "Product Added", "Order Completed")}
    assert scores == {"Product Viewed": 1.0, "page": 1.0, "Product Clicked": 1.0, "Product Added": 3.0,
                      "Order Completed": 5.0}
    assert trending.apply(None, event(at, "identify")) is None  # weight 0: no key is created
    existing = trending.apply(None, event(at))
    assert trending.apply(existing, event(at + 1, "Products Searched")) == existing
    custom = TrendingConfig(weights={"Product Viewed": 2.0}, other_weight=0.5)
    assert trending.score_at(trending.apply(None, event(at), custom), at, custom) == 2.0
    assert trending.score_at(trending.apply(None, event(at, "Signed Up"), custom), at, custom) == 0.5


def test_keys_of_an_event_are_its_items_and_its_category():
    assert trending.keys_of(event(T0, items=["p1", "p2", "p1"], category="shoes")) == ["item:p1", "item:p2",
                                                                                     "category:shoes"]
    assert trending.keys_of(event(T0, "page", items=[])) == []


events_strategy = st.lists(
    st.builds(event, st.floats(0, 5 * 86400.0).map(lambda dt: T0 + dt),
              st.sampled_from(["Product Viewed", "Product Added", "Order Completed", "page", "identify"])),
    min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.randoms(use_true_random=False), st.floats(0, 3 * 86400.0))
def test_the_order_of_events_does_not_matter_and_the_score_is_the_decayed_sum(events, rng, later):
    shuffled = list(events)
    rng.shuffle(shuffled)
    now = max(e["event_time"] for e in events) + later
    expected = brute_force(events, now)
    for order in (events, shuffled, sorted(events, key=lambda e: e["event_time"])):
        assert trending.score_at(replay(order), now) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.lists(st.integers(0, 3), min_size=30, max_size=30))
def test_merging_partial_states_equals_the_state_of_the_whole(events, partition_of):
    partials = [replay([e for i, e in enumerate(events) if partition_of[i] == p]) for p in range(4)]
    whole = replay(events)
    merged = None
    for partial in partials:
        merged = trending.merge(merged, partial)
    now = max(e["event_time"] for e in events) + 3600.0
    assert trending.score_at(merged, now) == pytest.approx(trending.score_at(whole, now), rel=1e-9, abs=1e-12)
    if whole:
        assert merged["at"] == whole["at"]
    one_way, other_way = trending.merge(partials[0], partials[1]), trending.merge(partials[1], partials[0])
    assert one_way["at"] == other_way["at"] and math.isclose(one_way["score"], other_way["score"], rel_tol=1e-12)


def test_top_ranks_by_decayed_score_keeps_n_and_leaves_out_negligible_keys():
    states = {
        "item:old-hit": trending.add(None, 40.0, T0 - 4 * HALF_LIFE),   # 2.5 now
        "item:steady": trending.add(trending.add(None, 1.0, T0 - HALF_LIFE), 2.5, T0),  # 3.0 now
        "item:new": trending.add(None, 2.0, T0),
        "item:b-tie": trending.add(None, 2.0, T0),
        "item:gone": trending.add(None, 1.0, T0 - 60 * HALF_LIFE),
    }
    ranked = trending.top(states.items(), T0, 10)
    assert [key for key, _ in ranked] == ["item:steady", "item:old-hit", "item:b-tie", "item:new"]
    assert ranked[0][1] == pytest.approx(3.0)
    assert trending.top(states.items(), T0, 2) == ranked[:2]
    assert trending.negligible(states["item:gone"], T0) and not trending.negligible(states["item:new"], T0)
    # A week on, every score is negligible.
    assert trending.top(states.items(), T0 + 7 * 86400, 10) == []


def test_config_validation():
    with pytest.raises(ValueError):
        TrendingConfig(half_life=0)


def test_partials_merge_into_the_whole_and_stay_bounded():
    events = [{"type": "track", "name": "Product Viewed", "event_time": 1000.0 + n, "item_ids": [f"i{n % 7}"],
               "category": f"c{n % 3}"} for n in range(60)]
    one = None
    parts: list = [None, None, None]
    for n, event in enumerate(events):
        one = trending.apply_to_partial(one, event) or one
        parts[n % 3] = trending.apply_to_partial(parts[n % 3], event) or parts[n % 3]
    merged = trending.whole(p for p in parts if p)
    assert merged.keys() == one.keys()
    for key in one:
        assert trending.score_at(merged[key], 2000.0) == pytest.approx(trending.score_at(one[key], 2000.0))
    assert trending.apply_to_partial(None, {"type": "identify", "event_time": 1.0}) is None
    small = None
    for event in events:
        small = trending.apply_to_partial(small, event, max_keys=4) or small
    assert len(small) == 4
