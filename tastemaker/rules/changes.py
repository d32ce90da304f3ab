"""Changes to the rules in force, decided before anything is written: apply, enable/disable, delete.

The admin API (app/web/rules.py) and the CLI (``faust -A app rules ...``) both plan a change here against
the documents currently in force, then write it to the compacted rules topic (key: rule id; value: the
normalized document as JSON, or a tombstone). Refusals are ``RuleError`` with the field and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from tastemaker.rules.document import load_yaml, parse_rule
from tastemaker.rules.errors import RuleError
from tastemaker.rules.ruleset import RuleSet


@dataclass(frozen=True)
class Change:
    rule_id: str
    document: dict[str, Any] | None  # None: delete
    note: str  # "created", "updated to version N", "unchanged", "deleted", "disabled", "enabled"

    @property
    def writes(self) -> bool:
        return self.note != "unchanged"


def plan_apply(current: Mapping[str, Mapping[str, Any]], document: Any) -> Change:
    rule = parse_rule(document)
    existing = current.get(rule.id)
    if existing is None:
        return Change(rule.id, rule.document, "created")
    before = parse_rule(existing)
    if RuleSet([before]).with_rule(rule).rules[rule.id] is before:  # raises when the version does not rise
        return Change(rule.id, before.document, "unchanged")
    return Change(rule.id, rule.document, f"updated to version {rule.version}")


def plan_enabled(current: Mapping[str, Mapping[str, Any]], rule_id: str, enabled: bool) -> Change:
    existing = current.get(rule_id)
    if existing is None:
        raise RuleError("id", f"no rule {rule_id!r}")
    if existing.get("enabled", True) == enabled:
        return Change(rule_id, dict(existing), "unchanged")
    document = {**existing, "enabled": enabled, "version": int(existing["version"]) + 1}
    return Change(rule_id, parse_rule(document).document, "enabled" if enabled else "disabled")


def plan_delete(current: Mapping[str, Mapping[str, Any]], rule_id: str) -> Change:
    if rule_id not in current:
        raise RuleError("id", f"no rule {rule_id!r}")
    return Change(rule_id, None, "deleted")


def load_documents(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, document) for every rule in a YAML/JSON file (several YAML documents separated by ``---``
    allowed) or in every ``*.yaml``/``*.yml``/``*.json`` file of a directory, in name order."""
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json")) if path.is_dir() else [path]
    for file in files:
        try:
            documents = [d for d in load_yaml(file.read_text()) if d is not None]
        except RuleError as error:
            raise RuleError("document", f"{file}: {error.reason}") from None
        for n, document in enumerate(documents):
            yield (f"{file}" if len(documents) == 1 else f"{file} (document {n + 1})"), document
