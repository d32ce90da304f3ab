"""Rule documents: what parses, and every refusal naming its field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tastemaker.rules import RuleError, RuleSet, parse_duration, parse_rule
from tastemaker.rules.conditions import MAX_EXPRESSION_CHARS
from tastemaker.rules.document import MAX_ACTIONS, MAX_PAYLOAD_BYTES
from tests.support.rules import document

EXAMPLES = sorted((Path(__file__).parents[2] / "rules" / "examples").glob("*.yaml"))


def refusal(doc) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(doc)
    return caught.value


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("10m", 600), ("1h", 3600), ("7d", 7 * 86400),
                                           ("1h30m", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "10 m", "1.5h", "-1m", "0s", "400d", "10q", 10, None])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_yaml_and_json_documents_give_the_same_rule():
    doc = document(on=["Product Viewed"], cooldown="10m", cap={"count": 2, "per": "1d"}, priority=5)
    yaml_text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in doc.items())
    from_yaml, from_json = parse_rule(yaml_text), parse_rule(json.dumps(doc))
    assert from_yaml == from_json
    assert from_yaml.document == from_json.document
    assert (from_yaml.cooldown_s, from_yaml.cap.count, from_yaml.cap.per_s) == (600, 2, 86400)


def test_defaults():
    rule = parse_rule(document())
    assert rule.enabled is True and rule.priority == 0 and rule.rearm is True
    assert rule.wait_s is None and rule.cooldown_s is None and rule.cap is None and rule.unless is None


def test_yaml_on_key_is_the_index_not_a_boolean():
    text = "id: r\nversion: 1\ndescription: d\non: [Signed Up]\nwhen: 'true'\n" \
           "actions: [{type: add_segment, segment: new}]"
    assert parse_rule(text).labels == frozenset({"Signed Up"})


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_rules_parse(example):
    rule = parse_rule(example.read_text())
    assert rule.id and rule.actions


def test_examples_form_one_rule_set():
    rules = RuleSet(parse_rule(p.read_text()) for p in EXAMPLES)
    assert len(rules.rules) == len(EXAMPLES)


def test_cel_syntax_error_gives_position_and_caret():
    error = refusal(document(when='event.name == "A" &&\n  count("A", "1h") >'))
    assert error.field == "when"
    assert "line 2:" in error.reason and "^" in error.reason


@pytest.mark.parametrize("when, word", [('evnt.name == "X"', "evnt"), ("sesion.bounce", "sesion"),
                                        ("cnt(\"X\", \"1h\") > 1", "cnt"), ("lowerAscii(event.name) == 'x'", "lowerAscii")])
def test_unknown_variables_and_functions_are_refused(when, word):
    error = refusal(document(when=when))
    assert error.field == "when" and word in error.reason


def test_comprehension_variables_are_not_unknown_variables():
    rule = parse_rule(document(when='session.pages.exists(p, p.page_type == "product" && p.dwell_ms > 1000)'))
    assert rule.when.labels is None


@pytest.mark.parametrize("when, reason", [
    ('count("X", "10 minutes") > 1', "duration"),
    ('count("X", "90d") > 1', "maximum"),
    ('count("X") > 1', "2 argument"),
    ("has_segment() ", "1 argument"),
    ("event.name", "boolean"),
])
def test_helper_misuse_and_non_boolean_conditions_are_refused(when, reason):
    error = refusal(document(when=when))
    assert error.field == "when" and reason in error.reason


def test_expression_length_is_limited():
    long = " || ".join(['event.name == "X"'] * (MAX_EXPRESSION_CHARS // 10))
    error = refusal(document(when=long))
    assert error.field == "when" and "limit" in error.reason


@pytest.mark.parametrize("fields, path", [
    ({"colour": "red"}, "colour"),
    ({"actions": [{"type": "set_trait", "name": "a", "value": 1, "extra": 2}]}, "actions[0].extra"),
    ({"cap": {"count": 1, "per": "1h", "burst": 2}}, "cap.burst"),
])
def test_unknown_fields_are_refused_by_path(fields, path):
    error = refusal(document(**fields))
    assert error.field == path and "unknown field" in error.reason


@pytest.mark.parametrize("fields, path", [
    ({"id": "Not A Slug"}, "id"),
    ({"version": 0}, "version"),
    ({"version": "2"}, "version"),
    ({"enabled": "yes"}, "enabled"),
    ({"priority": 1.5}, "priority"),
    ({"on": []}, "on"),
    ({"on": ["ok", ""]}, "on[1]"),
    ({"cooldown": "soon"}, "cooldown"),
    ({"wait": "30"}, "wait"),
    ({"cap": {"count": 0, "per": "1h"}}, "cap.count"),
    ({"cap": {"count": 1, "per": "1 hour"}}, "cap.per"),
    ({"cap": {"count": 1}}, "cap.per"),
    ({"unless": 'event.name == "X"'}, "unless"),
    ({"wait": "30m", "unless": "evnt.x"}, "unless"),
    ({"rearm": False}, "rearm"),
    ({"actions": []}, "actions"),
    ({"actions": [{"type": "decision", "kind": "popup"}]}, "actions[0].kind"),
    ({"actions": [{"type": "set_trait", "name": "a", "value": 1}, {"type": "decision", "kind": "banner"}]},
     "actions[1].kind"),
    ({"actions": [{"type": "email"}]}, "actions[0].type"),
    ({"actions": [{"type": "add_segment"}]}, "actions[0].segment"),
    ({"actions": [{"type": "decision", "kind": "offer", "payload": "x"}]}, "actions[0].payload"),
    ({"actions": [{"type": "set_trait", "name": "a", "value": "x" * 1000}]}, "actions[0].value"),
    ({"when": None}, "when"),
    ({"description": None}, "description"),
])
def test_invalid_fields_are_refused_by_path(fields, path):
    error = refusal(document(**fields))
    assert error.field == path and error.reason


def test_limits_on_actions_and_payload():
    action = {"type": "add_segment", "segment": "s"}
    assert refusal(document(actions=[action] * (MAX_ACTIONS + 1))).field == "actions"
    big = {"type": "decision", "kind": "offer", "payload": {"text": "x" * MAX_PAYLOAD_BYTES}}
    error = refusal(document(actions=[big]))
    assert error.field == "actions[0].payload" and "limit" in error.reason


def test_not_a_document():
    assert refusal("- just\n- a list").field == "document"
    assert refusal("id: [unclosed").field == "document"
    assert refusal({"id": "r"}).field == "version"  # the first missing required field


def test_versions_must_increase_unless_identical():
    rules = RuleSet([parse_rule(document(version=2))])
    assert rules.with_rule(parse_rule(document(version=2))) is rules  # re-applied unchanged
    for version in (1, 2):
        with pytest.raises(RuleError) as caught:
            rules.with_rule(parse_rule(document(version=version, priority=9)))
        assert caught.value.field == "version" and "higher version" in caught.value.reason
    newer = rules.with_rule(parse_rule(document(version=3, priority=9)))
    assert newer.rules["r"].priority == 9 and rules.rules["r"].priority == 0
    assert "r" not in newer.without("r").rules


def test_index_is_derived_from_a_label_conjunct():
    def labels(when):
        return parse_rule(document(when=when)).labels

    assert labels('event.name == "A" && profile.purchases > 0') == {"A"}
    assert labels('(profile.purchases > 0) && ("A" == event.name)') == {"A"}
    assert labels('event.name in ["A", "B"] && true') == {"A", "B"}
    assert labels('event.type == "session_end" && session.bounce') == {"session_end"}
    assert labels('event.name == "A" || event.name == "B"') is None
    assert labels('event.name != "A"') is None
    assert labels('event.name.startsWith("A")') is None
    assert parse_rule(document(when="true", on=["X"])).labels == {"X"}  # explicit `on` wins


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
id: laughs
version: 1
description: d
when: 'true'
actions: [{type: set_trait, name: lol, value: *i}]
"""


