"""Micro-benchmark of the rules engine (not a test): microseconds per event for RuleSet.evaluate with 50
enabled rules on realistic event/profile/session dicts.

Rules: the 10 examples of rules/examples plus 40 generated ones: 28 indexed on one of 8 event labels
(conditions mixing helper counts, profile and event fields), 12 unindexed (profile intent, segments,
session fields, a comprehension over session.pages). Events: a shopping stream of pages, product views,
add-to-carts, heartbeats, checkouts, session ends. The person's rule state is threaded through, so
guards and timers do their real work.

Each rule set is measured twice in the same run, alternating, ``--rounds`` times (the mean per event is the
median of the rounds' means; p50/p99 over all the rounds' events): as the engine evaluates it (conditions
compiled into Python, tastemaker/rules/compiled.py and inlined.py, converting nothing into CEL) and, as the
baseline, with every condition evaluated by the cel library (its context converting the fields read into CEL,
as the engine did before compiled.py), with the ratio of the two.

Also measured, to show where the time goes: the same with the three unindexed rules that read session.pages
(20 page dicts: converting them into CEL costs ~350 us) replaced by cheap ones; a few compiled conditions as
compiled.py's closures and as inlined.py's generated function; the library's evaluation with the context
converting whole variables instead of only the fields read (the projection the engine does), and the CEL
context build alone.

    /work/main/.venv/bin/python bench/rules_micro.py [--events 20000] [--rounds 5]

``--cost``: the evidence behind the cost budget (tastemaker/rules/cost.py). For typical conditions, the
costliest shapes the budget accepts and a few it refuses, on data at the caps (a full cart, 200 counted
names, 50 item ids, 30 traits of 128 characters, ...) and made so that no comprehension stops early: the
estimated units next to the measured time of what the estimate covers (evaluating the condition in the cel
library: building the CEL context with the fields the condition reads, then running it; less the baseline
every event pays once, an empty context), microseconds per 1,000 units, and the compiled evaluator's time
on the same (which the estimate bounds from above: it converts nothing).

    /work/main/.venv/bin/python bench/rules_micro.py --cost
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import random
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's tastemaker, not an installed one

import cel  # noqa: E402

from tastemaker.rules import RuleError, RuleSet, parse_rule  # noqa: E402
from tastemaker.rules import cel_ast, cel_source, cost, inlined  # noqa: E402
from tastemaker.rules import compiled as closures  # noqa: E402
from tastemaker.rules.conditions import Condition  # noqa: E402
from tastemaker.rules import ruleset as ruleset_module  # noqa: E402
from tastemaker.rules.context import VARIABLES, Scope  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "rules" / "examples"
LABELS = ["Product Viewed", "Product Added", "Product List Viewed", "Products Searched", "Checkout Started",
          "Order Completed", "Page Heartbeat", "page"]


PAGES_RULE = 'session.pages.exists(p, p.page_type == "product" && p.dwell_ms > 60000) && event.device_type == "mobile"'
CHEAP_RULE = 'session.duration_s > 600 && event.device_type == "mobile"'


def generated_rules(pages_rule: bool = True) -> list[dict]:
    rules = []
    for i in range(28):
        label = LABELS[i % len(LABELS)]
        condition = [
            f'event.name == "{label}" && count("{label}", "10m") >= {2 + i % 3}',
            f'event.name == "{label}" && event.category == "shoes" && profile.affinities.category.shoes > 0.{i % 9}',
            f'event.name == "{label}" && event.price > {10 * (i % 7)}.0 && has_segment("bargain-hunter")',
            f'event.name == "{label}" && count_item("sku-{i}", "1h") > 1 && size(profile.cart.items) > 0',
        ][i % 4]
        if label == "page":
            condition = f'event.type == "page" && event.page_type == "product" && page_dwell_s() > {30 * i}.0'
        rules.append({"id": f"indexed-{i}", "version": 1, "description": "generated", "priority": i % 5,
                      "when": condition, "cooldown": "10m", "cap": {"count": 3, "per": "1d"},
                      "actions": [{"type": "decision", "kind": "content_block", "block": f"b{i}"}]})
    for i in range(12):
        condition = [
            f"profile.intent.purchase > 0.{5 + i % 4} && !session.converted",
            f'has_segment("seg-{i}") && session.page_count > {3 + i}',
            PAGES_RULE if pages_rule else CHEAP_RULE,
            f'"shoes" in profile.cart.categories && profile.cart.value > {50 * i}.0',
        ][i % 4]
        rules.append({"id": f"everywhere-{i}", "version": 1, "description": "generated", "when": condition,
                      "cooldown": "1h", "actions": [{"type": "set_trait", "name": f"t{i}", "value": True}]})
    return rules


def world(seed: int = 7):
    rng = random.Random(seed)
    now = 1_795_737_720.0
    pages = [{"page_type": rng.choice(["home", "category", "product", "cart"]), "path": f"/p/sku-{i}",
              "dwell_ms": rng.randint(2_000, 90_000), "scroll_depth": rng.random()} for i in range(20)]
    profile = {
        "traits": {"plan": "free", "email_opt_in": True, "country": "DE"},
        "counts": {label: rng.randint(1, 40) for label in LABELS},
        "segments": ["bargain-hunter", "shoe-lover", "seg-3"],
        "intent": {"browse": 0.4, "research": 0.3, "purchase": 0.6, "abandonment": 0.1},
        "affinities": {"category": {"shoes": 0.8, "bags": 0.3, "accessories": 0.2, "socks": 0.1},
                       "brand": {"acme": 0.6, "globex": 0.2}},
        "cart": {"items": [{"id": "sku-1", "price": 59.9, "qty": 1, "category": "shoes"},
                           {"id": "sku-9", "price": 12.5, "qty": 2, "category": "socks"}],
                 "categories": ["shoes", "socks"], "value": 84.9},
        "purchases": 2, "consent": {"personalization": True, "marketing": False},
    }
    session = {"started_at": now - 900, "duration_s": 900, "page_count": 20, "pages": pages,
               "current_page_dwell_s": 45.0, "max_scroll": 0.9, "events": 31, "bounce": False, "quick_exit": False,
               "converted": False, "exit_page_type": None}
    names = ["Product Viewed"] * 5 + ["page"] * 4 + ["Page Heartbeat"] * 3 + ["Product Added", "Products Searched",
                                                                              "Checkout Started", "session_end"]
    events = []
    for i in range(2_000):
        name = rng.choice(names)
        base = {"event_time": now + i * 7.0, "device_type": "mobile", "locale": "de-DE", "page_url":
                "https://shop.example/p/sku-1", "page_path": "/p/sku-1", "campaign": {"source": "newsletter"},
                "traits": {}}
        if name in ("page", "session_end"):
            events.append({**base, "type": name, "page_type": rng.choice(["product", "category", "home"])})
        else:
            events.append({**base, "type": "track", "name": name, "item_ids": [f"sku-{rng.randint(1, 30)}"],
                           "category": rng.choice(["shoes", "bags", "socks"]), "brand": "acme",
                           "tags": ["sale", "new"], "price": round(rng.uniform(5, 200), 2),
                           "dwell_ms": rng.randint(1_000, 400_000), "scroll_depth": rng.random(),
                           "page_type": "product"})
    return events, profile, session


class Signals:
    def __init__(self, seed: int = 3):
        self.rng = random.Random(seed)

    def count(self, key: str, window_seconds: int) -> int:
        return self.rng.randint(0, 5)


def measure(rules: RuleSet, events, profile, session, n: int) -> tuple[list[float], float]:
    signals, state, per_event, evaluated = Signals(), None, [], 0
    for i in range(n):
        event = events[i % len(events)]
        started = time.perf_counter()
        result = rules.evaluate(state, event, profile, session, signals)
        per_event.append((time.perf_counter() - started) * 1e6)
        state = result.state
        evaluated += len(rules.candidates(event)) if event["type"] != "timer" else 0
    return per_event, evaluated / n


def report(name: str, samples: list[float], mean: float | None = None) -> float:
    samples = sorted(samples)
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    mean = statistics.fmean(samples) if mean is None else mean
    print(f"{name:<44} mean {mean:7.1f} us   p50 {p(0.5):7.1f}   p99 {p(0.99):7.1f}")
    return mean


def library_only(rules: RuleSet) -> RuleSet:
    """The same rules with every condition evaluated by the cel library (no compiled evaluator)."""
    def strip(condition):
        return condition and dataclasses.replace(condition, evaluator=None)
    return RuleSet((dataclasses.replace(rule, when=strip(rule.when), unless=strip(rule.unless))
                    for rule in rules.rules.values()), rules.fatigue)


def compare(name: str, rules: RuleSet, events, profile, session, n: int, rounds: int) -> float:
    """The rule set as the engine evaluates it against the library baseline, alternating ``rounds`` times."""
    sets = {"compiled": rules, "library": library_only(rules)}
    for rule_set in sets.values():
        measure(rule_set, events, profile, session, min(n, 2_000))  # warm-up: candidate cache, lru caches
    means: dict[str, list[float]] = {key: [] for key in sets}
    pooled: dict[str, list[float]] = {key: [] for key in sets}
    evaluated = 0.0
    for _ in range(rounds):
        for key, rule_set in sets.items():
            samples, evaluated = measure(rule_set, events, profile, session, n)
            means[key].append(statistics.fmean(samples))
            pooled[key] += samples
    compiled = report(name, pooled["compiled"], statistics.median(means["compiled"]))
    library = report("  baseline: every condition in the cel library", pooled["library"],
                     statistics.median(means["library"]))
    print(f"{'':<44} {library / compiled:.1f}x faster than the baseline; {evaluated:.1f} conditions evaluated "
          f"per event")
    return compiled


TYPICAL = [
    'event.name == "Product Viewed" && count("Product Viewed", "10m") >= 3',
    'profile.intent.purchase > 0.5 && !session.converted',
    'event.type == "page" && event.page_path == "/guides/sizing"',
    'session.pages.exists(p, p.page_type == "product" && p.dwell_ms > 60000)',
]
INLINED = [
    'event.name == "Product Viewed" && count("Product Viewed", "10m") >= 0',
    'profile.intent.purchase > 0.5 && !session.converted',
    '"shoes" in profile.cart.categories && profile.cart.value > 50.0',
    PAGES_RULE,
]
# Accepted, and among the costliest the budget lets through; each scans all its data on worst_world().
COSTLIEST = [
    'profile.cart.items.exists(i, i.price > 1000.0 && i.category == "none")',
    'event.tags.exists(t, event.item_ids.exists(i, i == t))',
    'profile.counts.exists(k, k.startsWith("Zzz"))',
    'profile.cart.categories.filter(c, c != "gift").size() > 100',
    'event.item_ids.map(i, i).size() > 100',
    'profile.affinities.category.exists(c, c in profile.cart.categories)',
    'profile.segments.exists(s, s in event.tags)',
    'event.device_type.matches("\\\\w")',
    'event.page_path.matches("^/p/\\\\d+$")',
    'has(event.traits.plan) && event.traits.plan == "pro"',
]
# Refused: measured all the same (compiled without the checks) to show the estimate tracks the real cost.
REFUSED = [
    'profile.cart.items.exists(a, profile.cart.items.exists(b, a.id == b.id && a.qty < 0))',
    'event.traits.exists(k, k == "zz")',
    'event.device_type.matches("\\\\w{10}")',
    'profile.cart.categories.map(a, profile.cart.categories).size() > 100',
]


def worst_world() -> tuple[dict, dict, dict]:
    """Event, profile and session at the caps of cost.SHAPES (strings long, lists full), such that the
    conditions above match nothing early."""
    now = 1_795_737_720.0
    long = lambda prefix, n: (prefix + "-" * n)[:n]  # noqa: E731
    event = {"type": "track", "name": "Product Viewed", "event_time": now, "device_type": "mobile",
             "item_ids": [long(f"sku-{i}-", 128) for i in range(cost.ITEM_IDS)],
             "tags": [long(f"tag-{i}-", cost.TAG_CHARS) for i in range(cost.TAGS)],
             "page_path": "/p/" + "1" * 2_000 + "x", "page_url": "https://shop.example/" + "p" * 2_000,
             "traits": {long(f"trait-{i}-", 60): [""] * 40 for i in range(cost.TRAIT_KEYS)}}
    event["traits"]["plan"] = "free"
    profile = {
        "traits": {long(f"t{i}-", 60): "v" * cost.TRAIT_VALUE_CHARS for i in range(cost.TRAIT_KEYS)},
        "counts": {long(f"Event {i} ", 160): i for i in range(cost.COUNTED_NAMES)},
        "segments": [long(f"segment-{i}-", cost.SEGMENT_CHARS) for i in range(cost.SEGMENTS)],
        "intent": {"browse": 0.4, "research": 0.3, "purchase": 0.6, "abandonment": 0.1},
        "affinities": {"category": {long(f"aff-{i}-", cost.AFFINITY_KEY_CHARS): 0.5
                                    for i in range(cost.AFFINITY_KEYS)},
                       "brand": {long(f"brand-{i}-", cost.AFFINITY_KEY_CHARS): 0.5 for i in range(cost.AFFINITY_KEYS)}},
        "cart": {"items": [{"id": long(f"sku-{i}-", 128), "qty": 1, "price": 10.0 + i, "category": long(f"c{i}-", 64)}
                           for i in range(cost.CART_ITEMS)],
                 "categories": [long(f"c{i}-", 64) for i in range(cost.CART_ITEMS)], "value": 500.0},
        "purchases": 3, "consent": {"personalization": True, "opted_out_at": None},
    }
    pages = [{"page_type": "category", "path": long(f"/c/{i}/", cost.PATH_CHARS), "dwell_ms": 5_000,
              "scroll_depth": 50} for i in range(cost.SESSION_PAGES)]
    session = {"started_at": now - 600, "duration_s": 600, "page_count": 30, "pages": pages,
               "current_page_dwell_s": 10.0, "max_scroll": 50, "events": 40, "bounce": False, "quick_exit": False,
               "converted": False, "exit_page_type": "category"}
    return event, profile, session


def unchecked_condition(source: str) -> Condition:
    """A Condition as conditions.compile_condition makes it, without its checks (the refused are timed too)."""
    tokens = cel_source.tokenize(source)
    paths = cel_source.paths(tokens, VARIABLES)
    return Condition(source, cel.compile(source), None, cel_source.field_selection(paths), tuple(paths), None,
                     inlined.compile_tree(cel_ast.parse(source, cost.MAX_NESTING), tokens))


def time_condition(source: str, event: dict, profile: dict, session: dict, seconds: float = 0.3,
                   compiled: bool = False) -> float:
    """Median microseconds of what the estimate covers: the context with the fields read, and the run in the
    cel library (``compiled``: the compiled evaluator's run instead, which builds no context)."""
    condition = unchecked_condition(source)
    samples, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        started = time.perf_counter()
        scope = Scope(event, profile, session, Signals(), event["event_time"], condition.fields)
        try:
            scope.run(condition) if compiled else scope.run_cel(condition.program)
        except Exception:  # noqa: BLE001 - a data error costs what it costs
            pass
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def cost_report() -> None:
    event, profile, session = worst_world()
    print(f"python {platform.python_version()}; budget {cost.BUDGET} units per rule per event")
    print(f"{'estimated':>10} {'measured':>10} {'us/1000u':>9} {'compiled':>10}  condition")
    ratios, accepted = [], {}
    # What every event pays once, whatever its rules: an empty context and a constant condition.
    baseline = time_condition("true", event, profile, session)
    compiled_baseline = time_condition("true", event, profile, session, compiled=True)
    print(f"(baseline, an empty context and 'true': {baseline:.1f} us per event, compiled {compiled_baseline:.1f} "
          "us, subtracted below)")
    for group, sources in (("typical", TYPICAL), ("costliest accepted", COSTLIEST), ("refused", REFUSED)):
        print(f"-- {group}")
        for source in sources:
            fields = cel_source.field_selection(cel_source.paths(cel_source.tokenize(source), VARIABLES))
            units = cost.estimate(source, fields).cost
            try:
                parse_rule({"id": "r", "version": 1, "description": "d", "when": source,
                            "actions": [{"type": "add_segment", "segment": "s"}]})
                verdict = "accepted"
            except RuleError:
                verdict = "refused"
            assert verdict == ("refused" if group == "refused" else "accepted"), (source, verdict)
            micros = max(time_condition(source, event, profile, session) - baseline, 0.0)
            compiled = max(time_condition(source, event, profile, session, compiled=True) - compiled_baseline, 0.0)
            if units >= 1_000:  # below, the context's fixed ~20 us (a few fields) dominates: see "typical"
                ratios.append(micros / units * 1000)
            if verdict == "accepted":
                accepted[source] = micros
            print(f"{units:>10} {micros:>8.1f}us {micros / units * 1000:>9.1f} {compiled:>8.1f}us  {source}")
    worst = max(accepted.values())
    typical = statistics.median(accepted[s] for s in TYPICAL)
    print(f"worst accepted {worst:.0f} us per event vs typical {typical:.1f} us (besides the baseline); "
          f"at most {max(ratios):.0f} us per 1000 units (conditions of 1000 units or more), so the budget of "
          f"{cost.BUDGET} units is at most "
          f"~{max(ratios) * cost.BUDGET / 1000:.0f} us here")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000, help="events per round and rule set")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cost", action="store_true", help="the cost budget's evidence instead")
    args = parser.parse_args()
    if args.cost:
        cost_report()
        return
    examples = [path.read_text() for path in sorted(EXAMPLES.glob("*.yaml"))]
    documents = examples + generated_rules()
    started = time.perf_counter()
    rules = RuleSet(parse_rule(d) for d in documents)
    parse_ms = (time.perf_counter() - started) * 1e3
    enabled = [r for r in rules.rules.values() if r.enabled]
    indexed = sum(r.labels is not None for r in enabled)
    compiled = sum(c.evaluator is not None for r in enabled for c in (r.when, r.unless) if c is not None)
    conditions = sum(c is not None for r in enabled for c in (r.when, r.unless))
    events, profile, session = world()
    print(f"python {platform.python_version()}, {len(enabled)} enabled rules ({indexed} indexed, "
          f"{len(enabled) - indexed} on every event), parsed and compiled in {parse_ms:.0f} ms; {compiled} of "
          f"{conditions} conditions compiled; {args.rounds} rounds of {args.events} events")

    compare("evaluate (projected context)", rules, events, profile, session, args.events, args.rounds)
    no_pages = RuleSet(parse_rule(d) for d in examples + generated_rules(pages_rule=False))
    compare("evaluate, no rule reads session.pages", no_pages, events, profile, session, args.events, args.rounds)

    print("one condition, compiled: closures (compiled.py) vs the generated function (inlined.py), ns per run")
    event = next(e for e in events if e.get("name") == "Product Viewed")
    for source in INLINED:
        tree, tokens = cel_ast.parse(source, cost.MAX_NESTING), cel_source.tokenize(source)
        fields = cel_source.field_selection(cel_source.paths(tokens, VARIABLES))
        timed = []
        for evaluator in (closures.compile_tree(tree, tokens), inlined.compile_tree(tree, tokens)):
            scope = Scope(event, profile, session, Signals(), event["event_time"], fields)
            evaluator(scope)  # the helpers' results memoized, as for every condition but the first on an event
            timed.append(min(timeit.repeat(lambda: evaluator(scope), number=20_000, repeat=5)) / 20_000 * 1e9)
        print(f"  {timed[0]:7.0f} {timed[1]:7.0f}  x{timed[0] / timed[1]:.1f}  {source}")

    fields = ruleset_module._fields
    ruleset_module._fields = lambda conditions, into=None: {name: None for name in VARIABLES}
    try:
        whole = library_only(RuleSet(rules.rules.values()))
        measure(whole, events, profile, session, 500)
        samples, _ = measure(whole, events, profile, session, max(args.events // 4, 1_000))
        report("library, whole variables converted", samples)
    finally:
        ruleset_module._fields = fields

    all_fields = {name: None for name in VARIABLES}
    build = []
    for i in range(5_000):
        started = time.perf_counter()
        Scope(events[i % len(events)], profile, session, None, 0.0, all_fields).cel_context()
        build.append((time.perf_counter() - started) * 1e6)
    report("CEL context build alone, whole variables", build)
    for name in ("event", "profile", "session"):
        build = []
        for i in range(2_000):
            started = time.perf_counter()
            Scope(events[i % len(events)], profile, session, None, 0.0, {name: None}).cel_context()
            build.append((time.perf_counter() - started) * 1e6)
        report(f"  of which {name}", build)


if __name__ == "__main__":
    main()
