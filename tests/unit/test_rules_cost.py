"""The cost bound of conditions (tastemaker/rules/cost.py, cel_ast.py): what the budget accepts evaluates
correctly on data at the caps, what exceeds it is refused naming why, and the caps are the real ones."""

from __future__ import annotations

import cel
import pytest

from tastemaker import behaviour, sessions
from tastemaker.affinity import AffinityConfig
from tastemaker.ingest import normalize
from tastemaker.ingest.collect import MAX_MESSAGE_BYTES
from tastemaker.profile import MAX_COUNTED_NAMES, ProfileConfig
from tastemaker.rules import RuleError, RuleSet, cel_ast, cel_source, cost, parse_rule
from tastemaker.rules import conditions
from tastemaker.rules.conditions import MAX_EXPRESSION_CHARS
from tastemaker.rules.context import VARIABLES, bounded_traits
from tastemaker.sessions import SessionConfig
from tastemaker.traits import TraitsConfig
from tests.support.rules import document

NOW = 1_795_737_720.0


def refusal(when: str, **fields) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(document(when=when, **fields))
    return caught.value


def estimated(source: str) -> int:
    fields = cel_source.field_selection(cel_source.paths(cel_source.tokenize(source), VARIABLES))
    return cost.estimate(source, fields).cost


# --- the caps the shapes rely on ---------------------------------------------------------------------

def test_the_caps_behind_the_shapes_are_the_ones_the_data_is_held_to():
    profile, traits, sessions_config = ProfileConfig(), TraitsConfig(), SessionConfig()
    assert cost.EVENT_BYTES == MAX_MESSAGE_BYTES
    assert (cost.ITEM_IDS, cost.TAGS, cost.TAG_CHARS) == (normalize.MAX_ITEM_IDS, normalize.MAX_TAGS,
                                                          normalize.MAX_TAG_LENGTH)
    assert (cost.TRAIT_KEYS, cost.TRAIT_KEY_CHARS, cost.TRAIT_VALUE_CHARS) == (
        traits.max_keys, traits.key_max_chars, traits.value_max_chars)
    assert cost.COUNTED_NAMES == MAX_COUNTED_NAMES == profile.max_counted_names
    assert (cost.SEGMENTS, cost.SEGMENT_CHARS) == (profile.segments_max, profile.segment_max_chars)
    assert (cost.AFFINITY_KEYS, cost.AFFINITY_KEY_CHARS) == (AffinityConfig().top_n, AffinityConfig().key_max_chars)
    assert cost.CART_ITEMS == profile.cart_max_items
    assert cost.SESSION_PAGES == 2 * sessions_config.summary_edge_pages
    assert cost.PATH_CHARS == sessions_config.max_path_length


def test_the_session_conditions_see_holds_at_most_the_pages_of_its_shape():
    state = None
    for n in range(60):
        state = sessions.apply(state, {"type": "page", "event_time": NOW + n, "page_path": f"/p/{n}",
                                       "page_view_id": f"v{n}", "page_type": "product"}, SessionConfig()).state
    view = behaviour._session_view(sessions.summarize(state["current"], SessionConfig()))
    assert len(state["current"]["pages"]) > cost.SESSION_PAGES
    assert len(view["pages"]) == cost.SESSION_PAGES


def test_event_traits_are_bounded_like_a_profiles_before_conditions_read_them():
    huge = {f"key-{i}": [""] * 5_000 for i in range(500)} | {"plan": "p" * 1_000, "x" * 100: 1, "ok": [1, 2]}
    bounded = bounded_traits(huge)
    assert len(bounded) <= cost.TRAIT_KEYS and "x" * 100 not in bounded
    assert all(len(str(v)) <= 4 * cost.TRAIT_VALUE_CHARS for v in bounded.values())
    rules = RuleSet([parse_rule(document(when='event.traits.plan.startsWith("ppp") && size(event.traits.plan) == 128'))])
    event = {"type": "identify", "name": None, "event_time": NOW, "traits": {"plan": "p" * 1_000}}
    assert [f.rule_id for f in rules.evaluate(None, event, {}, {}, None).firings] == ["r"]


# --- the budget --------------------------------------------------------------------------------------

def nested(n: int) -> str:
    """A condition whose estimate grows with n: for each cart item, a scan of a literal list of n numbers."""
    return f"profile.cart.items.exists(i, [{', '.join(str(k) for k in range(n))}].exists(x, i.qty == x + 1000))"


