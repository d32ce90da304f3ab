import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker import windows
from tastemaker.windows import WindowConfig

T0 = 1_795_737_600.0
STEP = 0.5  # event and query times lie on a half-second grid, so windows often end exactly on an event
# Small windows and grace so that generated streams cross every boundary: lateness, pruning, rebasing.
SMALL = WindowConfig(windows=(5.0, 20.0, 60.0), grace=4.0, max_keys=10_000, max_times_per_key=10_000,
                     max_times=100_000)
# One tight cap each (together the key cap would hide the others' saturation marks), and all three.
TIGHT_CAPS = [WindowConfig(windows=(5.0, 20.0, 60.0), grace=4.0, max_keys=keys, max_times_per_key=per_key,
                           max_times=total) for keys, per_key, total in [(4, 1000, 1000), (100, 4, 1000),
                                                                        (100, 1000, 10), (5, 6, 14)]]

LABELS = ["Product Viewed", "Product Added", None]  # None: a page event
ITEMS = ["p1", "p2", "p3"]
CATEGORIES = ["shoes", "hats", None]


def event(t, name="Product Viewed", items=(), category=None):
    kind = "track" if name else "page"
    return {"type": kind, "name": name, "event_time": t, "item_ids": list(items), "category": category}


class Oracle:
    """Every accepted event in a plain list; counts by linear scan; lateness by the rule itself."""

    def __init__(self, config):
        self.config, self.accepted, self.watermark = config, [], None

    def apply(self, e):
        t = round(e["event_time"] * 1000)
        if self.watermark is not None and t < self.watermark - round(self.config.grace * 1000):
            return True
        keys = {f"event:{e['name'] if e['type'] == 'track' else e['type']}"}
        keys |= {f"item:{i}" for i in e["item_ids"]}
        keys |= {f"category:{e['category']}"} if e["category"] else set()
        self.accepted.append((t, keys, e))
        self.watermark = t if self.watermark is None else max(self.watermark, t)
        return False

    def count(self, key, window, at):
        end, start = round(at * 1000), round(at * 1000) - round(window * 1000)
        return sum(1 for t, keys, _ in self.accepted if key in keys and start < t <= end)

    def keys(self):
        return sorted({k for _, keys, _ in self.accepted for k in keys})


