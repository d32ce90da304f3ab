"""Evaluating rules on hand-built contexts: each kind of rule, the why of a match, runtime errors, the index."""

from __future__ import annotations

import json
from pathlib import Path

from tastemaker.rules import RuleSet, parse_rule, sample_context
from tests.support.rules import Counts, document, page, track

EXAMPLES = Path(__file__).parents[2] / "rules" / "examples"
T = 1_795_737_720.0


def example(name: str):
    return parse_rule((EXAMPLES / f"{name}.yaml").read_text())


def fired(rules, event, profile=None, session=None, signals=None, state=None):
    result = rules.evaluate(state, event, profile, session, signals)
    return [f.rule_id for f in result.firings]


def test_time_on_page_over_a_threshold():
    rules = RuleSet([example("long-page-read")])
    assert fired(rules, page(T), session={"current_page_dwell_s": 301.0}) == ["long-page-read"]
    assert fired(rules, page(T), session={"current_page_dwell_s": 299.0}) == []
    # without a session figure, the event's own dwell counts
    assert fired(rules, track("Page Heartbeat", T, dwell_ms=310_000)) == ["long-page-read"]
    assert fired(rules, track("Page Heartbeat", T)) == []


def test_three_product_pages_within_ten_minutes():
    rules = RuleSet([example("three-product-views")])
    three, two = Counts({"event:Product Viewed": 3}), Counts({"event:Product Viewed": 2})
    assert fired(rules, track("Product Viewed", T), signals=three) == ["three-product-views"]
    assert three.asked == [("event:Product Viewed", 600)]
    assert fired(rules, track("Product Viewed", T), signals=two) == []


def test_added_to_cart_viewed_checkout_purchased_viewed_content():
    rules = RuleSet([example(n) for n in ("added-to-cart", "viewed-checkout", "purchased", "viewed-guide")])
    assert fired(rules, track("Product Added", T)) == ["added-to-cart"]
    assert fired(rules, track("Checkout Started", T)) == ["viewed-checkout"]
    assert fired(rules, page(T, page_type="checkout")) == ["viewed-checkout"]
    assert fired(rules, page(T, page_type="product")) == []
    assert fired(rules, track("Order Completed", T)) == ["purchased"]
    assert fired(rules, page(T, page_path="/guides/sizing")) == ["viewed-sizing-guide"]
    assert fired(rules, page(T, page_path="/guides/returns")) == []


def test_actions_are_delivered_as_written():
    rules = RuleSet([example("purchased")])
    (firing,) = rules.evaluate(None, track("Order Completed", T), None, None, None).firings
    assert firing.actions == tuple(a.to_dict() for a in rules.rules["purchased"].actions)
    assert [a["type"] for a in firing.actions] == ["remove_segment", "add_segment", "set_trait"]
    json.dumps(firing.to_dict())  # JSON-ready


def test_bounce_and_quick_exit_on_session_end():
    rules = RuleSet([example("bounce"), example("quick-exit")])
    end = {"type": "session_end", "event_time": T, "campaign": {"source": "newsletter"}}
    assert fired(rules, end, session={"bounce": True}) == ["bounced"]
    assert fired(rules, end, session={"quick_exit": True}) == ["quick-exit"]
    assert fired(rules, {**end, "campaign": {}}, session={"quick_exit": True}) == []
    assert fired(rules, end, session={"bounce": False, "quick_exit": False}) == []
    assert fired(rules, page(T), session={"bounce": True, "quick_exit": True}) == []


def test_long_read_on_a_product_page_with_accessories_viewed():
    rules = RuleSet([example("accessories-for-reader")])
    reading = {"current_page_dwell_s": 400.0}
    viewed = Counts({"category:accessories": 2})
    event = page(T, page_type="product")
    (firing,) = rules.evaluate(None, event, None, reading, viewed).firings
    assert firing.actions[0]["kind"] == "recommendation_block"
    assert fired(rules, event, profile={"cart": {"categories": ["accessories"]}}, session=reading) == [
        "accessories-for-reader"]
    assert fired(rules, event, session=reading) == []  # no accessories
    assert fired(rules, event, session={"current_page_dwell_s": 100.0}, signals=viewed) == []  # short read
    assert fired(rules, page(T, page_type="category"), session=reading, signals=viewed) == []


