"""tastemaker.person.on_record: every record kind of the person stage reaches its transition."""

import pytest

from tastemaker import person as persons
from tastemaker.delivery import SourcePosition

HERE = SourcePosition("events-by-person", 0, 7, "p")


def test_each_kind_reaches_its_transition():
    state = persons.new_person("p")
    assert persons.on_record(state, "p", {"kind": "unlink", "id": "p"}, HERE, HERE, 10).state is None
    merged = persons.on_record(state, "p", {"kind": "merge_into", "target": "q"}, HERE, HERE, 10)
    assert merged.state["merged_into"] == "q" and merged.sends[0].value["kind"] == "absorb"
    forget = persons.on_record(state, "p", {"kind": "command", "command": "forget", "at": 1.0}, HERE, HERE, 10)
    assert forget.delete and forget.outcomes == ["command:forget"]
    assert persons.on_record(None, "p", {"kind": "tick", "now": 1.0}, HERE, HERE, 10).state is None
    assert persons.on_record({**state, "merged_into": "q"}, "p", {"kind": "forget_tombstone", "of": "q"}, HERE, HERE,
                             10).delete


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        persons.on_record(None, "p", {"kind": "teleport"}, HERE, HERE, 10)
