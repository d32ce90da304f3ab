import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastemaker import intent, session as sessions
from tastemaker.intent import INTENTS, IntentConfig


def page(t, page_type, event_id=None):
    return {"type": "page", "event_time": t, "page_type": page_type, "event_id": event_id or f"pv-{t}"}


def track(t, name, **more):
    return {"type": "track", "name": name, "event_time": t, **more}


def engaged(t, view_id, dwell_s, scroll):
    return track(t, "Page Engaged", page_view_id=view_id, dwell_ms=int(dwell_s * 1000), scroll_depth=scroll)


def profile_after(events, cart_items=0):
    visit = None
    for event in events:
        visit, _ = sessions.apply_event(visit, event)
    items = {f"p{i}": [1, 10.0, None, None, 0] for i in range(cart_items)}
    return {"session": visit, "cart": {"items": items}}


def scores(events, cart_items=0, now=None, config=IntentConfig()):
    return intent.score(intent.features_from(profile_after(events, cart_items), now=now), config)


def top(result):
    return max(result, key=result.get)


def test_more_checkout_steps_mean_a_higher_purchase_intent():
    path = [page(0, "product"), track(5, "Product Added"), page(10, "cart")]
    steps = [track(20, "Checkout Started"), track(30, "Checkout Step Viewed"), track(40, "Payment Info Entered")]
    purchase = [scores(path + steps[:n], cart_items=1)["purchase"] for n in range(len(steps) + 1)]
    assert purchase == sorted(purchase) and len(set(purchase)) == len(purchase)
    assert top(scores(path + steps, cart_items=1)) == "purchase"


def test_an_order_ends_the_purchase_intent():
    path = [page(0, "product"), track(5, "Product Added"), page(10, "cart"), track(20, "Checkout Started")]
    before = scores(path, cart_items=1)["purchase"]
    after = scores(path + [track(30, "Order Completed")], cart_items=0)["purchase"]
    assert after < before


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
    assert scores(events, cart_items=2)["browse"] < result["browse"]


def test_a_cart_left_alone_is_an_abandonment_risk_and_an_empty_cart_is_none():
    events = [page(0, "product"), track(5, "Product Added"), page(10, "cart", "c"), engaged(15, "c", 4, 30)]
    at_once = scores(events, cart_items=1)
    quick_exit = scores(events, cart_items=1, now=15 + 120)
    gone = scores(events, cart_items=1, now=15 + 3600)
    assert at_once["abandonment_risk"] < quick_exit["abandonment_risk"] < gone["abandonment_risk"]
    assert gone["purchase"] == 0 and top(gone) == "abandonment_risk"
    assert scores(events, cart_items=0, now=15 + 3600)["abandonment_risk"] == 0


def test_a_long_look_at_the_cart_is_no_quick_exit():
    events = [page(0, "product"), track(5, "Product Added"), page(10, "cart", "c")]
    quick = scores(events + [engaged(14, "c", 4, 30)], cart_items=1, now=200)
    slow = scores(events + [engaged(60, "c", 50, 30)], cart_items=1, now=200)
    assert slow["abandonment_risk"] < quick["abandonment_risk"]


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
    events = [page(0, "article", "a"), engaged(30, "a", 30, 60)]
    features = intent.features_from(profile_after(events))
    scroll_only = dataclasses.replace(IntentConfig(), research={"scroll": 1.0})
    assert intent.score(features, scroll_only)["research"] == pytest.approx(0.6)
    doubled = dataclasses.replace(IntentConfig(), research={k: 2 * w for k, w in IntentConfig().research.items()})
    base = intent.explain(features)["research"]
    assert intent.explain(features, doubled)["research"] == pytest.approx({k: 2 * v for k, v in base.items()})


def test_explain_names_the_terms_behind_a_score():
    events = [page(0, "product"), track(5, "Product Added"), page(10, "cart"), track(20, "Checkout Started")]
    why = intent.explain(intent.features_from(profile_after(events, cart_items=1)))
    assert "funnel_steps" in why["purchase"] and why["purchase"]["funnel_steps"] > 0
    assert next(iter(why["purchase"])) == "funnel_steps"  # the largest term first
    assert "empty_cart" in intent.explain(intent.features_from(profile_after(events), now=4000))["abandonment_risk"]


def test_features_without_a_visit():
    features = intent.features_from({"session": None, "cart": {"items": {}}})
    assert intent.score(features) == {name: 0 for name in INTENTS}


def test_weights_naming_an_unknown_signal_are_refused():
    with pytest.raises(ValueError, match="unknown signals"):
        IntentConfig(browse={"prodcut_views": 1.0})
