"""Guards (cooldown, cap, fatigue with priority) and timers, through RuleSet.evaluate on a person's rule state."""

from __future__ import annotations

import json

from tastemaker.rules import FatigueConfig, RuleSet, due_timers, parse_rule, timer_event
from tests.support.rules import document, track

T = 1_795_737_720.0
VIEW = track("Product Viewed", T)


def run(rules, events, session=None, state=None):
    """Evaluate events in order, threading the state; the evaluations."""
    results = []
    for event in events:
        result = rules.evaluate(state, event, None, session, None)
        state = result.state
        results.append(result)
    return results


def fired_at(results):
    return [[f.rule_id for f in r.firings] for r in results]


def test_cooldown():
    rules = RuleSet([parse_rule(document(cooldown="10m"))])
    results = run(rules, [track("Product Viewed", T + dt) for dt in (0, 300, 599, 600, 700)])
    assert fired_at(results) == [["r"], [], [], ["r"], []]
    assert results[1].outcomes == ["suppressed:cooldown"]
    assert results[1].suppressed[0].signals == {"event.name": "Product Viewed"}


def test_cap_keeps_only_the_firing_times_it_needs():
    rules = RuleSet([parse_rule(document(cap={"count": 2, "per": "1h"}))])
    times = [T, T + 60, T + 120, T + 3601, T + 3700, T + 3720]
    results = run(rules, [track("Product Viewed", t) for t in times])
    assert fired_at(results) == [["r"], ["r"], [], ["r"], ["r"], []]
    assert "suppressed:cap" in results[2].outcomes
    assert all(len(r.state.get("fired", {}).get("r", [])) <= 2 for r in results)


def test_rules_without_cooldown_or_cap_keep_no_history():
    rules = RuleSet([parse_rule(document(actions=[{"type": "add_segment", "segment": "s"}]))])
    (result,) = run(rules, [VIEW])
    assert result.firings and result.state == {}


def test_fatigue_gives_the_remaining_budget_by_priority_then_id():
    rules = RuleSet([parse_rule(document(id=i, priority=p)) for i, p in
                     [("low", 1), ("high", 9), ("b-mid", 5), ("a-mid", 5)]], FatigueConfig(per_session=2, per_day=10))
    (result,) = run(rules, [VIEW], session={"started_at": T - 60})
    assert [f.rule_id for f in result.firings] == ["high", "a-mid"]
    assert [(s.rule_id, s.reason) for s in result.suppressed] == [("b-mid", "fatigue"), ("low", "fatigue")]
    assert result.outcomes.count("suppressed:fatigue") == 2


def test_fatigue_per_session_and_per_day():
    rules = RuleSet([parse_rule(document(cooldown="1m"))], FatigueConfig(per_session=2, per_day=3))
    first = {"started_at": T}
    results = run(rules, [track("Product Viewed", T + 120 * i) for i in range(3)], session=first)
    assert fired_at(results) == [["r"], ["r"], []]
    state = results[-1].state
    second = {"started_at": T + 3600}  # a new session: budget again, up to the day's
    results = run(rules, [track("Product Viewed", T + 3600 + 120 * i) for i in range(2)], second, state)
    assert fired_at(results) == [["r"], []]
    assert results[-1].outcomes == ["suppressed:fatigue"]
    next_day = {"started_at": T + 86_400 * 2}
    assert fired_at(run(rules, [track("Product Viewed", T + 86_400 * 2)], next_day, results[-1].state)) == [["r"]]


def test_trait_and_segment_actions_do_not_count_against_fatigue():
    rules = RuleSet([parse_rule(document(id="s", actions=[{"type": "add_segment", "segment": "s"}])),
                     parse_rule(document(id="d"))], FatigueConfig(per_session=0, per_day=0))
    (result,) = run(rules, [VIEW])
    assert [f.rule_id for f in result.firings] == ["s"]
    assert [s.rule_id for s in result.suppressed] == ["d"]


def cart_rule(**fields):
    return parse_rule(document(id="cart", when='event.name == "Product Added"', wait="30m",
                               unless='event.name in ["Checkout Started", "Order Completed"]', **fields))


