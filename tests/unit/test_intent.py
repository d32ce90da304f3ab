import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastemaker import intent, profile, sessions
from tastemaker.intent import INTENTS, IntentConfig


def page(t, page_type, event_id=None):
    return {"type": "page", "event_time": t, "page_type": page_type, "event_id": event_id or f"pv-{t}"}


def track(t, name, **more):
    return {"type": "track", "name": name, "event_time": t, "event_id": f"e-{t}-{name}", **more}


def add(t, *items):
    return track(t, "Product Added", item_ids=list(items), price=10.0)


def engaged(t, view_id, dwell_s, scroll):
    return track(t, "Page Engaged", page_view_id=view_id, dwell_ms=int(dwell_s * 1000), scroll_depth=scroll)


def fold(events, person=None, state=None):
    """The profile and the sessions state (tastemaker/sessions.py) after ``events``, in order."""
    for event in events:
        state = sessions.apply(state, event).state
        person = profile.apply_event(person, event)
    return person, state


def features(events, now=None, config=intent.DEFAULT):
    person, state = fold(events)
    return intent.features_from(person, state["current"], now, config)


def scores(events, now=None, config=IntentConfig()):
    return intent.score(features(events, now), config)


def top(result):
    return max(result, key=result.get)


def test_more_checkout_steps_mean_a_higher_purchase_intent():
    path = [page(0, "product"), add(5, "a"), page(10, "cart")]
    steps = [track(20, "Checkout Started"), track(30, "Checkout Step Viewed"), track(40, "Payment Info Entered")]
    purchase = [scores(path + steps[:n])["purchase"] for n in range(len(steps) + 1)]
    assert purchase == sorted(purchase) and len(set(purchase)) == len(purchase)
    assert top(scores(path + steps)) == "purchase"


def test_an_order_ends_the_purchase_intent():
    path = [page(0, "product"), add(5, "a"), page(10, "cart"), track(20, "Checkout Started")]
    before = scores(path)["purchase"]
    after = features(path + [track(30, "Order Completed")])
    assert after["funnel_steps"] == 0 and after["cart_items"] == 0  # the order emptied the cart
    assert intent.score(after)["purchase"] < before


def test_articles_read_at_length_are_research():
    events = []
    for i in range(4):
        t = i * 100
        events += [page(t, "article", f"a{i}"), engaged(t + 80, f"a{i}", 75, 90)]
    result = scores(events)
    assert top(result) == "research" and result["research"] > 0.7


def test_reading_shallowly_is_less_research_than_reading_deeply():
    def reading(dwell, scroll):
        return scores([page(0, "article", "a"), page(10, "article", "b"), engaged(40, "b", dwell, scroll)])["research"]

    assert reading(5, 10) < reading(50, 90)


def test_many_listing_and_product_pages_without_a_cart_are_browsing():
    events = [page(t * 10, "category" if t % 3 == 0 else "product") for t in range(9)]
    result = scores(events)
    assert top(result) == "browse" and result["browse"] > 0.5
    assert scores(events + [add(85, "a", "b")])["browse"] < result["browse"]


def test_a_cart_left_alone_is_an_abandonment_risk_and_an_empty_cart_is_none():
    events = [page(0, "product"), add(5, "a"), page(10, "cart", "c"), engaged(15, "c", 4, 30)]
    at_once = scores(events)
    quick_exit = scores(events, now=15 + 120)
    gone = scores(events, now=15 + 3600)
    assert at_once["abandonment_risk"] < quick_exit["abandonment_risk"] < gone["abandonment_risk"]
    assert gone["purchase"] == 0 and top(gone) == "abandonment_risk"
    no_item = [page(0, "product"), add(5), page(10, "cart", "c"), engaged(15, "c", 4, 30)]  # an add without an item
    assert scores(no_item, now=15 + 3600)["abandonment_risk"] == 0


def test_a_long_look_at_the_cart_is_no_quick_exit():
    events = [page(0, "product"), add(5, "a"), page(10, "cart", "c")]
    quick = scores(events + [engaged(14, "c", 4, 30)], now=200)
    slow = scores(events + [engaged(60, "c", 50, 30)], now=200)
    assert slow["abandonment_risk"] < quick["abandonment_risk"]