def test_why_signals_name_the_helper_calls_and_paths_read():
    rules = RuleSet([example("three-product-views"), example("accessories-for-reader")])
    result = rules.evaluate(None, track("Product Viewed", T), None, None, Counts({"event:Product Viewed": 4}))
    assert result.firings[0].signals == {'count("Product Viewed","10m")': 4, "event.name": "Product Viewed"}
    result = rules.evaluate(None, page(T, page_type="product"), {"cart": {"categories": ["accessories"]}},
                            {"current_page_dwell_s": 400.0}, Counts())
    assert result.firings[0].signals == {
        "page_dwell_s()": 400.0, 'count_category("accessories","1h")': 0,
        "event.page_type": "product", "profile.cart.categories": ["accessories"],
    }


def test_big_why_values_are_summarized():
    rule = parse_rule(document(when="size(session.pages) > 2", on=["page"]))
    session = {"pages": [{"page_type": "product", "path": f"/p/{i}"} for i in range(30)]}
    (firing,) = RuleSet([rule]).evaluate(None, page(T), None, session, None).firings
    assert firing.signals == {"session.pages": "<list of 30>"}


def test_helper_calls_are_made_once_per_event_across_rules():
    rules = RuleSet([parse_rule(document(id=f"r{i}", when=f'count("Product Viewed", "10m") > {i}'))
                     for i in range(5)])
    signals = Counts({"event:Product Viewed": 3})
    assert len(fired(rules, track("Product Viewed", T), signals=signals)) == 3
    assert signals.asked == [("event:Product Viewed", 600)]


def test_only_the_fields_conditions_read_are_built_and_given_to_cel():
    """Converting values into CEL is the dominant cost: a rule reading ``profile.cart.value`` gets the cart's
    value, not its items, and the profile builder is told which fields are wanted (intent is costly)."""
    rules = RuleSet([
        parse_rule(document(id="value", when="profile.cart.value > 50.0 && profile.intent.purchase > 0.5")),
        parse_rule(document(id="items", when="size(profile.cart.items) == 2 && has_segment(\"vip\")")),
    ])
    asked = []

    def profile(fields):
        asked.append(fields)
        return {"cart": {"value": 80.0, "items": [{"id": "a"}, {"id": "b"}], "categories": []},
                "intent": {"purchase": 0.7, "browse": 0.1}, "segments": ["vip"], "traits": {"x": 1}}

    result = rules.evaluate(None, track("Product Viewed", T), profile, None, None)
    assert sorted(f.rule_id for f in result.firings) == ["items", "value"]
    assert asked == [{"cart": {"value": None, "items": None}, "intent": {"purchase": None}}]
    # No condition reads the profile: it is built with what the helpers need, and nothing else.
    asked.clear()
    rules = RuleSet([parse_rule(document(when='has_segment("vip") && event.name == "Product Viewed"'))])
    assert [f.rule_id for f in rules.evaluate(None, track("Product Viewed", T), profile, None, None).firings] == ["r"]
    assert asked == [{"segments": None}]


def test_field_selection_merges_paths_at_every_depth():
    from tastemaker.rules.cel_source import field_selection, merge_selections, select

    selection = field_selection(["profile.cart.value", "profile.intent.purchase", "profile.cart.categories", "now"])
    assert selection == {"profile": {"cart": {"value": None, "categories": None}, "intent": {"purchase": None}},
                         "now": None}
    assert merge_selections({"a": {"b": None}}, {"a": None}) == {"a": None}
    assert merge_selections({"a": {"b": None}}, {"a": {"c": None}, "d": None}) == {"a": {"b": None, "c": None},
                                                                                   "d": None}
    value = {"cart": {"value": 3.0, "items": [1, 2]}, "intent": 0.5, "traits": {}}
    assert select(value, {"cart": {"value": None, "missing": None}, "intent": {"x": None}}) == {
        "cart": {"value": 3.0}, "intent": 0.5}


