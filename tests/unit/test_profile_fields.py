"""The profile's personalization fields: traits, recently viewed, cart, orders, context, segments, consent,
affinities, the long-dwell bonus and intent; their bounds; merge and reset."""

import copy
import json
import random

import pytest

from tastemaker import profile, sessions
from tastemaker.profile import ProfileConfig

DAY = 86400.0


def track(t, name, items=(), **more):
    return {"type": "track", "name": name, "event_time": t, "item_ids": list(items), **more}


def page(t, page_type=None, **more):
    return {"type": "page", "name": None, "event_time": t, "item_ids": [], "page_type": page_type,
            "event_id": f"pv-{t}", **more}


def identify(t, **traits):
    return {"type": "identify", "event_time": t, "item_ids": [], "traits": traits}


def run(events, state=None, config=profile.DEFAULT):
    for event in events:
        state = profile.apply_event(state, event, config)
    return state


def run_with_sessions(events, state=None, person_sessions=None):
    """The profile and the person's sessions state (tastemaker/sessions.py), as the person stage keeps them."""
    for event in events:
        person_sessions = sessions.apply(person_sessions, event).state
        state = profile.apply_event(state, event)
    return state, person_sessions


def test_traits_are_merged_bounded_and_none_removes_one():
    config = ProfileConfig(traits=profile.TraitsConfig(max_keys=3, value_max_chars=8))
    state = run([identify(1, plan="free", name="Ann", password="x", bio="b" * 50, tags=["a"] * 20),
                 identify(2, plan="pro", city="Lyon", country="FR", name=None)], config=config)
    assert state["traits"] == {"plan": "pro", "bio": "b" * 8, "city": "Lyon"}
    assert profile.set_trait(state, "plan", "gold", config)["traits"]["plan"] == "gold"
    assert state["traits"]["plan"] == "pro"  # helpers return a new profile


def test_recently_viewed_is_newest_first_unique_and_bounded():
    config = ProfileConfig(recently_viewed_max=3)
    state = run([track(1, "Product Viewed", ["a"]), track(2, "Product Viewed", ["b"]), page(3, "product", item_ids=["c"]),
                 track(4, "Product Viewed", ["a"]), track(5, "Product Viewed", ["d"]), track(6, "Product Clicked", ["e"])],
                config=config)
    assert [item for item, _ in state["recently_viewed"]] == ["d", "a", "c"]


def test_cart_follows_adds_removals_and_views_and_an_order_empties_it():
    state = run([track(1, "Product Added", ["a"], price=10.0, quantity=2, category="shoes"),
                 track(2, "Product Added", ["b"], price=5.0),
                 track(3, "Product Removed", ["a"], quantity=1)])
    assert state["cart"]["items"]["a"][0] == 1 and state["cart"]["value"] == 15.0
    viewed = run([track(4, "Cart Viewed", ["b", "c"])], state)
    assert sorted(viewed["cart"]["items"]) == ["b", "c"]
    assert run([track(4, "Cart Viewed")], state)["cart"] == state["cart"]  # no item ids: says nothing
    ordered = run([track(5, "Order Completed")], state)
    assert ordered["cart"]["items"] == {} and ordered["purchase_count"] == 1
    assert ordered["purchases"][0] == {"at": 5, "items": ["a", "b"], "revenue": 15.0}
    late = run([track(4.5, "Product Added", ["z"])], ordered)  # happened before the order: already bought
    assert late["cart"]["items"] == {}


def test_orders_count_revenue_refunds_and_purchases_are_bounded():
    config = ProfileConfig(purchases_max=3)
    state = run([track(t, "Order Completed", [f"o{t}"], revenue=10.0) for t in range(5)], config=config)
    assert (state["purchase_count"], state["revenue_total"]) == (5, 50.0)
    assert [order["at"] for order in state["purchases"]] == [4, 3, 2]
    state = run([track(6, "Order Refunded", revenue=10.0)], state, config)
    assert state["revenue_total"] == 40.0


