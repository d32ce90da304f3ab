"""The interaction history's privacy: opted-out persons are not recorded, forget and opt-out markers hide a
person's earlier records from training, and a person who comes back after a forget starts anew."""

from __future__ import annotations

from tastemaker import person as persons
from tastemaker.delivery import SourcePosition
from tastemaker.interaction_log import FORGET, HistoryReader, forget_marker, interaction_record

T = 1_795_737_720.0
HERE = SourcePosition("events-by-person", 0, 1)


def view(person: str, n: int, item: str = "sku-1") -> tuple[dict, SourcePosition]:
    body = {"type": "track", "name": "Product Viewed", "event_id": f"{person}-e{n}", "event_time": T + n,
            "received_at": T + n, "item_ids": [item], "key": person, "anonymous_id": person}
    return body, SourcePosition("clickstream", 0, n, person)


class Stage:
    """The person stage's pure steps, with the history it would write (in order) collected."""

    def __init__(self) -> None:
        self.states: dict[str, dict | None] = {}
        self.history: list[tuple[str, dict]] = []
        self.n = 0

    def event(self, person: str, item: str = "sku-1") -> persons.Step:
        self.n += 1
        body, source = view(person, self.n, item)
        step = persons.on_event(self.states.get(person), person, body, source, source, 25)
        return self._keep(person, step)

    def command(self, person: str, command: str) -> persons.Step:
        self.n += 1
        step = persons.on_command(self.states.get(person), person, command, T + self.n, HERE)
        return self._keep(person, step)

    def _keep(self, person: str, step: persons.Step) -> persons.Step:
        if step.delete:
            self.states[person] = None
        elif step.state is not None:
            self.states[person] = step.state
        self.history += step.history
        return step

    def read(self, audit=()):
        reader = HistoryReader(audit)
        for key, body in self.history:
            reader.add(key, body)
        return reader.result()


def people(history) -> list[str]:
    return [event["person"] for event in history.events]


def test_an_applied_event_about_items_is_recorded_for_its_person():
    stage = Stage()
    step = stage.event("alice")
    assert step.history == [("alice", interaction_record("alice", view("alice", 1)[0]))]
    assert step.history[0][1]["item_ids"] == ["sku-1"] and "key" not in step.history[0][1]


def test_an_opted_out_person_produces_no_interaction_record_until_opting_in():
    stage = Stage()
    stage.event("bob")
    stage.command("bob", "opt_out")
    for _ in range(3):
        assert stage.event("bob").history == []  # applied (counts go on), but nothing kept for training
    assert stage.states["bob"]["profile"]["counts"]["Product Viewed"] == 4
    stage.command("bob", "opt_in")
    assert stage.event("bob").history != []
    history = stage.read(audit=["bob"])
    # The record before the opt-out is hidden by its marker; the 3 while opted out were never written.
    assert history.audit["bob"] == {"in_history": 2, "read": 1} and history.hidden == 1


def test_opting_out_twice_writes_its_markers_once():
    stage = Stage()
    stage.event("bob")
    first = stage.command("bob", "opt_out").history
    assert [body["kind"] for _, body in first] == [FORGET] and first[0][1]["reason"] == "opt_out"
    assert stage.command("bob", "opt_out").history == []


def test_a_training_read_after_forget_holds_none_of_the_persons_interactions():
    stage = Stage()
    for item in ("a", "b", "c"):
        stage.event("carol", item)
        stage.event("dave", item)
    before = stage.read(audit=["carol"])
    assert before.audit["carol"] == {"in_history": 3, "read": 3}
    step = stage.command("carol", "forget")
    assert step.delete and step.history == [("carol", forget_marker("carol", T + 7))]
    after = stage.read(audit=["carol", "dave"])
    assert "carol" not in people(after) and people(after).count("dave") == 3
    assert after.audit["carol"] == {"in_history": 3, "read": 0}
    assert after.summary() == {"records": 6, "duplicates": 0, "hidden": 3, "markers": 1, "read": 3}