def test_missing_documented_fields_read_as_defaults():
    rule = parse_rule(document(when='event.category == "shoes" || "x" in event.tags'))
    result = RuleSet([rule]).evaluate(None, track("Product Viewed", T), None, None, None)
    assert result.firings == [] and result.errors == []


def test_runtime_errors_are_counted_not_raised():
    failing = parse_rule(document(id="failing", when='profile.affinities.category.shoes > 0.5', priority=9))
    working = parse_rule(document(id="working"))
    rules = RuleSet([failing, working])
    result = rules.evaluate(None, track("Product Viewed", T), {"affinities": {}}, None, None)
    assert [f.rule_id for f in result.firings] == ["working"]
    assert "error:failing" in result.outcomes
    assert [(e.rule_id, e.field) for e in result.errors] == [("failing", "when")]
    type_mismatch = parse_rule(document(id="typed", when="event.price > 10"))
    result = RuleSet([type_mismatch]).evaluate(None, track("Product Viewed", T, price="cheap"), None, None, None)
    assert result.outcomes == ["error:typed"] and result.firings == []


def test_a_failing_signals_store_is_a_rule_error():
    class Broken:
        def count(self, key, window_seconds):
            raise ConnectionError("store gone")

    rules = RuleSet([example("three-product-views")])
    result = rules.evaluate(None, track("Product Viewed", T), None, None, Broken())
    assert result.outcomes == ["error:three-product-views"]


def test_indexed_rule_is_evaluated_only_for_its_labels_and_unindexed_on_every_event():
    indexed = parse_rule(document(id="indexed", when='event.name == "Product Viewed" && count("x", "1h") >= 0'))
    everywhere = parse_rule(document(id="everywhere", when='count("y", "1h") >= 0'))
    rules = RuleSet([indexed, everywhere])
    signals = Counts()
    assert fired(rules, track("Product Viewed", T), signals=signals) == ["everywhere", "indexed"]
    assert {key for key, _ in signals.asked} == {"event:x", "event:y"}
    signals = Counts()
    assert fired(rules, track("Signed Up", T), signals=signals) == ["everywhere"]
    assert {key for key, _ in signals.asked} == {"event:y"}  # the indexed rule did not run at all
    assert [r.id for r in rules.candidates(page(T))] == ["everywhere", "indexed"][:1]


def test_explicit_on_restricts_evaluation_and_type_or_name_match():
    rule = parse_rule(document(when="true", on=["page", "Order Completed"]))
    rules = RuleSet([rule])
    assert fired(rules, page(T, name="Home")) == ["r"]
    assert fired(rules, track("Order Completed", T)) == ["r"]
    assert fired(rules, track("Product Viewed", T)) == []


def test_disabled_rules_are_not_evaluated():
    rules = RuleSet([parse_rule(document(enabled=False))])
    assert rules.candidates(track("Product Viewed", T)) == ()
    assert fired(rules, track("Product Viewed", T)) == []


def test_conditions_run_on_the_sample_context():
    sample = sample_context()
    rule = parse_rule(document(
        when='event.name == "Product Viewed" && "shoes" in profile.cart.categories && has_segment("bargain-hunter")'
             ' && session.pages.exists(p, p.page_type == "product") && now > 0.0 && event.price > 50'))
    assert fired(RuleSet([rule]), sample["event"], sample["profile"], sample["session"]) == ["r"]


def test_explain_tells_candidate_match_and_why():
    rules = RuleSet([example("three-product-views")])
    explained = rules.explain("three-product-views", track("Product Viewed", T),
                              signals=Counts({"event:Product Viewed": 3}))
    assert explained["candidate"] is True and explained["labels"] == ["Product Viewed"]
    assert explained["when"]["matched"] is True
    assert explained["when"]["signals"]['count("Product Viewed","10m")'] == 3
    assert explained["guard"] is None
    other = rules.explain("three-product-views", track("Signed Up", T))
    assert other["candidate"] is False and other["when"]["matched"] is False
