import copy
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from tastemaker import sessions
from tastemaker.sessions import SessionConfig, apply, close_if_idle, due_at, merge

T0 = 1_795_000_000.0
IDLE = sessions.DEFAULT.idle_timeout


def page(t, path="/", pv=None, person="u1", **fields):
    return {"event_id": pv or f"pv-{person}-{t}", "type": "page", "name": None, "event_time": T0 + t,
            "page_path": path, "item_ids": [], "person": person, **fields}


def track(t, name, items=(), path=None, person="u1", **fields):
    return {"event_id": f"ev-{person}-{t}-{name}", "type": "track", "name": name, "event_time": T0 + t,
            "page_path": path, "item_ids": list(items), "person": person, **fields}


def heartbeat(t, pv, dwell_ms, scroll=None, path=None, person="u1"):
    return track(t, "Page Engaged", path=path, person=person, page_view_id=pv, dwell_ms=dwell_ms,
                 scroll_depth=scroll)


def run(events, state=None, config=sessions.DEFAULT):
    closed, late = [], []
    for event in events:
        step = apply(state, event, config)
        state = step.state
        if step.closed:
            closed.append(step.closed)
        if step.late:
            late.append(event)
    return state, closed, late


def test_a_gap_of_exactly_the_idle_timeout_continues_the_session_and_a_longer_one_starts_a_new():
    state, closed, _ = run([page(0), page(IDLE, "/p/1")])
    assert closed == [] and state["current"]["page_count"] == 2

    state, closed, _ = run([page(0), page(IDLE + 0.001, "/p/1")])
    assert len(closed) == 1 and closed[0]["page_count"] == 1
    assert state["current"]["page_count"] == 1 and state["current"]["start"] == T0 + IDLE + 0.001
    assert state["history"] == closed


def test_the_idle_timeout_is_configurable():
    config = SessionConfig(idle_timeout=60)
    _, closed, _ = run([page(0), page(61)], config=config)
    assert len(closed) == 1


def test_session_times_counts_entry_and_exit():
    state, _, _ = run([page(0, "/"), track(5, "Product Viewed", ["p1"], "/p/1"), page(4, "/p/1", pv="x"),
                       page(60, "/cart"), track(61, "Cart Viewed", path="/cart")])
    summary = sessions.summarize(state["current"])
    assert (summary["start"], summary["end"], summary["duration_s"]) == (T0, T0 + 61, 61)
    assert summary["events"] == 5 and summary["page_count"] == 3
    assert summary["entry"] == {"path": "/", "page_type": "home"}
    assert summary["exit"]["path"] == "/cart" and summary["exit"]["page_type"] == "cart"
    assert summary["page_types"] == {"home": 1, "product": 1, "cart": 1}


def test_heartbeats_raise_dwell_and_scroll_of_their_own_page_view():
    state, _, _ = run([
        page(0, "/", pv="a"), heartbeat(15, "a", 15_000, 30),
        page(20, "/p/1", pv="b"), heartbeat(35, "b", 15_000, 50),
        heartbeat(36, "a", 16_000, 40),  # the first tab again
        heartbeat(50, "b", 29_000, 45),  # scrolled back up: the max stays
        heartbeat(49, "b", 28_000, 90),  # out of order: dwell keeps its max, scroll rises
    ])
    pages = {p["page_view_id"]: p for p in state["current"]["pages"]}
    assert (pages["a"]["dwell_ms"], pages["a"]["scroll_depth"]) == (16_000, 40)
    assert (pages["b"]["dwell_ms"], pages["b"]["scroll_depth"]) == (29_000, 90)
    assert state["current"]["max_scroll"] == 90
    assert state["current"]["page_count"] == 2


