"""The person stage's part for recommendations: controls and onboarding as commands, caps from events."""

from __future__ import annotations

from tastemaker import behaviour
from tastemaker import person as persons
from tastemaker.delivery import SourcePosition
from tastemaker.recommend import caps

T = 1_795_737_720.0
HERE = SourcePosition("events-by-person", 0, 1)


def event(name: str, at: float, items: list[str], n: int) -> tuple[dict, SourcePosition]:
    body = {"type": "track", "name": name, "event_id": f"e{n}", "event_time": at, "received_at": at,
            "item_ids": items, "key": "p"}
    return body, SourcePosition("clickstream", 0, n, "p")


def apply(state, name, at, items, n):
    body, source = event(name, at, items, n)
    return persons.on_event(state, "p", body, source, source, 25).state


def test_not_interested_and_undo_are_kept_in_the_recommend_part():
    state = apply(None, "Product Viewed", T, ["sku-1"], 1)
    state = persons.on_command(state, "p", "not_interested", T, HERE, {"item_id": "sku-9"}).state
    state = persons.on_command(state, "p", "not_interested", T, HERE, {"category": "Shoes"}).state
    assert state["recommend"]["not_interested"] == {"items": ["sku-9"], "categories": ["shoes"]}
    state = persons.on_command(state, "p", "undo_not_interested", T, HERE, {"category": "shoes"}).state
    assert state["recommend"]["not_interested"] == {"items": ["sku-9"], "categories": []}
    assert state["profile"]["counts"]["Product Viewed"] == 1  # the rest of the person is untouched


def test_onboarding_before_any_event_creates_the_person_and_seeds_affinities():
    step = persons.on_command(None, "p", "preferences", T, HERE, {"categories": ["garden"], "brands": ["Acme"]})
    assert step.state["recommend"]["preferences"] == {"categories": ["garden"], "brands": ["acme"]}
    assert "garden" in str(step.state["profile"]["affinities"])
    assert persons.on_command(None, "p", "reset", T, HERE).outcomes == ["command:reset:nobody"]


def test_reset_clears_controls_and_caps():
    state = persons.on_command(None, "p", "not_interested", T, HERE, {"item_id": "sku-1"}).state
    state = persons.on_command(state, "p", "reset", T, HERE).state
    assert state["recommend"] == {"not_interested": {"items": [], "categories": []}, "preferences": {}, "caps": {}}


def test_shows_rest_an_item_and_a_click_starts_its_count_again():
    state = None
    for n in range(2):
        state = apply(state, behaviour.SHOWN, T + n, ["a", "b"], n + 1)
    state = apply(state, "Product Clicked", T + 2, ["b"], 3)
    state = apply(state, behaviour.SHOWN, T + 3, ["a", "b"], 4)
    assert caps.rested(state["recommend"]["caps"], "a", T + 4)
    assert not caps.rested(state["recommend"]["caps"], "b", T + 4)
    assert state["recommend"]["caps"]["b"][caps.SHOWS] == 1
