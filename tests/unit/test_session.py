import copy

from tastemaker import session as sessions
from tastemaker.session import SessionConfig


def page(t, page_type, event_id=None, **more):
    return {"type": "page", "event_time": t, "page_type": page_type, "event_id": event_id or f"pv-{t}", **more}


def track(t, name, **more):
    return {"type": "track", "name": name, "event_time": t, **more}


def run(events, state=None, **kwargs):
    reached = []
    for event in events:
        state, keys = sessions.apply_event(state, event, **kwargs)
        reached.append(keys)
    return state, reached


def test_path_counts_and_a_page_view_with_its_track_event_are_one_step():
    state, _ = run([page(0, "category"), page(5, "product"), track(6, "Product Viewed"), track(50, "Product Viewed"),
                    track(60, "Cart Viewed"), page(61, None)])
    assert [step for step, _ in state["path"]] == ["category", "product", "product", "cart", "other"]
    assert state["counts"] == {"category": 1, "product": 2, "cart": 1, "other": 1}


def test_consecutive_checkout_steps_of_the_same_kind_all_count():
    state, _ = run([track(t, "Checkout Step Viewed") for t in (0, 1, 2)])
    assert state["counts"]["checkout"] == 3


def test_a_gap_starts_a_new_visit_and_the_path_is_bounded():
    config = SessionConfig(path_max=4)
    state, _ = run([page(t, "product") for t in range(0, 100, 10)], config=config)
    assert len(state["path"]) == 4 and state["path"][-1][1] == 90 and state["counts"]["product"] == 10
    state, _ = run([page(90 + config.gap_s + 1, "home")], state, config=config)
    assert state["counts"] == {"home": 1} and state["start"] == 90 + config.gap_s + 1


def test_heartbeats_add_the_increase_of_visible_dwell_and_scroll_and_reach_long_dwell_once():
    events = [page(0, "article", "a", ), track(15, "Page Engaged", page_view_id="a", dwell_ms=15000, scroll_depth=40),
              page(20, "article", "b"), track(30, "Page Engaged", page_view_id="a", dwell_ms=31000, scroll_depth=70),
              track(45, "Page Engaged", page_view_id="a", dwell_ms=45000, scroll_depth=60),
              track(46, "Page Engaged", page_view_id="b", dwell_ms=5000, scroll_depth=20)]
    events[0]["event_id"] = "a"
    state, reached = run(events, keys=None, long_dwell_ms=30000)
    assert state["engaged_ms"] == 50000
    assert (state["scroll_sum"], state["scrolled"]) == (90, 2)
    assert [r is not None for r in reached] == [False, False, False, True, False, False]
    assert state["views"][-1]["id"] == "b"  # the latest activity is the current view


def test_a_product_viewed_tells_the_page_view_what_it_is_about():
    state, _ = run([page(0, "product", "v")])
    state, _ = sessions.apply_event(state, track(1, "Product Viewed"), keys={"category": ["shoes"]})
    state, reached = sessions.apply_event(state, track(40, "Page Engaged", page_view_id="v", dwell_ms=40000),
                                          long_dwell_ms=30000)
    assert reached == {"category": ["shoes"]}


def test_apply_does_not_change_its_input():
    state, _ = run([page(0, "product", "v"), track(1, "Product Added")])
    before = copy.deepcopy(state)
    run([track(2, "Page Engaged", page_view_id="v", dwell_ms=9000, scroll_depth=50), page(3, "cart"),
         track(4, "Product Added")], state)
    assert state == before


def test_merge_overlapping_visits_is_one_visit_and_an_ended_one_is_dropped():
    a_events = [page(0, "product", "a1"), track(20, "Product Added"), track(40, "Cart Viewed")]
    b_events = [page(10, "article", "b1"), page(30, "article", "b2")]
    a, _ = run(a_events)
    b, _ = run(b_events)
    both, _ = run(sorted(a_events + b_events, key=lambda e: e["event_time"]))
    merged = sessions.merge(a, b)
    for field in ("start", "last", "counts", "path", "cart_adds", "last_cart_add", "engaged_ms"):
        assert merged[field] == both[field], field
    old, _ = run([page(-5000, "home")])
    assert sessions.merge(old, b) == b
    assert sessions.merge(None, b) == b and sessions.merge(None, None) is None
