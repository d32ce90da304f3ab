"""What the person stage keeps of an applied event as interaction history (the recommender's training data),
and how a forgotten or opted-out person is taken out of it.

    person stage ──(an applied event about items, or an engagement heartbeat, of a person not opted out)─┐
                 └─(forget, opt-out: a marker for each id of the person, after their records)──────────┴─▶
        <app_id>-interactions   bundled by partition, keyed by person (each marker by its id), kept
                                TASTEMAKER_INTERACTIONS_RETENTION
    faust -A app train ──▶ reads the last TASTEMAKER_TRAIN_WINDOW of it ──▶ HistoryReader: each record once,
                           none that a later marker hides ──▶ recommend.interactions.from_events

Only what training reads is kept (ids, labels, times, the page view a heartbeat belongs to, the context the
model's person features come from), under the person the event was applied to, after identity resolution:
a person's devices train as one person. No traits, no addresses. A person who opted out of
personalization is not recorded at all while opted out (``interaction_record`` is asked by the person stage
with the consent the event left them with, tastemaker/person.py).

Forgetting (and opting out) writes a marker ``{"kind": "forget", "person": id, "at": t}`` into the history
itself, for every id of the person; a reader drops every record of that id read before the marker. Why a
marker in the history, rather than tombstones or a separate topic of forgotten persons:

* the history is bundled (one Kafka record carries items of many persons), so neither a tombstone nor
  compaction can take one person's records out of it;
* a marker is keyed like the records it hides, so it lands in their partition, after them in offset
  order (the person stage writes a person's records in order, and acknowledges the markers before it
  deletes the person's state): what it hides is exact, with no clocks compared between workers, and the
  records of a person who comes back after the forget (a new person under the same id) come after it and
  are kept;
* it lives exactly as long as it is needed: retention deletes a partition's oldest segments first, so a
  marker outlives every record it hides and goes with the last of them (a separate topic would need a
  retention tuned to outlive them, and a reader that reads it whole).

The hidden records leave the topic with its retention (plus at most one segment, app/topics.py); until
then no training reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

FIELDS = ("event_id", "type", "name", "item_ids", "event_time", "page_type", "page_view_id", "dwell_ms",
          "device_type", "locale", "campaign", "page_referrer")
FORGET = "forget"  # the kind of a marker
_NOTHING = (None, [], {})  # values a record leaves out (built once: a literal with [] and {} is built per test)


def interaction_record(person: str, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The history record of an applied event, or None when it is about no item and is no heartbeat."""
    is_heartbeat = event.get("dwell_ms") is not None and event.get("page_view_id")
    if not event.get("item_ids") and not is_heartbeat:
        return None
    get = event.get
    record = {name: get(name) for name in FIELDS if get(name) not in _NOTHING}
    record["person"] = person
    return record


def forget_marker(raw_id: str, at: float, reason: str = "forget") -> dict[str, Any]:
    """The marker that hides every earlier record of ``raw_id`` from training; ``reason``: forget or opt_out."""
    return {"kind": FORGET, "person": raw_id, "at": at, "reason": reason}


@dataclass
class History:
    """What a training run reads of the history."""

    events: list[dict[str, Any]]  # each record once, none hidden by a marker, in the order read
    records: int = 0  # interaction records read
    duplicates: int = 0  # of which the same event again (the history is at least once)
    hidden: int = 0  # of which hidden by a later marker (a person forgotten or opted out after them)
    markers: int = 0
    audit: dict[str, dict[str, int]] = field(default_factory=dict)  # id -> {"in_history", "read"}, when asked

    def summary(self) -> dict[str, int]:
        """The counts, for reports and logs (no ids)."""
        return {"records": self.records, "duplicates": self.duplicates, "hidden": self.hidden,
                "markers": self.markers, "read": len(self.events)}


class HistoryReader:
    """Fed the history's items partition by partition in offset order (partitions may interleave: a
    person's records and markers share one partition), it keeps what training may read.

    ``audit``: ids to count, for an operator checking what a training run reads of a person: how many of
    their records are in the history read, and how many are kept for training."""

    def __init__(self, audit: Iterable[str] = ()) -> None:
        self._events: list[dict[str, Any] | None] = []
        self._by_person: dict[str, list[int]] = {}
        self._seen: set[Any] = set()
        self._audit = {raw_id: {"in_history": 0, "read": 0} for raw_id in audit}
        self.records = self.duplicates = self.hidden = self.markers = 0

    def add(self, key: str | None, body: Mapping[str, Any]) -> None:
        person = body.get("person") or key
        if body.get("kind") == FORGET:
            self.markers += 1
            for index in self._by_person.pop(str(person), ()):
                self._events[index] = None
                self.hidden += 1
            return
        self.records += 1
        event_id = body.get("event_id")
        if event_id is not None:
            if event_id in self._seen:
                self.duplicates += 1
                return
            self._seen.add(event_id)
        if person in self._audit:
            self._audit[person]["in_history"] += 1
        self._by_person.setdefault(str(person), []).append(len(self._events))
        self._events.append({**body, "person": person})

    def result(self) -> History:
        events = [event for event in self._events if event is not None]
        for event in events:
            if event["person"] in self._audit:
                self._audit[event["person"]]["read"] += 1
        return History(events, self.records, self.duplicates, self.hidden, self.markers, self._audit)
