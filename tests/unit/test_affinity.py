import itertools
import random

import pytest

from tastemaker import affinity
from tastemaker.affinity import AffinityConfig

DAY = 86400.0
CONFIG = AffinityConfig()


def signals(state, items, config=CONFIG):
    for dimension, key, weight, at in items:
        state = affinity.add(state, {dimension: [key]}, weight, at, config)
    return state


def test_a_signal_counts_half_after_one_half_life():
    state = affinity.add(None, {"category": ["shoes"]}, 4.0, 0.0)
    now = CONFIG.half_life_s
    raw = affinity.scores_at(state, now, normalise=False)
    assert raw["category"]["shoes"] == pytest.approx(2.0, abs=1e-3)


def test_update_is_independent_of_arrival_order():
    items = [("category", "shoes", w, t * DAY) for t, w in [(0, 1.0), (3, 3.0), (1, -1.0), (9, 5.0), (2, 1.0)]]
    results = set()
    for order in itertools.permutations(items):
        scores = affinity.scores_at(signals(None, order), 10 * DAY, normalise=False)
        results.add(round(scores["category"]["shoes"], 3))
    assert len(results) == 1


def test_recent_interest_outweighs_an_older_stronger_one():
    state = signals(None, [("category", "tents", 3.0, 0.0), ("category", "shoes", 1.0, 30 * DAY)])
    scores = affinity.scores_at(state, 30 * DAY)
    assert list(scores["category"]) == ["shoes", "tents"]


def test_normalised_scores_are_shares_and_non_positive_keys_are_not_read():
    state = signals(None, [("brand", "acme", 3.0, 0.0), ("brand", "zeta", 1.0, 0.0), ("brand", "gone", -1.0, 0.0)])
    scores = affinity.scores_at(state, 0.0)
    assert set(scores["brand"]) == {"acme", "zeta"}
    assert sum(scores["brand"].values()) == pytest.approx(1.0, abs=1e-3)
    assert scores["brand"]["acme"] > scores["brand"]["zeta"]


def test_each_dimension_keeps_the_top_n_with_deterministic_ties():
    config = AffinityConfig(top_n=3)
    state = signals(None, [("tag", key, 1.0, 0.0) for key in "edcba"], config)
    assert sorted(state["tag"]) == ["a", "b", "c"]  # equal scores: alphabetically first kept
    state = signals(state, [("tag", "z", 5.0, 0.0)], config)
    assert sorted(state["tag"]) == ["a", "b", "z"]


def test_trimming_compares_scores_at_a_common_time():
    config = AffinityConfig(top_n=2)
    # "old" had 3.0 forty days ago: worth far less than "new"'s 1.0 today, though its stored score is higher.
    state = signals(None, [("category", "old", 3.0, 0.0), ("category", "new", 1.0, 40 * DAY),
                           ("category", "newer", 1.0, 40 * DAY)], config)
    assert sorted(state["category"]) == ["new", "newer"]


def test_merge_equals_one_state_seeing_both_histories():
    rng = random.Random(7)
    a_items = [("category", rng.choice("abcdef"), rng.choice([1.0, 3.0, -1.0]), rng.uniform(0, 20 * DAY)) for _ in range(40)]
    b_items = [("category", rng.choice("defghi"), rng.choice([1.0, 5.0]), rng.uniform(0, 20 * DAY)) for _ in range(40)]
    merged = affinity.merge(signals(None, a_items), signals(None, b_items))
    both = signals(None, a_items + b_items)
    now = 21 * DAY
    got, want = affinity.scores_at(merged, now, normalise=False), affinity.scores_at(both, now, normalise=False)
    assert got["category"].keys() == want["category"].keys()
    for key, value in want["category"].items():
        assert got["category"][key] == pytest.approx(value, abs=1e-2)
    assert affinity.merge(None, both) == both


def test_add_returns_a_new_state():
    before = affinity.add(None, {"category": ["shoes"]}, 1.0, 0.0)
    snapshot = {d: {k: list(v) for k, v in keys.items()} for d, keys in before.items()}
    affinity.add(before, {"category": ["shoes", "hats"]}, 1.0, DAY)
    assert before == snapshot


def test_keys_and_signals_of_events():
    event = {"type": "track", "name": "Product Added", "category": " Shoes ", "brand": "Acme",
             "tags": ["running", "", "running", 3, "x" * 100]}
    assert affinity.signal_of(event) == "cart_add"
    keys = affinity.keys_of(event)
    assert keys["category"] == ["Shoes"] and keys["brand"] == ["Acme"]
    assert keys["tag"] == ["running", "x" * CONFIG.key_max_chars]
    assert affinity.keys_of({"type": "page"}) == {}  # tags missing, category None
    assert affinity.signal_of({"type": "page"}) == "view"
    assert affinity.signal_of({"type": "identify"}) is None
    assert CONFIG.weight("purchase") > CONFIG.weight("cart_add") > CONFIG.weight("view") > 0 > CONFIG.weight("cart_remove")