def test_a_heartbeat_before_its_page_view_adds_the_page_which_the_page_view_then_fills_in():
    state, _, _ = run([page(0, "/", pv="a"),
                       heartbeat(20, "b", 12_000, 60, path="/p/9"),
                       page(8, "/p/9", pv="b", page_title="Red shoe")])
    current = state["current"]
    assert current["page_count"] == 2
    b = current["pages"][-1]
    assert b["at"] == T0 + 8 and b["title"] == "Red shoe" and b["page_type"] == "product"
    assert (b["dwell_ms"], b["scroll_depth"]) == (12_000, 60)
    assert current["page_types"] == {"home": 1, "product": 1}


def test_a_repeated_page_view_counts_once():
    state, _, _ = run([page(0, "/", pv="a"), page(0, "/", pv="a")])
    assert state["current"]["page_count"] == 1 and len(state["current"]["pages"]) == 1


def close(state, config=sessions.DEFAULT):
    return close_if_idle(state, due_at(state, config) + 1, config)


@pytest.mark.parametrize("events, bounce", [
    ([page(0, "/lp")], True),
    ([page(0, "/lp"), heartbeat(9, "pv-u1-0", 9_000)], True),
    ([page(0, "/lp"), heartbeat(12, "pv-u1-0", 12_000)], False),  # engaged long enough
    ([page(0, "/lp"), track(11, "Newsletter Signup", path="/lp")], False),  # lasted long enough
    ([page(0, "/lp"), page(3, "/p/1")], False),  # two pages
    ([page(0, "/checkout"), track(2, "Order Completed", path="/checkout")], False),  # converted
])
def test_bounce(events, bounce):
    state, _, _ = run(events)
    assert close(state).closed["bounce"] is bounce


@pytest.mark.parametrize("events, quick_exit", [
    ([page(0, "/"), page(10, "/p/1", pv="x"), heartbeat(14, "x", 4_000)], True),
    ([page(0, "/"), page(10, "/p/1", pv="x"), heartbeat(30, "x", 20_000)], False),  # stayed on it
    ([page(0, "/"), page(10, "/blog/a", pv="x"), heartbeat(14, "x", 4_000)], False),  # not a watched type
    ([page(0, "/"), page(10, "/cart", pv="x")], True),  # no heartbeat: the last event was its view
    ([page(0, "/"), page(10, "/cart", pv="x"), track(40, "Coupon Entered", path="/cart")], False),
    ([page(0, "/checkout", pv="x"), track(3, "Order Completed", path="/checkout")], False),  # converted
])
def test_quick_exit(events, quick_exit):
    state, _, _ = run(events)
    assert close(state).closed["quick_exit"] is quick_exit


def test_quick_exit_types_and_dwell_are_configurable():
    events = [page(0, "/"), page(10, "/blog/a", pv="x"), heartbeat(30, "x", 20_000)]
    config = SessionConfig(quick_exit_types=frozenset({"article"}), quick_exit_dwell=30)
    state, _, _ = run(events, config=config)
    assert close(state, config).closed["quick_exit"] is True


def test_converted():
    state, _, _ = run([page(0, "/cart"), track(5, "Order Completed", ["p1"], "/checkout/done")])
    assert state["current"]["converted"] is True
    state, _, _ = run([page(0, "/cart"), track(5, "Checkout Started", ["p1"])])
    assert state["current"]["converted"] is False


def test_an_event_before_the_session_by_more_than_the_idle_timeout_is_late_and_not_applied():
    state, _, _ = run([page(10_000), page(10_010)])
    step = apply(state, page(10_000 - IDLE - 1), sessions.DEFAULT)
    assert step.late and step.closed is None and step.state == state


def test_an_event_for_a_session_closed_on_the_wall_clock_is_late():
    state, _, _ = run([page(0), page(10)])
    closed = close(state).state
    step = apply(closed, page(10 + IDLE - 5))  # its session is closed: arrived too late
    assert step.late and step.state == closed
    after = apply(closed, page(10 + IDLE + 5))
    assert not after.late and after.state["current"]["page_count"] == 1


