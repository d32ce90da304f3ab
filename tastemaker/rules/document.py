"""Rule documents (YAML or JSON, one rule each) parsed and validated into a ``Rule``; the format is
described in the package docstring (tastemaker/rules/__init__.py).

Validation is by plain checks rather than a JSON Schema so that every refusal names the exact field path
(``actions[1].kind``) with a reason a person can act on. Limits (expression length and estimated cost,
number of actions, payload size) bound both the time to evaluate a rule and the size of what a firing carries.

YAML is loaded with PyYAML's safe loader (plain data, no Python objects) that also refuses anchors and
aliases (``&a``/``*a``: "billion laughs", a few lines expanding into gigabytes) and nesting deeper than
MAX_DOCUMENT_DEPTH; JSON and already-loaded mappings are held to the same depth.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import yaml

from tastemaker.rules.conditions import Condition, compile_condition
from tastemaker.rules.cost import BUDGET
from tastemaker.rules.durations import parse_duration
from tastemaker.rules.errors import RuleError

MAX_DOCUMENT_CHARS = 64_000
MAX_DOCUMENT_DEPTH = 32  # levels of mappings and lists; a rule needs 4 (a payload a few more)
MAX_DESCRIPTION_CHARS = 500
MAX_ACTIONS = 10
MAX_ON_LABELS = 50
MAX_PAYLOAD_BYTES = 4_096
MAX_TRAIT_VALUE_BYTES = 256
MAX_CAP_COUNT = 100
MAX_PRIORITY = 1_000_000

DECISION_KINDS = ("content_block", "offer", "recommendation_block", "message")
ACTION_TYPES = ("decision", "set_trait", "add_segment", "remove_segment")

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/ -]{0,127}")  # trait, segment and block names

_RULE_FIELDS = {"id", "version", "description", "enabled", "priority", "on", "when", "wait", "unless", "rearm",
                "cooldown", "cap", "actions"}
_ACTION_FIELDS = {
    "decision": ({"type", "kind"}, {"block", "payload"}),
    "set_trait": ({"type", "name", "value"}, set()),
    "add_segment": ({"type", "segment"}, set()),
    "remove_segment": ({"type", "segment"}, set()),
}


@dataclass(frozen=True)
class Cap:
    count: int
    per_s: int


@dataclass(frozen=True)
class Action:
    """One action as the document states it (``type`` plus that type's fields), JSON-ready."""

    type: str
    fields: dict[str, Any] = field(compare=True)

    @property
    def is_decision(self) -> bool:
        return self.type == "decision"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **self.fields}


@dataclass(frozen=True)
class Rule:
    id: str
    version: int
    description: str
    enabled: bool
    priority: int
    on: frozenset[str] | None  # as written; see ``labels`` for the index actually used
    when: Condition
    wait_s: int | None
    unless: Condition | None
    rearm: bool
    cooldown_s: int | None
    cap: Cap | None
    actions: tuple[Action, ...]
    document: dict[str, Any] = field(compare=False, repr=False)  # normalized (defaults filled), JSON

    @property
    def labels(self) -> frozenset[str] | None:
        """Event labels (type or name) this rule is evaluated on; None: every event."""
        return self.on if self.on is not None else self.when.labels

    @cached_property
    def decisions(self) -> int:
        """Decision actions: what a firing costs in the fatigue budget."""
        return sum(action.is_decision for action in self.actions)

    @property
    def timed(self) -> bool:
        return self.wait_s is not None


