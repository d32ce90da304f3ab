"""The per-user event counter of the first vertical slice, as a pure state transition.

State (one table value per user, JSON)::

    {"events": 7, "applied": {"clickstream:3": 41, "clickstream:5": 12}}

``applied`` makes the count exact under re-delivery (see ``tastemaker.delivery``).
"""

from __future__ import annotations

from typing import Any, Mapping

from tastemaker.delivery import SourcePosition, is_applied, mark_applied


def empty() -> dict[str, Any]:
    return {"events": 0, "applied": {}}


def count_event(state: Mapping[str, Any] | None, source: SourcePosition) -> dict[str, Any] | None:
    """The state after one more event, or None when this event was already counted."""
    state = state or empty()
    if is_applied(state["applied"], source):
        return None
    return {"events": state["events"] + 1, "applied": mark_applied(state["applied"], source)}