def test_an_event_slightly_out_of_order_is_applied_in_time_order():
    state, _, late = run([page(100, "/a"), page(200, "/c"), page(150, "/b"), page(50, "/start")])
    current = state["current"]
    assert late == []
    assert [p["path"] for p in current["pages"]] == ["/start", "/a", "/b", "/c"]
    assert current["start"] == T0 + 50
    assert current["id"] == sessions.session_id("u1", T0 + 100)  # the id stays that of the first event
    assert [entry[0] for entry in current["sequence"]] == sorted(entry[0] for entry in current["sequence"])


def test_closing_on_the_wall_clock_and_on_event_time_give_the_same_summary_and_state():
    events = [page(0, "/"), page(30, "/p/1", pv="x"), heartbeat(40, "x", 9_000, 70),
              track(41, "Product Added", ["p1"], "/p/1")]
    after = page(41 + IDLE + 100, "/")
    state, _, _ = run(events)

    by_event = apply(state, after)
    by_clock = close(state)
    assert by_clock.closed == by_event.closed
    assert apply(by_clock.state, after).state == by_event.state


def test_closing_is_idempotent():
    state, _, _ = run([page(0), page(30)])
    first = close(state)
    again = close_if_idle(first.state, due_at(state) + 10_000)
    assert first.closed is not None and again.closed is None and again.state == first.state
    assert due_at(first.state) is None


def test_close_if_idle_waits_until_after_due_at():
    config = SessionConfig(idle_timeout=600, close_grace=30)
    state, _, _ = run([page(0), page(100)], config=config)
    due = due_at(state, config)
    assert due == state["current"]["end"] + 600 + 30
    assert close_if_idle(state, due, config).closed is None
    assert close_if_idle(state, due + 0.001, config).closed is not None


def test_events_that_are_not_activity_leave_sessions_alone():
    state, _, _ = run([page(0)])
    identify = {"event_id": "i", "type": "identify", "name": None, "event_time": T0 + 5 * IDLE, "item_ids": []}
    step = apply(state, identify)
    assert step.state == state and step.closed is None and not step.late


def test_apply_does_not_change_its_input():
    state, _, _ = run([page(0, pv="a"), heartbeat(5, "a", 5000, 10), track(6, "Product Viewed", ["p1"])])
    before = copy.deepcopy(state)
    for event in (heartbeat(7, "a", 7000, 20), page(8, "/p/2"), page(8 + 2 * IDLE)):
        apply(state, event)
    close(state)
    merge(state, state)
    assert state == before


def test_state_survives_a_json_round_trip():
    events = [page(0, pv="a"), heartbeat(5, "a", 5000, 10), track(6, "Product Viewed", ["p1"]),
              page(20 + IDLE, "/cart"), track(30 + IDLE, "Order Completed", ["p1"])]
    straight, _, _ = run(events)
    state = None
    for event in events:
        state = json.loads(json.dumps(apply(state, event).state))
    assert state == straight


def test_the_same_events_give_the_same_session_ids():
    events = [page(t * 700.0, random.Random(t).choice(["/", "/p/1", "/cart"])) for t in range(40)]
    a, closed_a, _ = run(events)
    b, closed_b, _ = run(events)
    assert a == b and [s["id"] for s in closed_a] == [s["id"] for s in closed_b]
    assert len({s["id"] for s in closed_a}) == len(closed_a)
    other, _, _ = run([{**e, "person": "u2"} for e in events])
    assert other["current"]["id"] != a["current"]["id"]


def test_sequence_keeps_page_types_and_items_in_order_across_sessions():
    state, _, _ = run([
        page(0, "/"),
        page(10, "/p/1"), track(11, "Product Viewed", ["p1"], "/p/1"),  # one entry: the view, then its item
        track(12, "Product Added", ["p1"], "/p/1"),  # the same again: no entry
        track(20, "Cart Viewed", path="/cart"),
        page(30 + IDLE, "/c/shoes"), track(31 + IDLE, "Product List Viewed", ["p2", "p3"], "/c/shoes"),
        heartbeat(40 + IDLE, "x", 1000),  # no entry
    ])
    assert [(e[1], e[2]) for e in state["sequence"]] == [
        ("home", []), ("product", ["p1"]), ("cart", []), ("category", ["p2", "p3"])]
    assert [(e[1], e[2]) for e in state["current"]["sequence"]] == [("category", ["p2", "p3"])]