def test_cart_is_bounded_by_dropping_the_item_added_longest_ago():
    state = run([track(t, "Product Added", [f"i{t}"]) for t in range(8)], config=ProfileConfig(cart_max_items=5))
    assert sorted(state["cart"]["items"]) == [f"i{t}" for t in range(3, 8)]


def test_last_context_takes_each_field_from_the_latest_event_carrying_it():
    state = run([page(1, device_type="mobile", locale="fr-FR", page_referrer="https://news.example/",
                      campaign={"source": "newsletter"}, geo={"country": "FR"}),
                 track(3, "Product Viewed", device_type="desktop"),
                 track(2, "Product Viewed", locale="de-DE")])  # late: older than what is held
    context = state["last_context"]
    assert (context["device"], context["locale"], context["campaign"]) == ("desktop", "fr-FR", {"source": "newsletter"})


def test_segments_are_sorted_unique_and_bounded():
    config = ProfileConfig(segments_max=2)
    state = profile.add_segment(profile.add_segment(profile.empty(), "vip", config), "churn", config)
    assert state["segments"] == ["churn", "vip"]
    assert profile.add_segment(state, "new", config) == state
    assert profile.add_segment(state, "vip", config) == state
    assert profile.remove_segment(state, "vip")["segments"] == ["churn"]


def test_affinities_come_from_views_cart_orders_and_long_dwell():
    state = run([page(0, "product", category="tents"), track(1, "Page Engaged", page_view_id="pv-0", dwell_ms=40000),
                 track(2, "Product Viewed", ["s"], category="shoes", brand="Acme", tags=["running"]),
                 track(3, "Product Added", ["s"], category="shoes", brand="Acme")])
    scores = profile.public_view(state, 3)["affinities"]
    assert list(scores["category"]) == ["shoes", "tents"]
    assert scores["brand"] == {"Acme": 1.0} and scores["tag"] == {"running": 1.0}
    without_dwell = run([page(0, "product", category="tents"), track(2, "Product Viewed", ["s"], category="shoes")])
    with_dwell = run([page(0, "product", category="tents"), track(1, "Page Engaged", page_view_id="pv-0", dwell_ms=40000),
                      track(2, "Product Viewed", ["s"], category="shoes")])
    tents = lambda s: profile.public_view(s, 2)["affinities"]["category"]["tents"]  # noqa: E731
    assert tents(with_dwell) > tents(without_dwell)
    # An order credits its cart items' categories; a removal takes some interest back.
    ordered = run([track(4, "Order Completed")], state)
    removed = run([track(4, "Product Removed", ["s"])], state)
    shoes = lambda s: s["affinities"]["category"]["shoes"][0]  # noqa: E731
    assert shoes(removed) < shoes(state) < shoes(ordered)


def test_intent_is_computed_when_read_at_the_time_of_reading():
    state, person_sessions = run_with_sessions(
        [page(0, "product", item_ids=["a"]), track(1, "Product Added", ["a"], price=9.0), page(2, "cart")])
    session = person_sessions["current"]
    assert state["intent"] is None and "session" not in state
    now = profile.refresh_intent(state, 2, session)
    assert now["intent"]["at"] == 2 and now["intent"]["abandonment_risk"] < 0.5
    later = profile.refresh_intent(state, 2 + 3600, session)
    assert later["intent"]["abandonment_risk"] > now["intent"]["abandonment_risk"]
    view = profile.public_view(state, 2 + 3600, session)
    assert view["intent"] == {k: v for k, v in later["intent"].items() if k != "at"}
    assert "idle" in view["intent_why"]["abandonment_risk"]
    # No open session (closed, or none yet): only the cart speaks.
    closed = profile.refresh_intent(state, 2 + 7200, None)["intent"]
    assert closed["purchase"] == closed["browse"] == 0 and closed["abandonment_risk"] > 0.5
    assert profile.public_view(profile.empty(), 5)["intent"] is None
    # A merge keeps the later computed intent; refreshed with the merged session, it reads both persons'.
    other, other_sessions = run_with_sessions([track(3, "Checkout Started")])
    other = profile.refresh_intent(other, 3, other_sessions["current"])
    merged = profile.merge(now, other)
    assert merged["intent"] == other["intent"]
    merged_session = sessions.merge(person_sessions, other_sessions).state["current"]
    refreshed = profile.refresh_intent(merged, 3, merged_session)
    assert refreshed["intent"]["purchase"] > max(now["intent"]["purchase"], other["intent"]["purchase"])


