"""Planning rule changes against the rules in force: create, update, unchanged, refused, toggle, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from tastemaker.rules import RuleError
from tastemaker.rules.changes import load_documents, plan_apply, plan_delete, plan_enabled

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"
RULE = {"id": "r", "version": 1, "description": "d", "when": 'event.name == "Product Viewed"',
        "actions": [{"type": "add_segment", "segment": "viewers"}]}


def test_apply_creates_updates_and_recognises_the_same_document():
    created = plan_apply({}, RULE)
    assert (created.rule_id, created.note, created.writes) == ("r", "created", True)
    current = {"r": created.document}
    assert plan_apply(current, dict(RULE)).note == "unchanged"
    assert not plan_apply(current, dict(RULE)).writes
    assert plan_apply(current, {**RULE, "version": 2, "priority": 5}).note == "updated to version 2"
    with pytest.raises(RuleError) as refused:
        plan_apply(current, {**RULE, "priority": 5})  # changed without a new version
    assert refused.value.field == "version"


def test_disable_and_enable_raise_the_version_and_delete_needs_the_rule():
    current = {"r": plan_apply({}, RULE).document}
    disabled = plan_enabled(current, "r", False)
    assert disabled.document["enabled"] is False and disabled.document["version"] == 2
    assert plan_enabled({"r": disabled.document}, "r", False).note == "unchanged"
    assert plan_enabled({"r": disabled.document}, "r", True).document["version"] == 3
    assert plan_delete(current, "r").document is None
    with pytest.raises(RuleError):
        plan_delete(current, "nope")
    with pytest.raises(RuleError):
        plan_enabled(current, "nope", True)


def test_every_example_file_loads_and_plans(tmp_path):
    documents = list(load_documents(EXAMPLES))
    assert len(documents) == len(list(EXAMPLES.glob("*.yaml")))
    current: dict = {}
    for _, document in documents:
        change = plan_apply(current, document)
        current[change.rule_id] = change.document
    combined = tmp_path / "two.yaml"
    combined.write_text("id: a\nversion: 1\ndescription: x\non: [page]\nwhen: 'true'\n"
                        "actions: [{type: add_segment, segment: s}]\n---\n"
                        + "id: b\nversion: 1\ndescription: y\nwhen: 'true'\nactions: [{type: add_segment, segment: t}]\n")
    loaded = list(load_documents(combined))
    assert [plan_apply({}, d).rule_id for _, d in loaded] == ["a", "b"]
    assert loaded[0][1]["on"] == ["page"]