def test_a_condition_just_over_the_budget_is_refused_and_one_just_under_accepted():
    n = next(n for n in range(1, 200) if estimated(nested(n + 1)) > cost.BUDGET)
    assert estimated(nested(n)) <= cost.BUDGET < estimated(nested(n + 1))
    assert len(nested(n + 1)) < MAX_EXPRESSION_CHARS  # refused for its cost, not its length
    accepted = parse_rule(document(when=nested(n)))
    assert accepted.when.cost.cost == estimated(nested(n))
    error = refusal(nested(n + 1))
    assert error.field == "when"
    assert error.reason.startswith(f"estimated cost {estimated(nested(n + 1))} exceeds the budget {cost.BUDGET}")
    assert "comprehension over profile.cart.items (<= 50)" in error.reason


def test_when_and_unless_together_are_held_to_the_budget():
    half = next(n for n in range(1, 200) if estimated(nested(n)) > cost.BUDGET // 2)
    alone = parse_rule(document(when=nested(half), wait="10m", unless="true"))
    assert alone.unless is not None
    error = refusal(nested(half), wait="10m", unless=nested(half))
    assert error.field == "unless" and "with 'when'" in error.reason and str(cost.BUDGET) in error.reason


def full_cart(n: int = cost.CART_ITEMS) -> list[dict]:
    return [{"id": f"sku-{i}" + "-" * 100, "qty": 1, "price": 10.0 + i, "category": f"c{i}"} for i in range(n)]


def worst_profile() -> dict:
    return {
        "counts": {f"Event {i} " + "." * 150: i for i in range(cost.COUNTED_NAMES)},
        "segments": [f"segment-{i}" for i in range(cost.SEGMENTS)],
        "cart": {"items": full_cart(), "categories": [f"c{i}" for i in range(cost.CART_ITEMS)], "value": 500.0},
        "affinities": {"category": {f"aff-{i}": 0.5 for i in range(cost.AFFINITY_KEYS)}},
    }


def worst_event(**fields) -> dict:
    return {"type": "track", "name": "Product Viewed", "event_time": NOW,
            "item_ids": [f"sku-{i}" + "-" * 120 for i in range(cost.ITEM_IDS)],
            "tags": [f"tag-{i}" for i in range(cost.TAGS)], "device_type": "mobile",
            "page_path": "/p/" + "1" * 2_000, **fields}


# The costliest shapes the budget accepts (bench/rules_micro.py --cost times them), each with data at the
# caps and a tweak of that data that flips the answer: the estimate does not change what CEL computes.
COSTLIEST = [
    ('profile.cart.items.exists(i, i.price > 1000.0 && i.category == "none")',
     lambda p, e: p["cart"]["items"][-1].update(price=2000.0, category="none")),
    ("event.tags.exists(t, event.item_ids.exists(i, i == t))", lambda p, e: e["tags"].append(e["item_ids"][-1])),
    ('profile.counts.exists(k, k.startsWith("Zzz"))', lambda p, e: p["counts"].update({"Zzz last": 1})),
    ('profile.cart.categories.filter(c, c != "gift").size() > 50',
     lambda p, e: p["cart"]["categories"].append("c-extra")),
    ("event.item_ids.map(i, i).size() > 50", lambda p, e: e["item_ids"].append("one more")),
    ("profile.affinities.category.exists(c, c in profile.cart.categories)",
     lambda p, e: p["cart"]["categories"].append("aff-7")),
    ("profile.segments.exists(s, s in event.tags)", lambda p, e: e["tags"].append("segment-3")),
    ('event.device_type.matches("\\\\w")', lambda p, e: e.update(device_type="tablet")),
    ('event.page_path.matches("^/p/\\\\d+$")', lambda p, e: e.update(page_path="/p/123")),
]


@pytest.mark.parametrize("when, flip", COSTLIEST, ids=[w[:40] for w, _ in COSTLIEST])
def test_the_costliest_accepted_shapes_evaluate_correctly_on_data_at_the_caps(when, flip):
    rule = parse_rule(document(when=when))
    assert 1_000 < rule.when.cost.cost <= cost.BUDGET
    rules = RuleSet([rule])
    profile, event = worst_profile(), worst_event(device_type="   ", page_path="/p/" + "1" * 2_000 + "x")
    before = rules.evaluate(None, event, profile, {}, None)
    assert not before.errors and not before.firings
    flip(profile, event)
    after = rules.evaluate(None, event, profile, {}, None)
    assert not after.errors and [f.rule_id for f in after.firings] == ["r"]


def test_the_estimate_of_a_comprehension_is_its_body_times_the_range():
    one = estimated("profile.segments.exists(s, s == 'x')")
    two = estimated("profile.segments.exists(s, s == 'x' && s == 'y')")
    body = estimated("'a' == 'x' && 'a' == 'y'") - estimated("'a' == 'x'")
    assert two - one >= cost.SEGMENTS * body // 2  # the extra comparison counts once per segment
    assert estimated("session.pages.exists(p, p.dwell_ms > 1)") < estimated("profile.cart.items.exists(p, p.qty > 1)")


# --- what is refused, and why ------------------------------------------------------------------------

ADVERSARIAL = [
    # nested comprehensions
    ("profile.cart.items.exists(a, profile.cart.items.exists(b, a.id == b.id))", "profile.cart.items (<= 50) x"),
    ("event.item_ids.exists(a, event.item_ids.exists(b, event.item_ids.exists(c, a == b && b == c)))",
     "comprehension over event.item_ids (<= 50) x event.item_ids (<= 50) x event.item_ids"),
    ("session.pages.all(a, session.pages.all(b, session.pages.all(c, session.pages.all(d, "
     "profile.cart.items.all(e, e.qty > 0)))))", "comprehension over session.pages"),
    # results rebuilt on every element (map, filter) and growing lists
    ("profile.cart.items.map(a, profile.cart.items).size() > 0", "profile.cart.items"),
    ("profile.counts.map(k, k).filter(k, k != '').size() > 0", "profile.counts"),
    ("size(profile.cart.categories + profile.cart.categories + profile.cart.categories + profile.cart.categories"
     " + profile.cart.categories + profile.cart.categories + profile.cart.categories) > 0", "'+' building lists"),
    # strings grown by concatenation: CEL has no string repetition ("ab" * 3 is a no-overload error)
    ("size(event.name + event.name + event.name + event.name + event.name + event.name + event.name) > 0",
     "'+' building strings"),
    # regexes: large, nested repetition, Unicode classes repeated, or from the data
    ('event.name.matches("\\\\w{1000}")', "the regex"),
    ('event.name.matches("(a{100}){100}")', "the regex"),
    ('event.name.matches("\\\\pL{10}\\\\d{10}")', "the regex"),
    ("session.pages.exists(p, p.path.matches('[a-z]+\\\\w\\\\w'))", "comprehension over session.pages"),
    ("event.name.matches(event.page_path)", "string literal"),
    # reading big values whole
    ('"vip" in event.traits', "reading event"),
    ('event["name"] == "Product Viewed"', "reading event"),
    # sizes multiplied: every element compared with every other, in a comprehension over the counts
    ("profile.counts.exists(k, size(profile.counts) * size(k) > 0 && profile.counts.exists(j, j == k))",
     "profile.counts (<= 200) x profile.counts"),
    # nesting
    ("(" * 40 + "true" + ")" * 40, "nests more than"),
    ("!" * 40 + "true", "nests more than"),
    ("[" * 35 + "1" + "]" * 35 + " == []", "nests more than"),
    ("profile.cart.items.exists(a, " * 20 + "true" + ")" * 20, "nests more than"),
]


@pytest.mark.parametrize("when, why", ADVERSARIAL, ids=[w[:50] for w, _ in ADVERSARIAL])
def test_adversarial_conditions_are_refused_naming_why(when, why):
    error = refusal(when)
    assert error.field == "when"
    assert why in error.reason, error.reason


def test_a_refused_condition_is_never_evaluated(monkeypatch):
    # Each call of this regex compiles for tens of milliseconds (until Rust's size limit stops it): it is
    # refused before conditions.py evaluates the condition on the sample context.
    evaluated = []
    monkeypatch.setattr(conditions, "_check_on_sample", lambda condition, where: evaluated.append(condition))
    refusal('event.name.matches("\\\\w{1000}\\\\w{1000}")')
    assert evaluated == []
    parse_rule(document(when='event.name.matches("^Product")'))
    assert len(evaluated) == 1


def test_string_repetition_does_not_exist_in_cel_and_costs_nothing():
    rule = parse_rule(document(when='event.name * 3 == "x"'))  # a no-overload error at run time, at once
    assert rule.when.cost.cost < 200
    result = RuleSet([rule]).evaluate(None, worst_event(), {}, {}, None)
    assert [e.rule_id for e in result.errors] == ["r"] and not result.firings


# --- the syntax tree ---------------------------------------------------------------------------------

def test_the_tree_of_a_long_condition_is_wide_not_deep():
    long = " && ".join(['event.name != "X"'] * 90)
    assert cel_ast.depth(cel_ast.parse(long, cost.MAX_NESTING)) <= 4
    assert parse_rule(document(when=long)).when.cost.cost < cost.BUDGET


@pytest.mark.parametrize("source", [
    'event.name == "A" ? profile.cart.value > 1.0 : -session.duration_s < -2',
    '{"a": [1, 2u, 3.5, 0x1F, 1e3, .5], "b": null}.a.size() == 6',
    "[1, 2].map(x, x > 1, x * 2) == [4]",
    "[1, 2, 3].exists_one(x, x > 2) && !has(event.traits.plan)",
    'r"\\d" == "\\\\d" && b"ab" == b"ab" && """long""" == "long"',
    ".event.name == event.name",
    'event.item_ids[0] == "x" || event.campaign["source"] == "y"',
    '"a" in ["a"] && 1 % 2 == 1 && 4 / 2 == 2 && 1 - 1 == 0',
])
def test_the_parser_reads_what_cel_compiles(source):
    cel.compile(source)
    tree = cel_ast.parse(source, cost.MAX_NESTING)
    assert cel_ast.depth(tree) >= 2
    assert estimated(source) > 0


def test_what_the_parser_does_not_model_is_refused_not_guessed():
    with pytest.raises(cel_ast.Unsupported):
        cel_ast.parse("Foo{a: 1}.a == 1", cost.MAX_NESTING)
    with pytest.raises(ValueError):
        cel_ast.parse("a @ b", cost.MAX_NESTING)


def test_regex_weight_counts_repetitions_and_classes():
    assert cost.regex_weight("abc") == 3
    assert cost.regex_weight("a{10}") == 10
    assert cost.regex_weight("(a{10}){10}") > 100
    assert cost.regex_weight("\\w") > 100 * cost.regex_weight("[a-z]")
    assert cost.regex_weight("(?i)abc") > cost.regex_weight("abc")
    assert cost.regex_weight("(?P<name>a)b") == cost.regex_weight("(a)b")
    assert cost.regex_weight("\\w{1000}") >= 1000 * cost.regex_weight("\\w")


def random_expression(rng, depth: int = 0) -> str:
    """A random expression of CEL's grammar (names of the conditions' variables, literals, operators,
    calls, macros, lists, maps, ternaries), for checking that the parser reads whatever CEL compiles."""
    leaves = ["event.name", "profile.cart.value", "session.pages", "1", "2u", "3.5", '"s"', "'q'", "true", "null",
              'r"\\d"', 'b"x"', "event.tags", "profile.counts", "now", "x"]
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(leaves)
    sub = lambda: random_expression(rng, depth + 1)  # noqa: E731
    shape = rng.randrange(9)
    if shape == 0:
        return f"{sub()} {rng.choice(['&&', '||', '==', '!=', '<', '<=', '>', '>=', 'in', '+', '-', '*', '/', '%'])} {sub()}"
    if shape == 1:
        return f"{rng.choice(['!', '-', '!!'])}{sub()}"
    if shape == 2:
        return f"({sub()})"
    if shape == 3:
        return f"[{', '.join(sub() for _ in range(rng.randrange(4)))}]"
    if shape == 4:
        return "{" + ", ".join(f"{sub()}: {sub()}" for _ in range(rng.randrange(3))) + "}"
    if shape == 5:
        return f"{sub()} ? {sub()} : {sub()}"
    if shape == 6:
        macro = rng.choice(["all", "exists", "exists_one", "map", "filter"])
        return f"{sub()}.{macro}(x, {sub()})"
    if shape == 7:
        return f"{rng.choice(['size', 'string', 'int', 'dyn'])}({sub()})"
    return sub() + rng.choice([".size()", "[0]", ".name", '.contains("a")', '.startsWith("a")'])


def test_the_parser_reads_whatever_cel_compiles():
    import random

    rng, compiled = random.Random(11), 0
    for _ in range(1_500):
        source = random_expression(rng)
        try:
            cel.compile(source)
        except ValueError:
            continue  # CEL refuses it too
        compiled += 1
        try:
            tree = cel_ast.parse(source, 64)
        except cel_ast.TooDeep:
            continue
        assert cel_ast.depth(tree) >= 1, source
        cost._Estimator().cost(tree, {})  # estimates without failing
    assert compiled > 500
