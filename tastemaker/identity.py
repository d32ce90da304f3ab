"""Which person an event belongs to: ids, the links between them, and the per-id state of the identity stage.

Segment-style events carry ``userId`` (a known user) and/or ``anonymousId`` (a browser or device). An event is
keyed by its *raw id*: the user id when present, else the anonymous id. Ids share one namespace (anonymous
ids are UUIDs in practice). Each raw id points at one *person*; until it is linked, an id is its own person.

How links are made (each step runs in the partition that owns the state it changes)::

    identify(userId=U, anonymousId=A)       (any event carrying both ids links them, as in Segment)
      │ events_by_id, key U:   person(U) = P
      ▼
    events_by_person, key P:   A not among P's ids, P under the cap ──▶ link(A -> P), key A
      │                                                                    │ events_by_id
      ▼                                                                    ▼
    events_by_id, key A:       A was its own person  -> person(A) = P, merge_into(P) ──▶ key A on
                               A pointed at person Q -> person(A) = P, unlink(A)    ──▶ key Q  events_by_person
                                 (a shared device: the new login takes the device; Q keeps what it learnt,
                                  and two users are never merged through a device)

    events_by_person, key A:   merge_into(P): send absorb(A's profile, ids, watermarks) to P; A becomes a
                               tombstone that forwards whatever still reaches it to P
    events_by_person, key P:   absorb: P's profile += A's profile

``alias(previousId=X, userId=U)`` is the same with X in A's place, and may merge two known users, as it does
in Segment. The cap on ids per person (``max_ids``) stops one shared device or a scripted login loop from
welding strangers into one profile: past it, a new id stays its own person and the refusal is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping


def clean_id(value: Any) -> str | None:
    """An id as Tastemaker stores it: a stripped non-blank string (Segment also allows integers)."""
    if type(value) is str:  # the usual case, first: several ids per event are cleaned
        return value.strip() or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema counts 1.0 as an integer
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def raw_user_key(event: Any) -> str | None:
    """The key an event is partitioned by, or None when it names nobody."""
    if not isinstance(event, dict):
        return None
    return clean_id(event.get("userId")) or clean_id(event.get("anonymousId"))


def person_of(id_state: Mapping[str, Any] | None, raw_id: str) -> str:
    """The person a raw id belongs to (stage 2 state: ``{"person": P}``)."""
    return (id_state or {}).get("person") or raw_id


class LinkAction(Enum):
    NOTHING = "nothing"  # already that person's
    MERGE = "merge"  # the id was its own person: its history joins the new person
    MOVE = "move"  # the id belonged to another person: it moves, that person keeps its history


@dataclass(frozen=True)
class LinkOutcome:
    state: dict[str, Any]
    action: LinkAction
    previous_person: str


def link(id_state: Mapping[str, Any] | None, raw_id: str, person: str) -> LinkOutcome:
    current = person_of(id_state, raw_id)
    if current == person:
        return LinkOutcome(dict(id_state or {}), LinkAction.NOTHING, current)
    state = {**(id_state or {}), "person": person}
    action = LinkAction.MERGE if current == raw_id else LinkAction.MOVE
    return LinkOutcome(state, action, current)


@dataclass(frozen=True)
class LinkStep:
    state: dict[str, Any] | None  # to store, or None: unchanged
    commands: list[tuple[str, dict[str, Any]]]  # (person key, record) for events_by_person
    outcome: str | None


def on_link(id_state: Mapping[str, Any] | None, raw_id: str, person: str) -> LinkStep:
    """The identity stage's answer to ``link(raw_id -> person)``."""
    outcome = link(id_state, raw_id, person)
    if outcome.action is LinkAction.MOVE:
        return LinkStep(outcome.state, [(outcome.previous_person, {"kind": "unlink", "id": raw_id})], "identity_moved")
    # MERGE, or a repeated link (a crash may have lost the first merge_into): merge_into is idempotent.
    commands = [(raw_id, {"kind": "merge_into", "target": person})] if raw_id != person else []
    if outcome.action is LinkAction.MERGE:
        return LinkStep(outcome.state, commands, "identity_linked")
    return LinkStep(None, commands, None)


def ids_to_link(event: Mapping[str, Any]) -> list[str]:
    """Every id an event names, in the order they should join its person."""
    ids = []
    for name in ("user_id", "anonymous_id", "previous_id"):
        value = event.get(name)
        if value and value not in ids:
            ids.append(value)
    return ids


class RateMeter:
    """Events per raw id in the current minute: more than a person can produce means a script.

    In memory on each worker, reset every minute: an estimate that needs no state writes. Only the current
    minute's ids are kept, so memory is bounded by the ids active in one minute.
    """

    def __init__(self, max_per_minute: int) -> None:
        self.max_per_minute = max_per_minute
        self._minute = -1
        self._counts: dict[str, int] = {}

    def too_fast(self, raw_id: str, at: float) -> bool:
        minute = int(at // 60)
        if minute != self._minute:
            self._minute, self._counts = minute, {}
        count = self._counts.get(raw_id, 0) + 1
        self._counts[raw_id] = count
        return count > self.max_per_minute
