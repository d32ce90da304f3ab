"""The person stage as pure transitions: what one record does to a person's state, and what it sends on.

State per person (one table value, one changelog record per change)::

    {"ids": ["u-42", "anon-1f3c"],        the raw ids linked to this person (capped, see identity.py)
     "applied": {"clickstream:3|anon-1f3c": 41, ...},   exactly-once watermarks (tastemaker.delivery)
     "merged_into": None,                 or the person this one was merged into (a tombstone, which
                                          keeps what it handed over and "absorb_source", see on_merge_into)
     "profile": {...}, "sessions": {...}, "windows": {...}, "rules": {...}, "clock": {...},
     "recommend": {...}}                  what the person's events taught and the person's own controls
                                          (tastemaker/behaviour.py PARTS)

Records the person stage applies (items of ``events_by_person`` bundles, or of ``events_by_id`` bundles the
identity stage applies in its pass: agents/identity.py; JSON, ``kind`` says which)::

    {"kind": "event", ...Event fields}                        apply to the profile; link new ids
    {"kind": "merge_into", "target": P}                       from the identity stage: hand everything to P
    {"kind": "absorb", "from": F, "ids", "profile", "applied"}  a merged person's state, joining this one
    {"kind": "unlink", "id": K}                               K moved to another person (shared device)
    {"kind": "tick", "now": T}                                wall-clock time T passed (timers, idle sessions)
    {"kind": "command", "command": C, "at": T, "args": {...}}  one of COMMANDS: reset, opt_out, opt_in, forget,
                                                              not_interested, undo_not_interested, preferences
    {"kind": "forget_tombstone", "of": P}                     delete this tombstone if it points at P

Forgetting a person deletes their state (a tombstone on the changelog), every tombstone of a person merged
into them (each still holds what it handed over), through the identity stage every id's link, and takes
every id of theirs out of what training reads (a marker in the interaction history, acknowledged before the
state is deleted, tastemaker/interaction_log.py)::

    forget ──▶ forget markers for each id ──▶ interactions (hidden from every later training run)
           ──▶ del profiles[P] ──▶ forget_id(P) for each id ──▶ events_by_id: del identities[id]
                               └─▶ forget_tombstone(P) for each id ──▶ events_by_person: del profiles[id]

Opting out writes the same markers (the history of an opted-out person trains no model; so does a merge
that joins an opted-out person with one who was not) and, while the person stays opted out, no applied
event of theirs is recorded in the history (``Step.history``).

A tombstone forwards events and absorbs that still reach it (they were routed before the merge) to the
person it merged into, keeping their source positions, so nothing routed early is lost.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from typing import Any, Mapping

from tastemaker import behaviour, sessions, windows
from tastemaker import profile as profiles
from tastemaker.behaviour import Knowledge
from tastemaker.delivery import SourcePosition, is_applied, mark_applied, merge_applied
from tastemaker.identity import ids_to_link
from tastemaker.interaction_log import forget_marker, interaction_record
from tastemaker.recommend import controls

BY_ID, BY_PERSON = "by_id", "by_person"


@dataclass(frozen=True)
class Send:
    """A record to put on ``events_by_id`` (BY_ID) or ``events_by_person`` (BY_PERSON)."""

    to: str
    key: str
    value: dict[str, Any]
    source: SourcePosition


@dataclass
class Step:
    state: dict[str, Any] | None  # the state to store, or None to leave it as it is
    sends: list[Send] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # counted in GET /stats/ingest
    decisions: list[dict[str, Any]] = field(default_factory=list)  # for personalization_decisions
    delete: bool = False  # delete the person's state (forget)
    # For the interaction history, (key, record) in order: what the person did with items, or the markers
    # that take their ids out of training (tastemaker/interaction_log.py).
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


PARTS = ("profile", "sessions", "windows", "rules", "clock", "recommend")


def new_person(person: str) -> dict[str, Any]:
    return {"ids": [person], "applied": {}, "merged_into": None, **behaviour.empty_parts()}


def _learnt(step: Step, state: dict[str, Any], person: str, learnt: behaviour.Learnt, emitted_at: float) -> Step:
    step.state = {**state, **learnt.parts}
    step.outcomes.extend(learnt.outcomes)
    step.decisions.extend(behaviour.decision_records(person, state["ids"], learnt.firings, emitted_at))
    return step


def on_event(
    state: Mapping[str, Any] | None, person: str, event: Mapping[str, Any], source: SourcePosition,
    here: SourcePosition, max_ids: int, knowledge: Knowledge = Knowledge(), emitted_at: float = 0.0,
) -> Step:
    """``source``: the event's input position and raw id; ``here``: this record's position, for what it sends."""
    state = state or new_person(person)
    if state["merged_into"]:
        return Step(None, [Send(BY_PERSON, state["merged_into"], {"kind": "event", **event}, source)], ["forwarded"])
    if is_applied(state["applied"], source):
        # A crash may have stored this event's effect but lost the links it sent: send them again (a link
        # the identity stage already made changes nothing there).
        again = [i for i in ids_to_link(event) if i in state["ids"] and i != person]
        return Step(None, [_link(i, person, here) for i in again], ["redelivered"])
    if event.get("is_bot"):
        return Step(None, outcomes=[f"bot:{event.get('bot_reason') or 'unknown'}"])  # no profile, no links

    ids = list(state["ids"])
    step = Step(None, outcomes=["applied"])
    for raw_id in ids_to_link(event):
        if raw_id in ids:
            continue
        if len(ids) >= max_ids:
            step.outcomes.append("identity_cap")
            continue
        ids.append(raw_id)
        step.sends.append(_link(raw_id, person, here))
    state = {**state, "ids": ids, "applied": mark_applied(state["applied"], source)}
    step = _learnt(step, state, person, behaviour.on_event(state, event, knowledge), emitted_at)
    # Nothing of an opted-out person is kept for training (their consent as this event left it).
    if profiles.personalized(step.state["profile"]) and (record := interaction_record(person, event)) is not None:
        step.history.append((person, record))
    return step


def on_record(state: Mapping[str, Any] | None, person: str, body: Mapping[str, Any], source: SourcePosition,
              here: SourcePosition, max_ids: int, knowledge: Knowledge = Knowledge(), emitted_at: float = 0.0) -> Step:
    """Any record of the person stage, by its ``kind`` (the table at the top); ValueError for an unknown one."""
    kind = body.get("kind", "event")
    if kind == "event":
        return on_event(state, person, body, source, here, max_ids, knowledge, emitted_at)
    if kind == "tick":
        return on_tick(state, person, float(body["now"]), knowledge, emitted_at)
    if kind == "command":
        return on_command(state, person, str(body["command"]), float(body["at"]), here, body.get("args"))
    if kind == "forget_tombstone":
        return on_forget_tombstone(state, str(body["of"]))
    if kind == "merge_into":
        return on_merge_into(state, person, str(body["target"]), here)
    if kind == "absorb":
        return on_absorb(state, person, body, source)
    if kind == "unlink":
        return on_unlink(state, person, str(body["id"]))
    raise ValueError(f"unknown kind {kind!r}")


def on_tick(state: Mapping[str, Any] | None, person: str, now: float, knowledge: Knowledge = Knowledge(),
            emitted_at: float = 0.0) -> Step:
    """Wall-clock time ``now`` passed: idle sessions close, due timers fire. Idempotent: a tick that finds
    nothing due changes nothing (ticks are re-sent after a restart)."""
    if not state or state["merged_into"]:
        return Step(None)
    learnt = behaviour.on_tick(state, now, knowledge)
    if all(learnt.parts.get(part) == state.get(part) for part in PARTS) and not learnt.firings:
        return Step(None)
    return _learnt(Step(None, outcomes=["tick"]), dict(state), person, learnt, emitted_at)


def _link(raw_id: str, person: str, here: SourcePosition) -> Send:
    return Send(BY_ID, raw_id, {"kind": "link", "id": raw_id, "person": person}, here)


def on_merge_into(state: Mapping[str, Any] | None, person: str, target: str, here: SourcePosition) -> Step:
    """Hand this person's history to ``target``. The tombstone keeps what it handed over and under which
    position, so a repeated command (after a crash lost the first absorb) re-sends the very same absorb,
    which the target recognises if it did arrive."""
    state = state or new_person(person)
    if target == person:
        return Step(None)
    if state["merged_into"]:
        if state["merged_into"] != target:
            return Step(None)  # merged elsewhere before: the history went there
        return Step(None, [_absorb(person, state, target, SourcePosition(*state["absorb_source"]))])
    tombstone = {**state, "merged_into": target, "absorb_source": list(astuple(here))}
    return Step(tombstone, [_absorb(person, state, target, here)], ["merged"])


def _absorb(person: str, state: Mapping[str, Any], target: str, source: SourcePosition) -> Send:
    value = {"kind": "absorb", "from": person, "ids": state["ids"], "profile": state["profile"],
             "sessions": state.get("sessions"), "windows": state.get("windows"), "applied": state["applied"]}
    return Send(BY_PERSON, target, value, source)


def on_absorb(state: Mapping[str, Any] | None, person: str, absorbed: Mapping[str, Any], source: SourcePosition) -> Step:
    state = state or new_person(person)
    if state["merged_into"]:
        return Step(None, [Send(BY_PERSON, state["merged_into"], dict(absorbed), source)], ["forwarded"])
    if is_applied(state["applied"], source):
        return Step(None, outcomes=["redelivered"])
    ids = list(state["ids"]) + [i for i in absorbed["ids"] if i not in state["ids"]]
    profile = profiles.merge(state["profile"], absorbed["profile"])
    history = []
    if not profiles.personalized(profile):
        # One of the two had opted out, so the person has: the other's history trains no model either.
        at = (profile.get("consent") or {}).get("opted_out_at") or 0.0
        for side, side_ids in ((state, state["ids"]), (absorbed, absorbed["ids"])):
            if profiles.personalized(side.get("profile") or {}):
                history += [(raw_id, forget_marker(raw_id, at, "opt_out")) for raw_id in side_ids]
    return Step({
        "ids": ids,
        # The absorbed watermarks come along: a re-delivery of a record the absorbed person applied, now
        # routed here, is recognised (its stream is "<input partition>|<its raw id>").
        "applied": merge_applied(mark_applied(state["applied"], source), absorbed["applied"]),
        "merged_into": None,
        "profile": profile,
        # A gap-closed session of the two is kept in the history; its session_end rules do not run.
        "sessions": sessions.merge(state.get("sessions"), absorbed.get("sessions")).state,
        "windows": windows.merge(state.get("windows"), absorbed.get("windows")),
        # The surviving person's cooldowns, caps and timers hold; the absorbed one's are dropped.
        "rules": state.get("rules") or {},
        "clock": state.get("clock") or absorbed.get("clock"),
    }, history=history)


def on_unlink(state: Mapping[str, Any] | None, person: str, raw_id: str) -> Step:
    if not state or state["merged_into"] or raw_id == person or raw_id not in state["ids"]:
        return Step(None)
    return Step({**state, "ids": [i for i in state["ids"] if i != raw_id]})


COMMANDS = ("reset", "opt_out", "opt_in", "forget", "not_interested", "undo_not_interested", "preferences")


def on_command(state: Mapping[str, Any] | None, person: str, command: str, at: float, here: SourcePosition,
               args: Mapping[str, Any] | None = None) -> Step:
    """A person's request about their own data. Idempotent: repeating a command changes nothing more.
    ``args``: not_interested / undo_not_interested: ``item_id`` and/or ``category``; preferences: ``categories``
    and ``brands`` (onboarding answers: kept, and credited to the profile's affinities)."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    if not state and command in ("preferences", "not_interested"):
        state = new_person(person)  # onboarding before any event: the answers are the person's first state
    if not state:
        # No state (forgotten already, or never seen): a forget still hides whatever history the id has.
        history = [(person, forget_marker(person, at))] if command == "forget" else []
        return Step(None, outcomes=[f"command:{command}:nobody"], history=history)
    if state["merged_into"]:  # routed before a merge: it is the surviving person's to apply
        body = {"kind": "command", "command": command, "at": at, **({"args": dict(args)} if args else {})}
        return Step(None, [Send(BY_PERSON, state["merged_into"], body, here)], ["forwarded"])
    if command == "forget":
        step = Step(None, delete=True, outcomes=["command:forget"],
                    history=[(raw_id, forget_marker(raw_id, at)) for raw_id in state["ids"]])
        for raw_id in state["ids"]:
            step.sends.append(Send(BY_ID, raw_id, {"kind": "forget_id", "of": person}, here))
            if raw_id != person:
                step.sends.append(Send(BY_PERSON, raw_id, {"kind": "forget_tombstone", "of": person}, here))
        return step
    parts = {part: state.get(part) for part in PARTS}
    history = []
    if command == "reset":
        parts.update(behaviour.empty_parts(), profile=profiles.reset(state["profile"]))
    elif command == "opt_out":
        parts.update(profile=profiles.opt_out(state["profile"], at), rules={})
        if profiles.personalized(state["profile"]):  # opting out again hides nothing more
            history = [(raw_id, forget_marker(raw_id, at, "opt_out")) for raw_id in state["ids"]]
    elif command == "opt_in":
        parts["profile"] = profiles.opt_in(state["profile"])
    elif command in ("not_interested", "undo_not_interested"):
        change = controls.not_interested if command == "not_interested" else controls.undo_not_interested
        args = args or {}
        parts["recommend"] = change(state.get("recommend"), item_id=args.get("item_id"), category=args.get("category"))
    else:  # preferences
        args = args or {}
        recommend = controls.set_preferences(state.get("recommend"), args.get("categories") or (), args.get("brands") or ())
        parts.update(recommend=recommend, profile=controls.seed_profile(state["profile"], recommend["preferences"], at))
    return Step({**state, **parts}, outcomes=[f"command:{command}"], history=history)


def on_forget_tombstone(state: Mapping[str, Any] | None, of: str) -> Step:
    if state and state.get("merged_into") == of:
        return Step(None, delete=True, outcomes=["forgotten_tombstone"])
    return Step(None)
