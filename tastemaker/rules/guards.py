"""The guards between a rule matching and a rule firing, as pure functions over a person's rule state.

Per rule (state ``fired``: ``{rule_id: [t, ...]}``, oldest first)::

    cooldown   no firing within ``cooldown`` seconds of the rule's last firing
    cap        at most ``cap.count`` firings within any trailing ``cap.per`` seconds

Only the firing times these need are kept: those within max(cooldown, cap.per) of the latest firing,
at most max(cap.count, 1) of them; a rule with neither keeps nothing.

Across rules, the fatigue guard (state ``decisions``: ``[t, ...]``, one entry per decision action shown)
allows at most ``FatigueConfig.per_session`` decisions since the session started (``session.started_at``)
and ``per_day`` within the trailing 24 hours. Several rules firing on one event are offered the remaining
budget by priority (highest first), then id; a firing whose decisions do not all fit is suppressed whole
(a firing is all or nothing: put a trait that must be set regardless in a rule of its own). Rules without
decision actions are never fatigue-suppressed. Suppressed firings leave no trace in the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from tastemaker.rules.document import Rule

DAY_S = 86_400
COOLDOWN, CAP, FATIGUE = "cooldown", "cap", "fatigue"
_NONE: Mapping[str, Any] = {}


@dataclass(frozen=True)
class FatigueConfig:
    per_session: int = 3
    per_day: int = 10

    def __post_init__(self) -> None:
        if self.per_session < 0 or self.per_day < 0:
            raise ValueError("fatigue limits must not be negative")


def refusal(rule: Rule, state: Mapping[str, Any], session_started_at: float | None, now: float,
            fatigue: FatigueConfig) -> str | None:
    """Which guard stops ``rule`` firing now (COOLDOWN, CAP, FATIGUE), or None when it may fire."""
    fired = state.get("fired", _NONE).get(rule.id, ())
    cooldown_s = rule.cooldown_s
    if cooldown_s is not None and fired and now - fired[-1] < cooldown_s:
        return COOLDOWN
    cap = rule.cap
    if cap is not None and _newer(fired, now - cap.per_s) >= cap.count:
        return CAP
    decisions = rule.decisions
    if decisions:
        shown = state.get("decisions", ())
        today = _newer(shown, now - DAY_S)
        this_session = _since(shown, session_started_at) if session_started_at is not None else 0
        if today + decisions > fatigue.per_day or this_session + decisions > fatigue.per_session:
            return FATIGUE
    return None


def _newer(times: Any, than: float) -> int:
    """How many of ``times`` are after ``than`` (a loop: ~2x faster than sum() over a generator here)."""
    n = 0
    for t in times:
        if t > than:
            n += 1
    return n


def _since(times: Any, start: float) -> int:
    n = 0
    for t in times:
        if t >= start:
            n += 1
    return n


def record(rule: Rule, state: Mapping[str, Any], now: float, fatigue: FatigueConfig) -> dict[str, Any]:
    """The state after ``rule`` fired at ``now`` (a new dict; the given one is not changed)."""
    state = dict(state)
    keep_s = max(rule.cooldown_s or 0, rule.cap.per_s if rule.cap else 0)
    if keep_s:
        keep_n = max(rule.cap.count if rule.cap else 1, 1)
        times = [t for t in state.get("fired", {}).get(rule.id, []) if t > now - keep_s] + [now]
        state["fired"] = {**state.get("fired", {}), rule.id: times[-keep_n:]}
    if rule.decisions:
        shown = [t for t in state.get("decisions", []) if t > now - DAY_S] + [now] * rule.decisions
        state["decisions"] = shown[-max(fatigue.per_day, fatigue.per_session, 1):]
    return state
