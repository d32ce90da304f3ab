"""Backtest: replay recorded events offline through the very engine the person stage runs, and report how
often each rule would fire, and for whom.

    events file ──▶ normalize (as ingest) ──▶ persons (userId, else anonymousId; an anonymous id seen with a
    (Segment JSON      │                       userId joins that user from then on)
     lines, or OTTO    ▼
     sessions)     in event-time order: ticks first (idle sessions close, rule timers fire on a virtual clock),
                   then behaviour.on_event  ──▶ firings and suppressions per rule

Time is the events' own: a timer due 30 minutes after an add-to-cart fires at that virtual time if the person
sent nothing to disarm it by then; at the end of the file every pending timer and open session runs out.
Identity here is simpler than the stream's (no merge of what an anonymous id did before its login), which
only matters for rules that span a login.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from tastemaker import behaviour
from tastemaker.behaviour import Knowledge
from tastemaker.ingest.collect import inspect_record
from tastemaker.ingest.event_time import format_iso, parse_iso
from tastemaker.ingest.normalize import normalize
from tastemaker.ingest.sanity import Limits
from tastemaker.ingest.segment_schema import Invalid
from tastemaker.timer_index import TimerIndex

OTTO_EVENTS = {"clicks": "Product Viewed", "carts": "Product Added", "orders": "Order Completed"}
EXAMPLE_PERSONS = 5


@dataclass
class RuleReport:
    firings: int = 0
    persons: set[str] = field(default_factory=set)
    decisions: int = 0
    suppressed: Counter = field(default_factory=Counter)
    by_trigger: Counter = field(default_factory=Counter)


@dataclass
class Report:
    events: int = 0
    refused: Counter = field(default_factory=Counter)
    persons: int = 0
    rules: dict[str, RuleReport] = field(default_factory=lambda: defaultdict(RuleReport))
    first_time: float | None = None
    last_time: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events, "refused": dict(self.refused), "persons": self.persons,
            "from": _iso(self.first_time), "to": _iso(self.last_time),
            "rules": {rule_id: {"firings": r.firings, "persons": len(r.persons), "decisions": r.decisions,
                                "by_trigger": dict(r.by_trigger), "suppressed": dict(r.suppressed),
                                "example_persons": sorted(r.persons)[:EXAMPLE_PERSONS]}
                      for rule_id, r in sorted(self.rules.items())},
        }

    def as_table(self, rule_ids: Iterable[str]) -> str:
        lines = [f"{self.events} events of {self.persons} persons, {_iso(self.first_time)} .. {_iso(self.last_time)}"
                 + (f"; refused: {dict(self.refused)}" if self.refused else ""),
                 f"{'rule':<28} {'firings':>8} {'persons':>8} {'decisions':>10} {'suppressed':>12}  for whom (first {EXAMPLE_PERSONS})"]
        for rule_id in rule_ids:
            r = self.rules.get(rule_id, RuleReport())
            suppressed = sum(r.suppressed.values())
            lines.append(f"{rule_id:<28} {r.firings:>8} {len(r.persons):>8} {r.decisions:>10} {suppressed:>12}  "
                         f"{', '.join(sorted(r.persons)[:EXAMPLE_PERSONS])}")
        return "\n".join(lines)


def read_messages(path: Path) -> Iterator[dict[str, Any]]:
    """Segment messages from a JSON-lines file; OTTO session lines are expanded into e-commerce events."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            record = orjson.loads(line)
            if isinstance(record, dict) and "session" in record and "events" in record:
                yield from _otto(record)
            else:
                yield record


def _otto(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    visitor = f"otto-{record['session']}"
    for n, event in enumerate(record["events"]):
        at = format_iso(datetime.fromtimestamp(event["ts"] / 1000, timezone.utc))
        properties: dict[str, Any] = {"product_id": str(event["aid"])}
        if event["type"] == "orders":
            properties = {"products": [{"product_id": str(event["aid"])}], "order_id": f"{visitor}-{n}"}
        yield {"type": "track", "event": OTTO_EVENTS[event["type"]], "anonymousId": visitor,
               "messageId": f"{visitor}-{n}", "timestamp": at, "properties": properties}


def run(messages: Iterable[dict[str, Any]], knowledge: Knowledge) -> Report:
    report = Report()
    events = []
    for n, message in enumerate(messages):
        checked = inspect_record(orjson.dumps(message))
        if not isinstance(checked, Invalid):
            # Recorded events are judged at their own time: no "too old" refusal.
            at = _time_of(checked)
            checked = normalize(checked, topic="backtest", record_time=at, fallback_id=f"backtest:0:{n}",
                                limits=Limits(max_age=float("inf")))
        if isinstance(checked, Invalid):
            report.refused[checked.reason.split(" (")[0]] += 1
            continue
        events.append(checked)
    events.sort(key=lambda e: e["event_time"])

    person_of: dict[str, str] = {}
    parts: dict[str, dict[str, Any]] = {}
    dues = TimerIndex()

    def record(person: str, learnt: behaviour.Learnt) -> None:
        parts[person] = learnt.parts
        for firing in learnt.firings:
            r = report.rules[firing["rule_id"]]
            r.firings += 1
            r.persons.add(person)
            r.by_trigger[firing["trigger_event"].get("type")] += 1
            r.decisions += sum(1 for a in firing["actions"] if a["type"] == behaviour.DECISION_ACTION)
        for suppressed in learnt.suppressed:
            report.rules[suppressed.rule_id].suppressed[suppressed.reason] += 1
        dues.set(person, behaviour.next_due(learnt.parts, knowledge))

    def tick_until(now: float) -> None:
        """Everything due before ``now`` happens (each timer at its own due time, each session closes at its end)."""
        while due := dues.due(now):
            for person in due:
                record(person, behaviour.on_tick(parts[person], now, knowledge))

    for event in events:
        tick_until(event["event_time"])
        if event.get("user_id") and event.get("anonymous_id"):
            person_of.setdefault(event["anonymous_id"], event["user_id"])
        person = person_of.get(event["key"], event["key"])
        event["person"] = person
        report.events += 1
        report.first_time = report.first_time or event["event_time"]
        report.last_time = event["event_time"]
        if event.get("is_bot"):
            continue
        record(person, behaviour.on_event(parts.get(person) or behaviour.empty_parts(), event, knowledge))
    tick_until(float("inf"))
    report.persons = len(parts)
    return report


def _time_of(message: dict[str, Any]) -> float:
    try:
        return parse_iso(str(message.get("timestamp") or message.get("receivedAt"))).timestamp()
    except ValueError:  # no time, or not a date: normalize refuses a bad one with its reason
        return time.time()


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")