def test_steps_are_the_sessions_page_views_and_the_track_steps_of_its_time_window():
    events = [track(0, "Checkout Started"), page(4000, "product", "p"), track(4001, "Product Viewed"),
              track(4030, "Product Viewed"), page(4040, "cart", "c"), track(4042, "Cart Viewed"),
              track(4050, "Checkout Started"), engaged(4055, "c", 3, 20)]
    got = features(events)
    # The Checkout Started of the earlier session is not this session's; a page view and its own track event
    # are one step; a track event with no page view of its type is a step of its own.
    assert (got["product_views"], got["funnel_steps"], got["in_funnel"]) == (2, 2, True)
    assert got["page_dwell_s"] == 3 and got["avg_scroll"] == 0.2 and got["session_s"] == 55
    assert features(events + [track(4060, "Order Completed")])["funnel_steps"] == 0


def test_cart_adds_are_the_cart_items_added_in_the_session_and_cart_age_the_newest_items_age():
    events = [page(0, "product"), add(1, "old"), page(5000, "product"), add(5010, "a"), add(5020, "b"),
              track(5030, "Product Removed", item_ids=["b"])]
    got = features(events, now=5100)
    assert (got["cart_items"], got["cart_adds"], got["since_cart_add_s"]) == (2, 1, 90)
    person, _ = fold(events)
    without_session = intent.features_from(person, None, 5100 + 7200)
    assert without_session["since_cart_add_s"] == 7290 and without_session["idle_s"] == float("inf")
    result = intent.score(without_session)
    assert result["abandonment_risk"] > 0.5 and result["purchase"] == result["browse"] == 0


feature_values = st.fixed_dictionaries({
    "product_views": st.integers(0, 1000), "listing_views": st.integers(0, 1000),
    "article_views": st.integers(0, 1000), "article_streak": st.integers(0, 12), "funnel_steps": st.integers(0, 12),
    "in_funnel": st.booleans(), "cart_items": st.floats(0, 1e6), "cart_adds": st.integers(0, 1000),
    "since_cart_add_s": st.none() | st.floats(0, 1e9), "page_dwell_s": st.floats(0, 1e5),
    "avg_scroll": st.floats(0, 1), "engaged_s": st.floats(0, 1e6), "session_s": st.floats(0, 1e6),
    "idle_s": st.floats(0, 1e9),
})


@given(feature_values)
def test_scores_are_within_bounds_and_are_their_explained_terms_clipped(features):
    result = intent.score(features)
    why = intent.explain(features)
    for name in INTENTS:
        assert 0 <= result[name] <= 1
        assert result[name] == pytest.approx(min(max(sum(why[name].values()), 0), 1), abs=2e-3)


def test_weights_change_the_scores_as_documented():
    features_ = features([page(0, "article", "a"), engaged(30, "a", 30, 60)])
    scroll_only = dataclasses.replace(IntentConfig(), research={"scroll": 1.0})
    assert intent.score(features_, scroll_only)["research"] == pytest.approx(0.6)
    doubled = dataclasses.replace(IntentConfig(), research={k: 2 * w for k, w in IntentConfig().research.items()})
    base = intent.explain(features_)["research"]
    assert intent.explain(features_, doubled)["research"] == pytest.approx({k: 2 * v for k, v in base.items()})


def test_explain_names_the_terms_behind_a_score():
    events = [page(0, "product"), add(5, "a"), page(10, "cart"), track(20, "Checkout Started")]
    why = intent.explain(features(events))
    assert "funnel_steps" in why["purchase"] and why["purchase"]["funnel_steps"] > 0
    assert next(iter(why["purchase"])) == "funnel_steps"  # the largest term first
    emptied = events + [track(21, "Product Removed", item_ids=["a"])]
    assert "empty_cart" in intent.explain(features(emptied, now=4000))["abandonment_risk"]


def test_features_without_a_session_or_a_cart():
    assert intent.score(intent.features_from(profile.empty(), None)) == {name: 0 for name in INTENTS}


def test_weights_naming_an_unknown_signal_are_refused():
    with pytest.raises(ValueError, match="unknown signals"):
        IntentConfig(browse={"prodcut_views": 1.0})