@st.composite
def streams(draw, max_size=40):
    """Arrival order with its own clock: mostly forward, bursts at one time, some within the grace (4 s =
    8 steps) behind the newest, some later than that, now and then a jump past the longest window. Each
    event is one number (its label, item subset and category), which keeps generation cheap."""
    steps = st.one_of(st.integers(-14, 12), st.integers(-14, 0), st.just(0), st.integers(100, 200))
    kinds = st.integers(0, len(LABELS) * 2 ** len(ITEMS) * len(CATEGORIES) - 1)
    events, newest = [], 0
    for step, kind in draw(st.lists(st.tuples(steps, kinds), min_size=max_size // 4, max_size=max_size)):
        t = newest + step
        newest = max(newest, t)
        kind, label = divmod(kind, len(LABELS))
        category, subset = divmod(kind, 2 ** len(ITEMS))
        items = [item for bit, item in enumerate(ITEMS) if subset >> bit & 1]
        events.append(event(T0 + t * STEP, LABELS[label], items, CATEGORIES[category]))
    return events


def query_times(oracle, config, around=None):
    """``at`` at or after watermark - grace: the watermark, the earliest allowed, and times that put an
    accepted event exactly at ``at`` or exactly at ``at - window``; and windows starting just before and
    after ``around`` (a saturation mark)."""
    watermark = oracle.watermark / 1000
    earliest = watermark - config.grace
    edges = {t / 1000 + shift for t, _, _ in oracle.accepted[-5:] for shift in (0.0, *config.windows)}
    if around is not None:
        edges |= {around + k * STEP + w for k in range(-4, 3) for w in config.windows}
    return sorted({earliest, watermark, watermark + STEP} | {at for at in edges if at >= earliest})


def run(stream, config):
    state, oracle = None, Oracle(config)
    for e in stream:
        before = copy.deepcopy(state)
        applied = windows.apply(state, e, config)
        assert applied.late == oracle.apply(e)
        assert state == before  # a pure transition: the input state is left as it was
        state = applied.state
    return state, oracle


def assert_counts_match(state, oracle, config):
    for at in query_times(oracle, config):
        for key in oracle.keys():
            for window in config.windows:
                assert windows.count(state, key, window, at) == oracle.count(key, window, at), (key, window, at)


@settings(max_examples=40, deadline=None)
@given(streams())
def test_counts_and_lateness_match_a_brute_force_oracle(stream):
    state, oracle = run(stream, SMALL)
    assert windows.watermark(state) == oracle.watermark / 1000
    assert_counts_match(state, oracle, SMALL)
    assert state["saturated_since"] is None


@settings(max_examples=40, deadline=None)
@given(streams())
def test_pruning_keeps_only_what_a_query_could_still_count(stream):
    state, oracle = run(stream, SMALL)
    horizon = SMALL.windows[-1] + SMALL.grace
    kept = windows.timeline(state)
    assert all(kept.values())  # keys without times are gone
    assert all(t > windows.watermark(state) - horizon for times in kept.values() for t in times)
    assert all(times == sorted(times) for times in kept.values())
    # ...and nothing else went: every accepted event within the horizon is still there, under each key.
    expected = {}
    for t, keys, _ in sorted(oracle.accepted, key=lambda a: a[0]):
        if t > oracle.watermark - round(horizon * 1000):
            for key in keys:
                expected.setdefault(key, []).append(t / 1000)
    assert kept == expected


@settings(max_examples=50, deadline=None)
@given(streams(max_size=25), streams(max_size=25), st.integers(-30, 30))
def test_merge_equals_applying_both_accepted_streams(a_events, b_events, offset):
    b_events = [{**e, "event_time": e["event_time"] + offset * STEP} for e in b_events]
    a, a_oracle = run(a_events, SMALL)
    b, b_oracle = run(b_events, SMALL)
    # Everything either person accepted, in time order: a single stream without late events.
    both_events = sorted([e for _, _, e in a_oracle.accepted + b_oracle.accepted], key=lambda e: e["event_time"])
    both, both_oracle = run(both_events, SMALL)
    merged = windows.merge(a, b, SMALL)
    assert len(both_oracle.accepted) == len(both_events)
    assert windows.timeline(merged) == windows.timeline(both) == windows.timeline(windows.merge(b, a, SMALL))
    assert windows.watermark(merged) == windows.watermark(both)
    assert_counts_match(merged, both_oracle, SMALL)
    assert windows.merge(None, b, SMALL) == b and windows.merge(a, windows.empty(), SMALL) == a


def assert_within_caps(state, config):
    sizes = [len(times) for times in state["times"].values()]
    assert len(sizes) <= config.max_keys and max(sizes) <= config.max_times_per_key
    assert sum(sizes) <= config.max_times
    assert len(json.dumps(state)) <= config.max_json_chars


@pytest.mark.parametrize("config", TIGHT_CAPS)
@settings(max_examples=20, deadline=None)
@given(stream=streams(max_size=40))
def test_caps_bound_the_state_and_mark_counts_they_cut_as_lower_bounds(config, stream):
    state, oracle = None, Oracle(config)
    for e in stream:
        state = windows.apply(state, e, config).state
        oracle.apply(e)
        assert_within_caps(state, config)
    lower_bounds = 0
    for at in query_times(oracle, config, around=windows.saturated_since(state)):
        for key in oracle.keys():
            for window in config.windows:
                counted, true = windows.count(state, key, window, at), oracle.count(key, window, at)
                assert counted <= true
                if windows.is_exact(state, window, at):
                    assert counted == true, (key, window, at)
                lower_bounds += counted < true
    if lower_bounds:
        assert windows.saturated_since(state) is not None


@pytest.mark.parametrize("config", TIGHT_CAPS)
@settings(max_examples=10, deadline=None)
@given(a_events=streams(max_size=25), b_events=streams(max_size=25))
def test_merge_under_caps_stays_bounded_and_exact_where_it_says_so(config, a_events, b_events):
    a, a_oracle = run(a_events, config)
    b, b_oracle = run(b_events, config)
    merged = windows.merge(a, b, config)
    assert_within_caps(merged, config)
    union = Oracle(config)
    union.accepted = a_oracle.accepted + b_oracle.accepted
    union.watermark = max(a_oracle.watermark, b_oracle.watermark)
    for at in query_times(union, config, around=windows.saturated_since(merged)):
        for key in union.keys():
            for window in config.windows:
                counted, true = windows.count(merged, key, window, at), union.count(key, window, at)
                assert counted <= true
                if windows.is_exact(merged, window, at):
                    assert counted == true


def test_window_edges_count_the_event_at_at_but_not_the_one_at_at_minus_window():
    state = None
    for t in (100.0, 105.0, 110.0, 110.0):
        state = windows.apply(state, event(T0 + t, items=["p1"]), SMALL).state
    assert windows.count(state, "item:p1", 5.0, T0 + 110.0) == 2  # (105, 110]: both events at 110
    assert windows.count(state, "item:p1", 5.0, T0 + 105.0) == 1  # (100, 105]
    assert windows.count(state, "item:p1", 5.001, T0 + 105.0) == 2  # reaches 100 by a millisecond
    assert windows.count(state, "event:Product Viewed", 20.0, T0 + 110.0) == 4
    assert windows.count(state, "item:unknown", 20.0, T0 + 110.0) == 0


def test_an_event_exactly_grace_behind_the_watermark_counts_and_one_a_millisecond_older_is_late():
    state = windows.apply(None, event(T0 + 100.0), SMALL).state
    on_time = windows.apply(state, event(T0 + 100.0 - SMALL.grace), SMALL)
    late = windows.apply(on_time.state, event(T0 + 100.0 - SMALL.grace - 0.001), SMALL)
    assert not on_time.late and late.late and late.state == on_time.state
    assert windows.count(late.state, "event:Product Viewed", 60.0, T0 + 100.0) == 2


def test_pruning_drops_a_time_once_no_allowed_query_can_count_it_and_not_a_millisecond_earlier():
    horizon = SMALL.windows[-1] + SMALL.grace
    first = windows.apply(None, event(T0, items=["p1"]), SMALL).state
    kept = windows.apply(first, event(T0 + horizon - 0.001, items=["p2"]), SMALL).state
    # The earliest allowed query, over the longest window, still reaches T0 by a millisecond.
    assert windows.count(kept, "item:p1", SMALL.windows[-1], T0 + horizon - 0.001 - SMALL.grace) == 1
    pruned = windows.apply(kept, event(T0 + horizon, items=["p2"]), SMALL).state
    assert "item:p1" not in pruned["times"] and len(pruned["times"]["event:Product Viewed"]) == 2


def test_keys_of_an_event():
    e = {"type": "track", "name": "Order Completed", "event_time": T0, "item_ids": ["p1", "p2"], "category": "shoes"}
    assert windows.keys_of(e) == ["event:Order Completed", "item:p1", "item:p2", "category:shoes"]
    assert windows.keys_of({"type": "page", "name": "Home", "item_ids": [], "category": None}) == ["event:page"]
    long_name = {"type": "track", "name": "x" * 500, "item_ids": []}
    assert len(windows.keys_of(long_name)[0]) == windows.DEFAULT.max_key_chars


def test_counts_for_display_per_key_and_window_most_active_first_and_limited():
    state = None
    for i in range(30):
        state = windows.apply(state, event(T0 + i * 600.0, items=[f"p{i % 3}"]), windows.DEFAULT).state
    at = T0 + 29 * 600.0
    shown = windows.counts(state, at)
    assert list(shown) == ["event:Product Viewed", "item:p0", "item:p1", "item:p2"]
    assert shown["event:Product Viewed"] == {"10m": 1, "1h": 6, "1d": 30, "7d": 30}
    assert list(windows.counts(state, at, limit=2)) == ["event:Product Viewed", "item:p0"]
    assert windows.counts(None, at) == {}


def test_a_heavy_person_stays_under_the_documented_json_bound_and_is_marked_saturated():
    config, state = windows.DEFAULT, None
    for i in range(6_000):  # one event a minute for over four days, 3 items each, many distinct items
        e = event(T0 + i * 60.0, "Product Viewed", [f"item-{(i * 7 + k) % 900}" for k in range(3)], f"c{i % 40}")
        state = windows.apply(state, e, config).state
    sizes = [len(times) for times in state["times"].values()]
    assert len(sizes) <= config.max_keys and sum(sizes) <= config.max_times and max(sizes) <= config.max_times_per_key
    assert len(json.dumps(state)) <= config.max_json_chars
    at = T0 + 5_999 * 60.0
    assert windows.saturated_since(state) is not None
    assert windows.is_exact(state, 600, at) and not windows.is_exact(state, 7 * 86400, at)
    assert windows.count(state, "event:Product Viewed", 600, at) == 10


def test_the_base_moves_forward_and_counts_stay_the_same():
    state, t = None, T0
    for i in range(50):  # an event every 6 hours: 12 days, past 1.5 horizons of the defaults
        t = T0 + i * 6 * 3600.0
        state = windows.apply(state, event(t, items=["p1"]), windows.DEFAULT).state
    assert state["base"] > T0 and min(state["times"]["item:p1"]) >= 0
    assert windows.count(state, "item:p1", 7 * 86400, t) == 28  # (t - 7 d, t]: 7 days * 4 per day
    assert windows.count(state, "item:p1", 86400, t) == 4


def test_window_labels_and_config_validation():
    assert [windows.window_label(w) for w in (600, 3600, 86400, 604800, 90, 1.5)] == ["10m", "1h", "1d", "7d", "90s",
                                                                                        "1.5s"]
    with pytest.raises(ValueError):
        WindowConfig(windows=(3600, 600))
    with pytest.raises(ValueError):
        WindowConfig(max_keys=0)