def test_closed_summaries_drop_the_heavy_parts():
    config = SessionConfig(summary_edge_pages=2)
    events = [page(i, f"/p/{i}", page_title="A long title " * 5) for i in range(10)]
    state, _, _ = run(events, config=config)
    summary = close(state, config).closed
    assert summary["page_count"] == 10
    assert [p["path"] for p in summary["pages"]] == ["/p/0", "/p/1", "/p/8", "/p/9"]
    assert all("title" not in p and "page_view_id" not in p for p in summary["pages"])
    assert "sequence" not in summary


def test_merge_of_two_open_sessions_holds_both_in_time_order():
    anonymous = [page(0, "/", person="a1"), page(20, "/p/1", person="a1"),
                 heartbeat(25, "pv-a1-20", 5000, 40, person="a1")]
    known = [page(10, "/c/shoes", person="u1"), page(30, "/cart", person="u1")]
    a, _, _ = run(anonymous)
    b, _, _ = run(known)
    merged = merge(a, b)
    current = merged.state["current"]
    assert merged.closed is None
    assert [p["path"] for p in current["pages"]] == ["/", "/c/shoes", "/p/1", "/cart"]
    assert current["page_count"] == 4 and current["events"] == 5
    assert current["start"] == T0 and current["end"] == T0 + 30
    assert current["id"] == a["current"]["id"]  # the earlier one's
    assert current["max_scroll"] == 40
    assert merge(b, a).state == merged.state


def test_merge_counts_a_page_view_seen_by_both_once():
    a, _, _ = run([page(0, "/p/1", pv="x", person="a1")])
    b, _, _ = run([heartbeat(15, "x", 15_000, 80, path="/p/1", person="u1"), page(20, "/cart", person="u1")])
    current = merge(a, b).state["current"]
    assert current["page_count"] == 2 and current["page_types"] == {"product": 1, "cart": 1}
    x = [p for p in current["pages"] if p["page_view_id"] == "x"][0]
    assert x["at"] == T0 and x["dwell_ms"] == 15_000


def test_merge_closes_the_earlier_open_session_when_they_are_far_apart():
    a, _, _ = run([page(0, "/", person="a1")])
    b, _, _ = run([page(5 * IDLE, "/", person="u1")])
    merged = merge(a, b)
    assert merged.closed is not None and merged.closed["id"] == a["current"]["id"]
    assert merged.state["current"] == b["current"]
    assert merged.state["history"][0]["id"] == a["current"]["id"]


def test_merge_interleaves_histories_newest_first_and_is_bounded():
    config = SessionConfig(history_size=4)
    a, _, _ = run([page(i * 3 * IDLE, person="a1") for i in (0, 2, 4)], config=config)
    b, _, _ = run([page(i * 3 * IDLE, person="u1") for i in (1, 3, 5)], config=config)
    merged = merge(a, b, config).state
    starts = [s["start"] for s in merged["history"]]
    assert starts == sorted(starts, reverse=True) and len(starts) == 4
    assert merged["closed_end"] == merged["history"][0]["end"]  # a's open session was closed by the merge
    assert merge(None, b, config).state == b
    assert merge(merged, merged, config).state["history"] == merged["history"]