def test_yaml_aliases_are_refused_billion_laughs_and_all():
    error = refusal(BILLION_LAUGHS)
    assert error.field == "document"
    assert "line 1, column 4" in error.reason and "anchors and aliases" in error.reason
    anchored_only = "id: r\nversion: 1\ndescription: &d text\nwhen: 'true'\nactions: [{type: add_segment, segment: s}]"
    assert "anchors and aliases" in refusal(anchored_only).reason


def test_a_normal_yaml_document_still_loads_with_the_safe_loader():
    text = ("id: normal\nversion: 2\ndescription: 'a plain rule: no anchors'\non: [Product Viewed]\n"
            "when: event.name == \"Product Viewed\" && count(\"Product Viewed\", \"10m\") >= 3\n"
            "actions:\n  - {type: decision, kind: offer, payload: {text: '&not an anchor', list: [1, 2]}}\n")
    rule = parse_rule(text)
    assert rule.id == "normal" and rule.labels == {"Product Viewed"}
    assert rule.actions[0].fields["payload"] == {"text": "&not an anchor", "list": [1, 2]}
    assert refusal("id: !!python/object:os.system x").field == "document"  # still the safe loader


def test_documents_nesting_too_deep_are_refused_whatever_their_form():
    deep_yaml = "id: r\nversion: 1\ndescription: d\nwhen: 'true'\nactions: " + "[" * 40 + "]" * 40
    assert "nests deeper" in refusal(deep_yaml).reason
    deep_json = '{"id": "r", "payload": ' + "[" * 5_000 + "]" * 5_000 + "}"
    assert "nests deeper" in refusal(deep_json).reason
    nested: list = []
    for _ in range(40):
        nested = [nested]
    assert "nests deeper" in refusal(document(actions=nested)).reason  # an already-loaded mapping


def test_rule_files_with_aliases_are_refused_naming_the_file(tmp_path):
    from tastemaker.rules.changes import load_documents

    path = tmp_path / "rules.yaml"
    path.write_text(BILLION_LAUGHS + "---\nid: other\n")
    with pytest.raises(RuleError) as caught:
        list(load_documents(path))
    assert caught.value.field == "document" and str(path) in caught.value.reason
    assert "anchors and aliases" in caught.value.reason


def test_text_the_yaml_reader_refuses_at_once_is_a_refusal_not_an_error():
    # Found by `make fuzz`: a body of one NUL byte was a 500 (PyYAML's reader checks the first characters
    # while the loader is built).
    for text in (b"\x00", "\x00id: r", b"\xff\xfe\x00"):
        assert refusal(text).field == "document"