def test_long_dwell_bonus_once_per_page_view_with_its_keys():
    config = ProfileConfig(dwell_bonus_views=2)
    bonus = config.affinity.long_dwell

    def beat(t, view, dwell_s):
        return track(t, "Page Engaged", page_view_id=view, dwell_ms=int(dwell_s * 1000))

    tents = lambda s: s["affinities"]["category"].get("tents", [0])[0]  # noqa: E731
    state = run([page(0, "product", category="tents"), beat(15, "pv-0", 15)], config=config)
    assert tents(state) == 1.0 and state["dwell_bonus"] == {"pv-0": {"category": ["tents"]}}
    state = run([beat(30, "pv-0", 30), beat(45, "pv-0", 45)], state, config)
    assert tents(state) == pytest.approx(1.0 + bonus, abs=1e-3) and state["dwell_bonus"] == {"pv-0": "paid"}
    # A page view that says nothing learns its keys from its Product Viewed; the map keeps the latest views.
    state = run([page(50), track(51, "Product Viewed", ["s"], category="shoes"), page(60, category="hats"),
                 page(70, category="caps"), beat(90, "pv-50", 40), beat(91, "pv-60", 31)], state, config)
    assert list(state["dwell_bonus"]) == ["pv-60", "pv-70"] and state["dwell_bonus"]["pv-60"] == "paid"
    shoes = state["affinities"]["category"]["shoes"][0]
    assert shoes == pytest.approx(1.0, abs=1e-3)  # pv-50 had left the map: no bonus
    # Merged: a bonus paid on either side stays paid.
    merged = profile.merge(run([page(70, category="caps"), beat(99, "pv-70", 35)]), state, config)
    assert merged["dwell_bonus"] == {"pv-60": "paid", "pv-70": "paid"}


def test_opt_out_erases_and_stops_personalization_but_keeps_counting():
    state = run([track(1, "Product Viewed", ["a"], category="shoes"), track(2, "Product Added", ["a"])])
    state = profile.add_segment(state, "vip")
    out = profile.opt_out(state, 3)
    assert out["consent"] == {"personalization": False, "opted_out_at": 3}
    out = run([track(4, "Product Viewed", ["b"], category="hats")], out)
    assert out["affinities"]["category"] == {} and out["recently_viewed"] == [] and out["segments"] == []
    assert out["intent"] is None and out["dwell_bonus"] == {}
    assert out["events"] == 3 and sorted(out["cart"]["items"]) == ["a"]
    back = run([track(5, "Product Viewed", ["c"], category="hats")], profile.opt_in(out))
    assert list(back["affinities"]["category"]) == ["hats"]


def test_reset_clears_personalization_and_keeps_consent_and_history():
    state = profile.add_segment(run([track(1, "Product Viewed", ["a"], category="shoes")]), "vip")
    fresh = profile.reset(state)
    assert fresh["affinities"]["category"] == {} and fresh["segments"] == [] and fresh["recently_viewed"] == []
    assert fresh["intent"] is None and fresh["consent"] == state["consent"] and fresh["events"] == 1


ALL_NAMES = ["Product Viewed", "Product Added", "Product Removed", "Cart Viewed", "Order Completed"]


def random_history(rng, t0, n, names=ALL_NAMES):
    events = []
    for i in range(n):
        t = t0 + i * rng.uniform(1, 120)
        if rng.random() < 0.3:
            events.append(page(t, rng.choice(["product", "article", "category", "cart"]), category=rng.choice("abc")))
        else:
            events.append(track(t, rng.choice(names), [rng.choice("xyz")], price=3.0, category=rng.choice("abcd"),
                                brand=rng.choice(["B1", "B2"]), tags=[rng.choice(["t1", "t2"])], revenue=9.0))
    return events