def test_merge_of_open_sessions_equals_one_session_seeing_both_streams():
    rng = random.Random(7)
    stream_a = [page(t, rng.choice(["/", "/p/1", "/c/x"]), person="u1") for t in range(0, 600, 37)]
    stream_b = [page(t, rng.choice(["/cart", "/p/2"]), pv=f"b{t}", person="u1") for t in range(5, 600, 53)]
    a, _, _ = run(stream_a)
    b, _, _ = run(stream_b)
    both, _, _ = run(sorted(stream_a + stream_b, key=lambda e: e["event_time"]))
    merged = merge(a, b).state["current"]
    for name in ("id", "start", "end", "events", "page_count", "page_types", "pages"):
        assert merged[name] == both["current"][name], name


def test_state_stays_bounded_over_10000_events():
    config = sessions.DEFAULT
    rng = random.Random(1)
    paths = ["/", "/p/1", "/p/2", "/c/shoes", "/cart", "/checkout", "/blog/" + "x" * 500, "/search"]
    state, t, sizes = None, 0.0, []
    for i in range(10_000):
        t += rng.choice([1, 5, 20, 60, 300, IDLE + 1]) if i % 50 else rng.choice([5, 3 * IDLE])
        kind = rng.random()
        if kind < 0.4:
            event = page(t, rng.choice(paths), page_title="T" * 1000)
        elif kind < 0.7:
            event = heartbeat(t, state["current"]["pages"][-1]["page_view_id"] if state and state["current"]
                              and state["current"]["pages"] else "none", rng.randint(0, 10**6), rng.randint(0, 100))
        else:
            event = track(t, rng.choice(["Product Viewed", "Product List Viewed", "Order Completed"]),
                          [f"p{rng.randint(0, 10**6)}" for _ in range(50)], rng.choice(paths))
        state = apply(state, event, config).state
        sizes.append(len(json.dumps(state)))
    # Also one long session: every page kept up to the bound, the entry page never dropped.
    long, _, _ = run([page(i, f"/p/{i}") for i in range(5_000)])
    assert len(long["current"]["pages"]) == config.max_pages and long["current"]["pages"][0]["path"] == "/p/0"
    assert long["current"]["page_count"] == 5_000
    assert len(state["history"]) == config.history_size
    assert len(state["sequence"]) <= config.sequence_length
    assert all(len(e[2]) <= config.sequence_items for e in state["sequence"])
    assert all(len(p.get("title", "")) <= config.max_title_length for p in state["current"]["pages"])
    assert all(len(p["path"] or "") <= config.max_path_length for p in state["current"]["pages"])
    # The size reaches a ceiling: the second half of the run never exceeds what the first half reached.
    assert max(sizes[5_000:]) <= max(sizes[:5_000]) * 1.2


gaps = st.lists(st.tuples(st.sampled_from([0, 1, 14, 600, IDLE, IDLE + 1, IDLE + 60, IDLE + 61, 5 * IDLE]),
                          st.sampled_from(["page", "heartbeat", "Product Viewed", "Order Completed"]),
                          st.sampled_from(["/", "/p/1", "/cart", "/blog/a"])), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(gaps)
def test_a_timer_closing_idle_sessions_ends_where_event_time_closing_does(steps):
    events, t, last_pv = [], 0.0, "none"
    for gap, kind, path in steps:
        t += gap
        if kind == "page":
            events.append(page(t, path))
            last_pv = events[-1]["event_id"]
        elif kind == "heartbeat":
            events.append(heartbeat(t, last_pv, int(gap * 1000) % 60_000, 50, path))
        else:
            events.append(track(t, kind, ["p1"], path))

    by_events, closed_by_events, _ = run(events)
    state, closed_by_timer = None, []
    for event in events:
        for _ in range(2):  # a timer that fires twice (re-run after a restart) changes nothing more
            step = close_if_idle(state, event["event_time"])  # the wall clock as events arrive
            state = step.state
            closed_by_timer += [step.closed] if step.closed else []
        step = apply(state, event)
        state = step.state
        closed_by_timer += [step.closed] if step.closed else []
    assert state == by_events
    assert closed_by_timer == closed_by_events
    final_a, final_b = close(by_events), close(state)
    assert final_a == final_b