def parse_rule(document: str | bytes | Mapping[str, Any]) -> Rule:
    """A validated ``Rule`` from a YAML or JSON text, or an already-loaded mapping; RuleError otherwise."""
    if isinstance(document, (str, bytes)):
        document = _load(document)
    if not isinstance(document, Mapping):
        raise RuleError("document", "must be a mapping of rule fields")
    _check_depth(document)
    _refuse_unknown(document, _RULE_FIELDS, "")
    document = {name: value for name, value in document.items() if value is not None}  # null: not given
    for required in ("id", "version", "description", "when", "actions"):
        if required not in document:
            raise RuleError(required, "is required")

    rule_id = document["id"]
    if not isinstance(rule_id, str) or not _SLUG.fullmatch(rule_id):
        raise RuleError("id", "must be a slug: lowercase letters, digits, '-' or '_', at most 64 characters")
    version = _int(document, "version", 1, 2**53)
    description = document["description"]
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
        raise RuleError("description", f"must be a string of at most {MAX_DESCRIPTION_CHARS} characters")
    enabled = document.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", "must be true or false")
    priority = _int(document, "priority", -MAX_PRIORITY, MAX_PRIORITY, default=0)
    on = _labels(document.get("on"))
    when = compile_condition(document["when"], "when")

    wait_s = _duration(document, "wait")
    unless = None
    if "unless" in document:
        if wait_s is None:
            raise RuleError("unless", "only applies to a timed rule: add 'wait'")
        unless = compile_condition(document["unless"], "unless")
        total = when.cost.cost + unless.cost.cost
        if total > BUDGET:  # both can run on one event: the budget is the rule's
            raise RuleError("unless", f"with 'when', estimated cost {total} exceeds the budget {BUDGET} per event")
    rearm = document.get("rearm", True)
    if not isinstance(rearm, bool):
        raise RuleError("rearm", "must be true or false")
    if "rearm" in document and wait_s is None:
        raise RuleError("rearm", "only applies to a timed rule: add 'wait'")
    cooldown_s = _duration(document, "cooldown")
    cap = _cap(document.get("cap"))
    actions = _actions(document["actions"])

    normalized = {
        "id": rule_id, "version": version, "description": description, "enabled": enabled, "priority": priority,
        "on": sorted(on) if on is not None else None, "when": when.source, "wait": document.get("wait"),
        "unless": unless.source if unless else None, "rearm": rearm, "cooldown": document.get("cooldown"),
        "cap": dict(document["cap"]) if cap else None, "actions": [a.to_dict() for a in actions],
    }
    if wait_s is None:
        del normalized["rearm"]  # only timed rules have it
    # Absent optional fields are left out, so the normalized document parses to the same rule again.
    normalized = {name: value for name, value in normalized.items() if value is not None}
    return Rule(rule_id, version, description, enabled, priority, on, when, wait_s, unless, rearm, cooldown_s, cap,
                actions, normalized)