def test_a_person_who_comes_back_after_forget_starts_anew():
    stage = Stage()
    stage.event("erin", "old")
    stage.command("erin", "forget")
    stage.event("erin", "new")  # a new person under the same id
    history = stage.read()
    assert [(e["person"], e["item_ids"]) for e in history.events] == [("erin", ["new"])]


def test_forget_hides_every_id_of_the_person_merged_ones_included():
    stage = Stage()
    stage.event("anon-1")  # a device, its own person, then merged into the user
    state = stage.states["anon-1"]
    stage.states["anon-1"] = persons.on_merge_into(state, "anon-1", "user-1", HERE).state
    stage.event("user-1")
    absorbed = {"from": "anon-1", "ids": state["ids"], "profile": state["profile"], "applied": state["applied"],
                "sessions": state.get("sessions"), "windows": state.get("windows")}
    stage.states["user-1"] = persons.on_absorb(stage.states["user-1"], "user-1", absorbed,
                                               SourcePosition("events-by-person", 1, 9)).state
    assert sorted(stage.states["user-1"]["ids"]) == ["anon-1", "user-1"]
    markers = stage.command("user-1", "forget").history
    assert sorted(key for key, _ in markers) == ["anon-1", "user-1"]
    assert stage.read().events == []


def test_forgetting_nobody_still_hides_what_history_the_id_has():
    step = persons.on_command(None, "ghost", "forget", T, HERE)
    assert step.outcomes == ["command:forget:nobody"] and step.history == [("ghost", forget_marker("ghost", T))]
    reader = HistoryReader()
    reader.add("ghost", {"event_id": "g1", "item_ids": ["x"], "person": "ghost"})
    for key, body in step.history:
        reader.add(key, body)
    assert reader.result().events == []


def test_markers_hide_only_what_came_before_them_across_interleaved_partitions():
    # Partition A holds frank's records and marker; partition B holds gina's: read interleaved.
    reader = HistoryReader()
    reader.add("frank", {"event_id": "f1", "item_ids": ["x"]})
    reader.add("gina", {"event_id": "g1", "item_ids": ["x"], "person": "gina"})
    reader.add("frank", forget_marker("frank", T))
    reader.add("gina", {"event_id": "g2", "item_ids": ["y"], "person": "gina"})
    reader.add("frank", {"event_id": "f2", "item_ids": ["z"]})  # frank anew
    history = reader.result()
    assert [(e["person"], e["event_id"]) for e in history.events] == [("gina", "g1"), ("gina", "g2"), ("frank", "f2")]


def test_duplicates_are_read_once_and_counted():
    reader = HistoryReader()
    for _ in range(3):
        reader.add("h", {"event_id": "same", "item_ids": ["x"], "person": "h"})
    reader.add("h", {"item_ids": ["x"], "person": "h"})  # no event id: kept as it is
    history = reader.result()
    assert len(history.events) == 2 and history.duplicates == 2 and history.records == 4


def test_a_device_merged_into_an_opted_out_person_trains_no_model_either():
    stage = Stage()
    stage.event("phone")  # personalized, its own person
    stage.event("user")
    stage.command("user", "opt_out")
    phone = stage.states["phone"]
    absorbed = {"from": "phone", "ids": phone["ids"], "profile": phone["profile"], "applied": phone["applied"],
                "sessions": phone.get("sessions"), "windows": phone.get("windows")}
    step = persons.on_absorb(stage.states["user"], "user", absorbed, SourcePosition("events-by-person", 1, 9))
    assert [key for key, _ in step.history] == ["phone"]  # the user's own were hidden at the opt-out
    stage._keep("user", step)
    assert stage.read().events == []
    both_personalized = persons.on_absorb(None, "other", absorbed, SourcePosition("events-by-person", 1, 10))
    assert both_personalized.history == []
