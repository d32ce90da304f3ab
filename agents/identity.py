"""Stage 2, per raw id: drop duplicates, flag scripted rates, resolve the id's person, re-key by person.

    <app_id>-events-by-id (bundles of items keyed by raw id: tastemaker/bundles.py)
       event ─▶ dedup (seen_messages) ─▶ rate check ─▶ person_of(identities[id]) ─┬─▶ events-by-person (bundles,
       command ─────────────────────────────────────▶ person_of(identities[id]) ─┤    items keyed by person)
       link  ─▶ identities[id] = person ─▶ merge_into / unlink ───────────────────┘
                                                   a raw id that is its own person alone ─▶ the person stage,
                                                   in the same pass (agents/person.py PersonBatch.apply)

Links come from the person stage (tastemaker/identity.py tells the whole protocol). Items this stage
forwards keep their input position and gain the raw id (``via``), the unit of exactly-once in the person
stage (tastemaker/delivery.py); this stage itself only keeps idempotent state.

Most raw ids are their own person and nobody else's (an anonymous visitor who never logs in): their
person's state lives in this very partition (the profiles table is co-partitioned with both internal
topics), and no other record about that person can be on its way through ``events-by-person`` (only a
person with other ids receives their events, absorbs and unlinks: ``applies_here``). Their events and
commands are applied to the person here, in the order of this topic, with the positions the person stage
would have given them: a record is applied once whichever way it went, and a person whose state gains
another id has all later records routed through ``events-by-person`` again.

No record stops the stage: a record that is not a bundle is dead-lettered whole (agents/bundle_io.py), an
item that fails ``bundles.check_item`` or whatever it triggers is dead-lettered alone, with its position,
and the rest of the bundle goes on. The table writes of the batch of records the stream core applies
together (agents/stream_core.py) are written at its end (tables/batched.py, ``write``), before the bundles
they led to are sent.
"""

from __future__ import annotations

import time
from typing import Any

from agents.dead_letter import OUTCOMES, send_to_dead_letter
from agents.person import PersonBatch
from app.main import settings
from tables.batched import BatchedTable
from tables.identities import identities
from tables.seen_messages import seen_messages
from tastemaker import bundles, dedup
from tastemaker.delivery import SourcePosition
from tastemaker.identity import RateMeter, on_link, person_of
from tastemaker.partitioning import partition_for

rates = RateMeter(settings.bot_events_per_minute)
links = BatchedTable(identities)
marks = BatchedTable(seen_messages)

# An item the person stage applies in this pass: (person, body, source, the person stage's own position).
Local = tuple[str, dict, SourcePosition, SourcePosition]


async def resolve(message, items: list[dict[str, Any]], persons: PersonBatch) -> None:
    """The items of one ``events_by_id`` bundle record: resolved, and applied here or forwarded (sent in
    order with the batch's other sends, after ``write``)."""
    out = bundles.BundleWriter(settings.partitions)
    now = time.time()
    for index, entry in enumerate(items):
        here = bundles.position_in_bundle(message.topic, message.partition, message.offset, index)
        try:
            local = _resolve(entry, here, message.timestamp, now, out, persons)
        except Exception as exc:  # noqa: BLE001 — a record must never stop the stream: it is dead-lettered
            await send_to_dead_letter(bundles.item_bytes(entry), None, f"unreadable bundle item: {exc!r}"[:200],
                                      None, here)
            continue
        if local is not None:
            await persons.apply(entry, index, *local)
    persons.end_record(out)


async def write() -> None:
    """Write the links and dedup marks the batch's records staged (before the person stage's ``finish``)."""
    await links.write()
    await marks.write()


def applies_here(person: str, raw_id: str, partition: int, state: dict | None) -> bool:
    """Whether the person stage may apply the raw id's record in this pass: the id is its own person, that
    person lives in this partition, and has no other id (nor was merged into another person)."""
    return (person == raw_id and partition_for(person.encode(), settings.partitions) == partition
            and (state is None or (not state["merged_into"] and state["ids"] == [person])))


def _resolve(entry: dict, here: SourcePosition, at: float, now: float, out: bundles.BundleWriter,
             persons: PersonBatch) -> Local | None:
    bundles.check_item(entry, now)
    raw_id, body = entry["key"], entry["body"]
    partition = here.partition
    kind = body.get("kind", "event")
    if kind == "link":
        _link(raw_id, str(body["person"]), here.with_via(raw_id), out)
        return None
    if kind == "command":  # about the person this id belongs to (tastemaker/person.py, on_command)
        person = person_of(links.get(raw_id, partition), raw_id)
        if applies_here(person, raw_id, partition, persons.state_of(person, partition)):
            return person, body, here, here.with_via(person)
        out.add(bundles.item(person, body, here))
        return None
    if kind == "forget_id":
        if person_of(links.get(raw_id, partition), raw_id) == body["of"]:
            links.delete(raw_id, partition)
        return None
    if kind != "event":
        raise ValueError(f"unknown kind {kind!r}")
    source = (bundles.source_of(entry) or here).with_via(raw_id)
    key = dedup.dedup_key({"source": body.get("source"), "messageId": body.get("event_id")})
    if key is not None:
        # ``at``: the broker's time of the bundle, so that a re-delivery is judged alike.
        verdict = dedup.classify(marks.get(key, partition), source, at, settings.dedup_window)
        if verdict is dedup.Verdict.DUPLICATE:
            OUTCOMES["duplicate"] += 1
            return None
        if verdict is dedup.Verdict.NEW:
            marks.set(key, dedup.mark(source, at), partition)
    if rates.too_fast(raw_id, body.get("received_at") or at) and not body.get("is_bot"):
        body["is_bot"], body["bot_reason"] = True, "rate"
    body["person"] = person = person_of(links.get(raw_id, partition), raw_id)
    if applies_here(person, raw_id, partition, persons.state_of(person, partition)):
        return person, body, source, here.with_via(person)
    out.add(bundles.item(person, body, source))
    return None


def _link(raw_id: str, person: str, here: SourcePosition, out: bundles.BundleWriter) -> None:
    step = on_link(links.get(raw_id, here.partition), raw_id, person)
    if step.state is not None:
        links.set(raw_id, step.state, here.partition)
    for key, command in step.commands:
        out.add(bundles.item(key, command, here))
    if step.outcome:
        OUTCOMES[step.outcome] += 1
