"""What one event teaches about a person, in one pass over their state: session, windows, profile, rules.

    event ─▶ page type ─▶ sessions ──(a gap closed the last one)──▶ rules on "session_end"
                          windows (late? not counted)
                          profile (counts, cart, affinities, ...)
                          rules ──▶ firings ──▶ decisions (to personalization_decisions)
                                            └─▶ set_trait / add_segment / remove_segment (to the profile)

    tick (wall clock) ─▶ sessions idle past the timeout: close ──▶ rules on "session_end"
                         rule timers due ──▶ rules on the timer event

The person's state holds each part under its own key (``parts``): ``profile`` (tastemaker/profile.py),
``sessions`` (tastemaker/sessions.py), ``windows`` (tastemaker/windows.py), ``rules`` (the rules' guard
and timer state, tastemaker/rules), ``recommend`` (the person's controls, onboarding answers and frequency
caps, tastemaker/recommend/controls.py) and ``clock``.

Time: sessions, windows and rule timers run on event time. The wall clock only says when to look for what
is due although the person sends nothing: ``clock`` keeps the lag between the latest received event's
receive time and its event time, and a tick at wall time T stands for event time T - lag. Live, the lag is
a fraction of a second; for recorded events replayed today it is their age, so a backlog being worked off
does not find its sessions closed and its timers fired under it: a wall-clock tick acts only after the idle
timeout or a rule's wait has passed on the clock since the person's latest event was received. Everything here is a pure function of the parts, the event and the
``Knowledge`` (configuration and the rules in force): replaying the same records gives the same parts and
the same decisions, which is what makes a restart invisible (decision ids are derived, not drawn).

Synthetic events the rules see besides the person's own: ``{"type": "session_end", "name": "Session Ended"}``
with ``session`` the closed session's summary, and ``{"type": "timer", "name": <rule id>}`` when a timed
rule's wait is over (timers fire on the next tick or on the person's next event, whichever comes first).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from tastemaker import affinity, intent as intents, profile as profiles, sessions, windows
from tastemaker.page_types import PageTypes
from tastemaker.recommend import caps, controls
from tastemaker.rules import Evaluation, RuleSet, Suppressed, due_timers, timer_event

SESSION_END = "session_end"
DECISION_ACTION = "decision"


@dataclass(frozen=True)
class Knowledge:
    """What the person stage judges with: every configuration and the rules in force."""

    rules: RuleSet = field(default_factory=RuleSet)
    sessions: sessions.SessionConfig = sessions.DEFAULT
    windows: windows.WindowConfig = windows.DEFAULT
    profile: profiles.ProfileConfig = profiles.DEFAULT
    page_types: PageTypes = field(default_factory=PageTypes)


@dataclass
class Learnt:
    parts: dict[str, Any]
    firings: list[dict[str, Any]] = field(default_factory=list)  # decision-ready, see decision_records
    suppressed: list[Suppressed] = field(default_factory=list)  # by a cooldown, a cap or the fatigue budget
    outcomes: list[str] = field(default_factory=list)


def empty_parts() -> dict[str, Any]:
    return {"profile": profiles.empty(), "sessions": sessions.empty(), "windows": windows.empty(), "rules": {},
            "clock": None, "recommend": controls.empty()}


def _lag(parts: Mapping[str, Any]) -> float:
    clock = parts.get("clock")
    return clock["received"] - clock["event_time"] if clock else 0.0


def on_event(parts: Mapping[str, Any], event: Mapping[str, Any], knowledge: Knowledge) -> Learnt:
    event = dict(event)
    if not event.get("page_type"):
        event["page_type"] = knowledge.page_types.of(event)
    at = float(event["event_time"])
    learnt = Learnt(dict(parts))
    received = event.get("received_at")
    clock = parts.get("clock")
    if received and (clock is None or received >= clock["received"]):
        learnt.parts["clock"] = {"received": received, "event_time": at}

    step = sessions.apply(parts.get("sessions"), event, knowledge.sessions)
    learnt.parts["sessions"] = step.state
    if step.late:
        learnt.outcomes.append("late:session")
    if step.closed is not None:
        _evaluate(learnt, _session_end(step.closed), step.closed, knowledge)

    applied = windows.apply(parts.get("windows"), event, knowledge.windows)
    learnt.parts["windows"] = applied.state
    if applied.late:
        learnt.outcomes.append("late:windows")

    learnt.parts["profile"] = profiles.apply_event(learnt.parts.get("profile"), event, knowledge.profile)
    recommend = _apply_to_caps(parts.get("recommend"), event, at)
    if recommend is not None:
        learnt.parts["recommend"] = recommend
    if knowledge.rules.rules:  # none in force: _evaluate would return at once (no closure to build for it)
        _evaluate(learnt, event, lambda: _open_session(learnt.parts["sessions"], event, knowledge), knowledge, at)
    return learnt


# Events that feed the recommendations' frequency caps (tastemaker/recommend/caps.py): what a block showed
# (its items in ``products``) and what the person clicked.
SHOWN = "Recommendation Shown"
CLICKS = ("Product Clicked", "Recommendation Clicked")


def _apply_to_caps(state: Mapping[str, Any] | None, event: Mapping[str, Any], at: float) -> dict[str, Any] | None:
    """The recommend part after a show or a click, or None when the event is neither."""
    name, items = event.get("name"), event.get("item_ids") or []
    if event.get("type") != "track" or not items or (name != SHOWN and name not in CLICKS):
        return None
    state = {**controls.empty(), **(state or {})}
    if name == SHOWN:
        state["caps"] = caps.record_shown(state.get("caps"), items, at)
    else:
        for item_id in items:
            state["caps"] = caps.record_click(state.get("caps"), item_id)
    return state


def on_tick(parts: Mapping[str, Any], wall_now: float, knowledge: Knowledge) -> Learnt:
    """Wall-clock time passed: close an idle session, fire the timers that are due (on the person's clock)."""
    learnt = Learnt(dict(parts))
    now = wall_now - _lag(parts)
    step = sessions.close_if_idle(parts.get("sessions"), now, knowledge.sessions)
    if step.closed is not None:
        learnt.parts["sessions"] = step.state
        _evaluate(learnt, _session_end(step.closed), step.closed, knowledge)
    for rule_id, due in due_timers(learnt.parts.get("rules"), now):
        _evaluate(learnt, timer_event(rule_id, due), lambda: _open_session(learnt.parts["sessions"], None, knowledge),
                  knowledge, due)
    return learnt


def next_due(parts: Mapping[str, Any], knowledge: Knowledge) -> float | None:
    """The wall-clock time at which ``on_tick`` has something to do for this person, if ever."""
    rules = parts.get("rules")
    dues = [due for _, due in due_timers(rules, float("inf"))] if rules and rules.get("timers") else []
    session_due = sessions.due_at(parts.get("sessions"), knowledge.sessions)
    if session_due is not None:
        dues.append(session_due)
    return min(dues) + _lag(parts) if dues else None


def _session_end(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": SESSION_END, "name": "Session Ended", "event_id": f"session-end:{summary['id']}",
            "event_time": summary["end"]}


def _open_session(state: Mapping[str, Any] | None, event: Mapping[str, Any] | None, knowledge: Knowledge):
    current = (state or {}).get("current")
    if not current:
        return None
    summary = sessions.summarize(current, knowledge.sessions)
    # The page the event is about: its page view, else the latest page.
    page = None
    view = (event or {}).get("page_view_id")
    for candidate in reversed(current["pages"]):
        if view is None or candidate.get("page_view_id") == view:
            page = candidate
            break
    summary["current_page_dwell_s"] = (page.get("dwell_ms") or 0) / 1000 if page else None
    return summary


def _evaluate(learnt: Learnt, event: Mapping[str, Any], session, knowledge: Knowledge, at: float | None = None) -> None:
    """``session``: the session summary the rules see, or a function that builds it (only if needed)."""
    profile = learnt.parts.get("profile") or profiles.empty()
    if not profiles.personalized(profile) or not knowledge.rules.rules:
        return  # opted out: no decisions, no rule state kept
    now = float(event["event_time"] if at is None else at)
    open_session = (learnt.parts.get("sessions") or {}).get("current")
    signals = WindowSignals(learnt.parts.get("windows"), now)
    # The views are built only if a condition is evaluated on this event.
    evaluation: Evaluation = knowledge.rules.evaluate(
        learnt.parts.get("rules"), event, lambda fields: rules_view(profile, now, open_session, knowledge, fields),
        lambda fields: _session_view(session() if callable(session) else session), signals, now)
    learnt.outcomes.extend(f"rules:{outcome}" for outcome in evaluation.outcomes)
    learnt.suppressed.extend(evaluation.suppressed)
    if evaluation.changed:
        learnt.parts["rules"] = evaluation.state
    for firing in evaluation.firings:
        profile = _apply_actions(profile, firing.actions, knowledge)
        # A timer's firing is triggered by the timer, also when the person's next event found it due.
        trigger = timer_event(firing.rule_id, firing.at) if firing.trigger == "timer" else event
        learnt.firings.append({**firing.to_dict(), "trigger_event": trigger})
    learnt.parts["profile"] = profile


def _apply_actions(profile: dict[str, Any], actions, knowledge: Knowledge) -> dict[str, Any]:
    for action in actions:
        kind = action["type"]
        if kind == "set_trait":
            profile = profiles.set_trait(profile, action["name"], action.get("value"), knowledge.profile)
        elif kind == "add_segment":
            profile = profiles.add_segment(profile, action["segment"], knowledge.profile)
        elif kind == "remove_segment":
            profile = profiles.remove_segment(profile, action["segment"])
    return profile


class WindowSignals:
    """The rules' ``count(...)`` helpers, answered from the person's windows at the event's time."""

    def __init__(self, state: Mapping[str, Any] | None, at: float) -> None:
        self.state, self.at = state, at

    def count(self, key: str, window_seconds: int) -> int:
        return windows.count(self.state, key, window_seconds, self.at)


def rules_view(profile: Mapping[str, Any], now: float, session: Mapping[str, Any] | None,
               knowledge: Knowledge, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The profile as conditions read it (tastemaker/rules/context.py documents the fields); ``session``:
    the open session (intent reads it). ``fields``: only these are needed (a selection, keyed by field;
    None: all); intent, affinities and the cart, the costly ones, are computed only when asked for."""
    def wanted(name: str) -> bool:
        return fields is None or name in fields

    intent = _intent_at(profile, now, session, knowledge) if wanted("intent") else {}
    view = {
        "traits": profile.get("traits") or {},
        "counts": profile.get("counts") or {},
        "segments": profile.get("segments") or [],
        "intent": {"browse": intent.get("browse", 0.0), "research": intent.get("research", 0.0),
                   "purchase": intent.get("purchase", 0.0), "abandonment": intent.get("abandonment_risk", 0.0)},
        "affinities": affinity.scores_at(profile.get("affinities"), now, knowledge.profile.affinity)
                      if wanted("affinities") else {},
        "purchases": profile.get("purchase_count") or 0,
        "consent": profile.get("consent") or {},
    }
    if wanted("cart"):
        cart = profile.get("cart") or {}
        items = cart.get("items") or {}
        view["cart"] = {
            "items": [{"id": item, "qty": v[0], "price": v[1], "category": v[2]} for item, v in items.items()],
            "categories": sorted({v[2] for v in items.values() if v[2]}), "value": cart.get("value") or 0.0}
    return view


def _intent_at(profile: Mapping[str, Any], now: float, session: Mapping[str, Any] | None,
               knowledge: Knowledge) -> Mapping[str, Any]:
    """``profiles.refresh_intent(profile, now, session)["intent"] or {}``, without the copy of the profile it
    returns: the scores at ``now``, or the stored intent of a person who opted out."""
    if not profiles.personalized(profile):
        return profile.get("intent") or {}
    config = knowledge.profile.intent
    return intents.score(intents.features_from(profile, session, now, config), config)


def _session_view(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    exit_ = summary.get("exit") or {}
    return {
        "started_at": summary["start"], "duration_s": summary["duration_s"], "page_count": summary["page_count"],
        "pages": [{"page_type": p.get("page_type"), "path": p.get("path"), "dwell_ms": p.get("dwell_ms"),
                   "scroll_depth": p.get("scroll_depth")} for p in summary.get("pages") or []],
        "current_page_dwell_s": summary.get("current_page_dwell_s"), "max_scroll": summary.get("max_scroll"),
        "events": summary["events"], "bounce": summary["bounce"], "quick_exit": summary["quick_exit"],
        "converted": summary["converted"], "exit_page_type": exit_.get("page_type"),
    }


def public_view(state: Mapping[str, Any], now: float, knowledge: Knowledge = Knowledge()) -> dict[str, Any]:
    """A person as ``GET /profiles/{id}`` shows them: profile (decayed affinities and intent at ``now``), the
    open session, past sessions and the windowed counts; no watermarks or rule bookkeeping."""
    session_state = state.get("sessions") or {}
    current = session_state.get("current")
    return {
        "ids": state.get("ids") or [],
        "profile": profiles.public_view(state.get("profile") or profiles.empty(), now, current, knowledge.profile),
        "session": sessions.summarize(current, knowledge.sessions) if current else None,
        "sessions": session_state.get("history") or [],
        "windows": windows.counts(state.get("windows"), max(now, windows.watermark(state.get("windows")) or 0),
                                  knowledge.windows),
    }


def decision_records(person: str, ids: list[str], firings: list[dict[str, Any]], emitted_at: float) -> list[dict]:
    """One record per decision action of each firing, for ``personalization_decisions`` (keyed by person).

    The id is derived from the person, the rule version, the trigger and the action's place, so a firing
    recomputed after a crash carries the same id and subscribers can drop the repeat.
    """
    records = []
    for firing in firings:
        trigger = firing["trigger_event"]
        trigger_id = trigger.get("event_id") or f"{trigger.get('type')}:{trigger.get('name')}:{trigger['event_time']}"
        for index, action in enumerate(firing["actions"]):
            if action["type"] != DECISION_ACTION:
                continue
            basis = f"{person}|{firing['rule_id']}|{firing['version']}|{trigger_id}|{index}"
            records.append({
                "decision_id": hashlib.blake2b(basis.encode(), digest_size=12).hexdigest(),
                "person": person,
                "ids": ids,
                "rule_id": firing["rule_id"],
                "rule_version": firing["version"],
                "action": action["kind"],
                "block": action.get("block"),
                "payload": action.get("payload") or {},
                "why": firing["signals"],
                "trigger": {"type": trigger.get("type"), "name": trigger.get("name"), "event_id": trigger.get("event_id")},
                "event_time": trigger["event_time"],
                "emitted_at": emitted_at,
            })
    return records
