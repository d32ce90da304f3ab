from tastemaker import profile


def event(t, name="Product Viewed", items=("p1",), device="mobile"):
    return {"type": "track", "name": name, "event_time": t, "item_ids": list(items), "device_type": device}


def test_apply_counts_by_name_and_keeps_recent_newest_first():
    state = None
    for t, name in [(10, "Product Viewed"), (30, "Product Added"), (20, "Product Viewed")]:
        state = profile.apply_event(state, event(t, name))
    state = profile.apply_event(state, {"type": "page", "name": "Home", "event_time": 5, "item_ids": []})
    assert state["events"] == 4
    assert state["counts"] == {"Product Viewed": 2, "Product Added": 1, "page": 1}
    assert [entry[0] for entry in state["recent"]] == [30, 20, 10, 5]
    assert (state["first_seen"], state["last_seen"]) == (5, 30)
    assert state["devices"] == {"mobile": 3}


def test_merge_is_what_one_profile_seeing_both_histories_would_hold():
    a_events = [event(t) for t in (1, 4, 9)]
    b_events = [event(t, "Product Added", device="desktop") for t in (2, 7)]
    a = b = both = None
    for e in a_events:
        a = profile.apply_event(a, e)
    for e in b_events:
        b = profile.apply_event(b, e)
    for e in sorted(a_events + b_events, key=lambda e: e["event_time"]):
        both = profile.apply_event(both, e)
    assert profile.merge(a, b) == both
    assert profile.merge(None, b) == b


def test_recent_is_bounded():
    state = None
    for t in range(profile.RECENT_MAX + 20):
        state = profile.apply_event(state, event(t))
    assert len(state["recent"]) == profile.RECENT_MAX and state["recent"][0][0] == profile.RECENT_MAX + 19