def _load(text: str | bytes) -> Any:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise RuleError("document", f"is longer than {MAX_DOCUMENT_CHARS} characters")
    if text.lstrip()[:1] in ("{", b"{"):
        try:
            return json.loads(text)
        except RecursionError:
            raise RuleError("document", f"nests deeper than {MAX_DOCUMENT_DEPTH} levels") from None
        except ValueError as error:
            raise RuleError("document", f"is neither valid JSON nor YAML: {error}") from None
    return load_yaml(text)[0] if text.strip() else None


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader (plain data only: no Python objects), refusing anchors and aliases and nesting past
    MAX_DOCUMENT_DEPTH. An alias repeats the node it names, so a few lines of aliases of aliases expand into
    billions of nodes ("billion laughs"); a rule document never needs one."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.nesting = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            raise RuleError("document", f"line {mark.line + 1}, column {mark.column + 1}: YAML anchors and aliases "
                                        "(&name, *name) are not allowed: an alias can expand a small document "
                                        "into a huge one")
        self.nesting += 1
        if self.nesting > MAX_DOCUMENT_DEPTH:
            mark = event.start_mark
            raise RuleError("document", f"line {mark.line + 1}, column {mark.column + 1}: nests deeper than "
                                        f"{MAX_DOCUMENT_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self.nesting -= 1


def load_yaml(text: str | bytes) -> list[Any]:
    """Every document of a YAML text (``---`` separates them), loaded safely; RuleError("document", ...)
    for an anchor or alias, nesting past MAX_DOCUMENT_DEPTH or invalid YAML."""
    try:
        loader = _SafeLoader(text)  # its reader checks the first characters already (a NUL, bad UTF-8)
    except yaml.YAMLError as error:
        raise RuleError("document", f"is neither valid JSON nor YAML: {error}") from None
    try:
        documents = []
        while loader.check_data():
            documents.append(with_on_key(loader.get_data()))
        return documents
    except yaml.YAMLError as error:
        raise RuleError("document", f"is neither valid JSON nor YAML: {error}") from None
    finally:
        loader.dispose()


def _check_depth(document: Any) -> None:
    """Refuse a document (a loaded mapping, from any source) nesting past MAX_DOCUMENT_DEPTH; iterative."""
    pending = [(document, 1)]
    while pending:
        value, level = pending.pop()
        if level > MAX_DOCUMENT_DEPTH:
            raise RuleError("document", f"nests deeper than {MAX_DOCUMENT_DEPTH} levels")
        if isinstance(value, Mapping):
            pending.extend((v, level + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            pending.extend((v, level + 1) for v in value)


def with_on_key(loaded: Any) -> Any:
    """YAML 1.1 reads the key ``on`` as the boolean true: give it its name back."""
    if isinstance(loaded, dict) and True in loaded and "on" not in loaded:
        loaded["on"] = loaded.pop(True)
    return loaded


def _refuse_unknown(mapping: Mapping[str, Any], known: set[str], prefix: str) -> None:
    for name in mapping:
        if name not in known:
            raise RuleError(f"{prefix}{name}", f"unknown field (known: {', '.join(sorted(known))})")


def _int(document: Mapping[str, Any], name: str, low: int, high: int, default: int | None = None) -> int:
    value = document.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RuleError(name, f"must be an integer from {low} to {high}")
    return value


def _duration(document: Mapping[str, Any], name: str, where: str | None = None) -> int | None:
    if name not in document:
        return None
    try:
        return parse_duration(document[name])
    except ValueError as error:
        raise RuleError(where or name, str(error)) from None


def _labels(on: Any) -> frozenset[str] | None:
    if on is None:
        return None
    if not isinstance(on, list) or not on or len(on) > MAX_ON_LABELS:
        raise RuleError("on", f"must be a list of 1 to {MAX_ON_LABELS} event labels")
    for i, label in enumerate(on):
        if not isinstance(label, str) or not label.strip():
            raise RuleError(f"on[{i}]", "must be an event label (a track event's name, or page, screen, ...)")
    return frozenset(on)


def _cap(cap: Any) -> Cap | None:
    if cap is None:
        return None
    if not isinstance(cap, Mapping):
        raise RuleError("cap", "must be a mapping like {count: 3, per: 24h}")
    _refuse_unknown(cap, {"count", "per"}, "cap.")
    count = cap.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_CAP_COUNT:
        raise RuleError("cap.count", f"must be an integer from 1 to {MAX_CAP_COUNT}")
    if "per" not in cap:
        raise RuleError("cap.per", "is required (a duration like 24h)")
    return Cap(count, _duration(cap, "per", "cap.per"))


def _actions(actions: Any) -> tuple[Action, ...]:
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
        raise RuleError("actions", f"must be a list of 1 to {MAX_ACTIONS} actions")
    return tuple(_action(action, f"actions[{i}]") for i, action in enumerate(actions))


def _action(action: Any, where: str) -> Action:
    if not isinstance(action, Mapping):
        raise RuleError(where, "must be a mapping with a 'type'")
    kind = action.get("type")
    if kind not in _ACTION_FIELDS:
        raise RuleError(f"{where}.type", f"must be one of {', '.join(ACTION_TYPES)}")
    required, optional = _ACTION_FIELDS[kind]
    _refuse_unknown(action, required | optional, f"{where}.")
    for name in sorted(required):
        if name not in action:
            raise RuleError(f"{where}.{name}", "is required")
    fields = {name: action[name] for name in action if name != "type"}
    if kind == "decision":
        if action["kind"] not in DECISION_KINDS:
            raise RuleError(f"{where}.kind", f"must be one of {', '.join(DECISION_KINDS)}")
        if "block" in action:
            _name(action["block"], f"{where}.block")
        payload = fields.setdefault("payload", {})
        if not isinstance(payload, Mapping):
            raise RuleError(f"{where}.payload", "must be a mapping")
        _json_size(payload, f"{where}.payload", MAX_PAYLOAD_BYTES)
        fields["payload"] = json.loads(json.dumps(payload))  # a private copy: rules are shared, immutable
    elif kind == "set_trait":
        _name(action["name"], f"{where}.name")
        _json_size(action["value"], f"{where}.value", MAX_TRAIT_VALUE_BYTES)
    else:
        _name(action["segment"], f"{where}.segment")
    return Action(kind, fields)


def _name(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise RuleError(where, "must be a name of 1 to 128 letters, digits, spaces or _ . : / -")


def _json_size(value: Any, where: str, limit: int) -> None:
    try:
        size = len(json.dumps(value, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise RuleError(where, "must be JSON (strings, numbers, booleans, null, lists, mappings)") from None
    if size > limit:
        raise RuleError(where, f"is {size} bytes as JSON, more than the limit of {limit}")