def test_merge_combines_every_field_as_one_profile_seeing_both_histories():
    rng = random.Random(3)
    a_events, b_events = random_history(rng, 0, 30), random_history(rng, 100, 30)
    b_events += [identify(50, plan="pro")]
    a_events += [identify(10, plan="free", city="Lyon")]
    a, b = run(a_events), profile.add_segment(run(b_events), "vip")
    both = profile.add_segment(run(sorted(a_events + b_events, key=lambda e: e["event_time"])), "vip")
    merged = profile.merge(a, b)
    for name in ("events", "counts", "recent", "recently_viewed", "purchases", "purchase_count", "segments",
                 "first_seen", "last_seen"):
        assert merged[name] == both[name], name
    assert merged["revenue_total"] == pytest.approx(both["revenue_total"])
    assert merged["traits"] == {"plan": "pro", "city": "Lyon"}
    assert merged["cart"]["items"].keys() == both["cart"]["items"].keys()
    assert profile.merge(None, b) == b and profile.merge(a, None) == a
    refreshed = profile.refresh_intent(b, 9000, None)
    assert profile.merge(None, refreshed) == refreshed


def test_merged_affinities_are_those_of_one_profile_seeing_both_histories():
    # Without orders and removals, whose affinities credit each person's own cart items.
    rng = random.Random(4)
    names = ["Product Viewed", "Product Added", "Cart Viewed"]
    a_events, b_events = random_history(rng, 0, 40, names), random_history(rng, 100, 40, names)
    merged = profile.merge(run(a_events), run(b_events))
    both = run(sorted(a_events + b_events, key=lambda e: e["event_time"]))
    now = 5000
    got, want = (profile.public_view(p, now)["affinities"] for p in (merged, both))
    for dimension in want:
        assert got[dimension] == pytest.approx(want[dimension], abs=2e-3)


def test_merge_keeps_the_stricter_consent():
    a = run([track(1, "Product Viewed", ["a"], category="shoes")])
    b = profile.opt_out(run([track(2, "Product Viewed", ["b"])]), 3)
    merged = profile.merge(a, b)
    assert merged["consent"]["personalization"] is False and merged["affinities"]["category"] == {}


def test_apply_and_merge_do_not_change_their_inputs():
    state = run(random_history(random.Random(5), 0, 40))
    before = copy.deepcopy(state)
    run(random_history(random.Random(6), 5000, 20), state)
    profile.merge(state, state)
    profile.public_view(state, 9000)
    assert state == before


def test_a_profile_stored_before_the_new_fields_gains_them():
    old = {"events": 1, "counts": {"page": 1}, "first_seen": 1, "last_seen": 1, "devices": {}, "recent": [[1, "page", []]]}
    state = profile.apply_event(old, track(2, "Product Added", ["a"], category="shoes"))
    assert state["events"] == 2 and "a" in state["cart"]["items"] and state["affinities"]["category"]
    with_visit = {**profile.empty(), "session": {"start": 1, "last": 1}}  # the visit profiles once held
    del with_visit["dwell_bonus"]
    state = profile.apply_event(with_visit, page(2))
    assert "session" not in state and state["dwell_bonus"] == {"pv-2": {}}


def test_a_heavy_profile_stays_within_its_json_bound():
    rng = random.Random(11)
    state = run(random_history(rng, 0, 3000))
    for i in range(200):  # many distinct categories, tags, brands and a long identify
        state = run([track(10**6 + i, "Product Viewed", [f"item-{i}" * 4], category=f"category-{i}", brand=f"brand-{i}",
                           tags=[f"tag-{i}-{j}" for j in range(10)]), identify(10**6 + i, **{f"k{i}": "v" * 300})], state)
    config = profile.DEFAULT
    assert all(len(state["affinities"][d]) <= config.affinity.top_n for d in state["affinities"])
    assert len(state["traits"]) <= config.traits.max_keys
    assert len(json.dumps(state, separators=(",", ":"))) < 20_000
