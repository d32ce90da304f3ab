"""Shared builders for the rules tests: documents, events, and windowed counts the test controls."""

from __future__ import annotations

from typing import Any


def document(**fields: Any) -> dict[str, Any]:
    """A valid rule document, with the given fields replacing or adding to the defaults."""
    base = {
        "id": "r", "version": 1, "description": "a test rule", "when": 'event.name == "Product Viewed"',
        "actions": [{"type": "decision", "kind": "offer", "block": "hero", "payload": {"code": "X"}}],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def track(name: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "name": name, "event_time": at, **fields}


def page(at: float, **fields: Any) -> dict[str, Any]:
    return {"type": "page", "event_time": at, **fields}


class Counts:
    """signals.count answering from a dict of key -> count (any window), recording what was asked."""

    def __init__(self, counts: dict[str, int] | None = None):
        self.counts = counts or {}
        self.asked: list[tuple[str, int]] = []

    def count(self, key: str, window_seconds: int) -> int:
        self.asked.append((key, window_seconds))
        return self.counts.get(key, 0)