def test_cart_without_checkout_fires_when_due():
    rules = RuleSet([cart_rule()])
    (armed,) = run(rules, [track("Product Added", T, item_ids=["sku-1"])])
    assert armed.firings == [] and [(a.rule_id, a.due) for a in armed.armed] == [("cart", T + 1800)]
    assert due_timers(armed.state, T + 1799) == [] and due_timers(armed.state, T + 1800) == [("cart", T + 1800)]
    (due,) = run(rules, [timer_event("cart", T + 1800)], state=armed.state)
    (firing,) = due.firings
    assert firing.trigger == "timer" and firing.at == T + 1800
    assert firing.signals["event.name"] == "Product Added" and firing.signals["timer.due"] == T + 1800
    assert "timers" not in due.state


def test_checkout_disarms_the_cart_timer():
    rules = RuleSet([cart_rule()])
    results = run(rules, [track("Product Added", T), track("Checkout Started", T + 600),
                          timer_event("cart", T + 1800)])
    assert results[1].disarmed == ["cart"] and "timer:disarmed" in results[1].outcomes
    assert results[2].firings == [] and results[2].outcomes == ["timer:stale"]


def test_rearm_moves_the_timer_or_keeps_it():
    moved = run(RuleSet([cart_rule()]), [track("Product Added", T), track("Product Added", T + 600),
                                         timer_event("cart", T + 1800), timer_event("cart", T + 2400)])
    assert fired_at(moved) == [[], [], [], ["cart"]]
    assert moved[2].outcomes == ["timer:stale"]  # the first schedule, moved away
    kept = run(RuleSet([cart_rule(rearm=False)]), [track("Product Added", T), track("Product Added", T + 600),
                                                    timer_event("cart", T + 1800)])
    assert kept[1].outcomes == ["timer:kept"] and fired_at(kept) == [[], [], ["cart"]]


def test_an_overdue_timer_fires_on_the_next_event_before_unless_applies():
    rules = RuleSet([cart_rule()])
    results = run(rules, [track("Product Added", T), track("Checkout Started", T + 4000)])
    assert fired_at(results) == [[], ["cart"]] and results[1].disarmed == []


def test_timer_firing_goes_through_the_guards():
    rules = RuleSet([cart_rule(cooldown="12h")])
    results = run(rules, [track("Product Added", T), timer_event("cart", T + 1800),
                          track("Product Added", T + 2000), timer_event("cart", T + 3800)])
    assert fired_at(results) == [[], ["cart"], [], []]
    assert results[3].outcomes == ["suppressed:cooldown"]


def test_timers_of_changed_disabled_or_deleted_rules_are_dropped():
    (armed,) = run(RuleSet([cart_rule()]), [track("Product Added", T)])
    changed = RuleSet([cart_rule()]).with_rule(cart_rule(version=2))
    disabled = RuleSet([cart_rule(version=2, enabled=False)])
    for rules in (changed, disabled, RuleSet()):
        (result,) = run(rules, [timer_event("cart", T + 1800)], state=armed.state)
        assert result.firings == [] and "timer:dropped" in result.outcomes
        assert "timers" not in result.state


def test_history_of_deleted_rules_is_dropped():
    rules = RuleSet([parse_rule(document(cooldown="1h"))])
    (first,) = run(rules, [VIEW])
    assert "r" in first.state["fired"]
    (after,) = run(RuleSet(), [VIEW], state=first.state)
    assert "fired" not in after.state


def test_state_is_json_bounded_and_unchanged_state_is_reported():
    rules = RuleSet([cart_rule(cap={"count": 3, "per": "1d"}),
                     parse_rule(document(id="d", cooldown="1m", cap={"count": 5, "per": "1d"}))],
                    FatigueConfig(per_session=4, per_day=6))
    state, sizes = None, []
    for i in range(300):
        event = track("Product Added" if i % 3 else "Product Viewed", T + 97 * i)
        result = rules.evaluate(state, event, None, {"started_at": T + 3600 * (i // 40)}, None)
        state = result.state
        json.loads(json.dumps(state))
        sizes.append(len(json.dumps(state)))
        assert len(state.get("decisions", [])) <= 6
        assert all(len(times) <= 5 for times in state.get("fired", {}).values())
        assert len(state.get("timers", {})) <= 1
    assert max(sizes) < 2_000
    quiet = rules.evaluate(state, track("Signed Up", T + 97 * 300), None, None, None)
    assert quiet.changed is False and quiet.state == state
