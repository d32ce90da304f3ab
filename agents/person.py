"""Stage 3, per person: apply events to the profile, link new ids, merge persons (tastemaker/person.py).

    <app_id>-events-by-person (bundles, items keyed by person) ─▶ profiles[person] ─▶ links ─▶ events-by-id
                                                                              ─▶ absorb / forwards ─▶ events-by-person
                                                                              ─▶ interaction records, forget
                                                                                 markers ─▶ interactions

One pass per item over the person's state, one table write per person and bundle, the bundle's writes
written together (tables/batched.py): the pure transition decides, this agent only reads, writes and sends
(what it sends, bundled by destination partition).
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from agents.bundle_io import items_of, send_bundles
from agents.dead_letter import OUTCOMES, send_to_dead_letter
from agents.timers import timer_index
from agents.trending import partition_trending
from app.main import app, settings
from app.rulebook import follower as rules_follower
from app.rulebook import rulebook
from app.topics import events_by_id, events_by_person, interactions, personalization_decisions
from tables.batched import BatchedTable
from tables.profiles import profiles
from tastemaker import behaviour, bundles
from tastemaker import person as persons
from tastemaker.delivery import SourcePosition

log = logging.getLogger(__name__)

_TOPICS = {persons.BY_ID: events_by_id, persons.BY_PERSON: events_by_person}
states = BatchedTable(profiles)


@app.agent(events_by_person)
async def update_persons(stream):
    # Judge nothing before every rule in force is known: a restarted worker must decide what an
    # uninterrupted one would have decided.
    await rules_follower.ready.wait()
    async for record in stream.events():
        message = record.message
        items = await items_of(record)
        if items is None:
            continue
        out = {persons.BY_ID: bundles.BundleWriter(settings.partitions),
               persons.BY_PERSON: bundles.BundleWriter(settings.partitions)}
        # The bundle's outcome per person, written once at the end: a person with several items in the
        # bundle costs one table write (one RocksDB put, one changelog record) instead of one per item.
        written: dict[str, dict | None] = {}  # person -> state to store, or None to delete
        history = bundles.BundleWriter(settings.partitions)  # interaction records and forget markers, in order
        acks = []
        for index, entry in enumerate(items):
            try:
                bundles.check_item(entry, time.time())  # shape, size, depth, field types: or dead-lettered
                person = str(entry["key"])
                body = entry["body"]
                if not person or not isinstance(body, dict):
                    raise ValueError("an item needs a key and an object body")
                here = bundles.position_in_bundle(message.topic, message.partition, message.offset, index, person)
                source = bundles.source_of(entry) or here
                state = written[person] if person in written else states.get(person, message.partition)
                step = _step(state, person, body, source, here, rulebook.knowledge)
            except Exception as exc:  # noqa: BLE001 — a record must never stop the stream: it is dead-lettered
                if not isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
                    log.exception("person item at %s:%s:%s, index %s", message.topic, message.partition, message.offset, index)
                here = bundles.position_in_bundle(message.topic, message.partition, message.offset, index)
                await send_to_dead_letter(bundles.item_bytes(entry), None, f"unreadable person item: {exc!r}"[:200], None,
                                          here)
                continue
            acks += [await personalization_decisions.send(key=person, value=orjson.dumps(decision))
                     for decision in step.decisions]
            if step.delete:
                written[person] = None
            elif step.state is not None:
                written[person] = step.state
            if "applied" in step.outcomes and body.get("kind", "event") == "event":
                partition_trending.add(message.partition, body)
            for key, record in step.history:  # interactions, and forget markers (before the state is deleted)
                history.add(bundles.item(key, record))
            for send in step.sends:
                out[send.to].add(bundles.item(send.key, send.value, send.source))
            OUTCOMES.update(step.outcomes)
        # Decisions are acknowledged before the states that record them are written: the local store keeps
        # a write even when the worker is killed before its changelog record and offsets are sent, and a
        # redelivered event is then skipped as applied. A decision lost in that window would never be sent;
        # sent first, a crash can only repeat it, with the same decision id (subscribers drop repeats).
        # The interaction history likewise: a redelivered event skipped as applied would not add it again,
        # and a forget's markers are in Kafka before the person's state is deleted (a crash in between
        # applies the forget again, with the same markers).
        acks += await send_bundles(interactions, history)
        if acks:
            await asyncio.gather(*acks)
        for person, state in written.items():
            if state is None:
                states.delete(person, message.partition)  # a tombstone on the changelog: a restart does not bring it back
                timer_index.set(person, None)
            else:
                states.set(person, state, message.partition)
                timer_index.set(person, behaviour.next_due(state, rulebook.knowledge))
        await states.write()
        partition_trending.store(message.partition)
        for to, writer in out.items():
            await send_bundles(_TOPICS[to], writer)


def _step(state, person: str, body: dict, source: SourcePosition, here: SourcePosition, knowledge) -> persons.Step:
    kind = body.get("kind", "event")
    if kind == "event":
        return persons.on_event(state, person, body, source, here, settings.max_ids_per_person, knowledge, time.time())
    if kind == "tick":
        return persons.on_tick(state, person, float(body["now"]), knowledge, time.time())
    if kind == "command":
        return persons.on_command(state, person, str(body["command"]), float(body["at"]), here, body.get("args"))
    if kind == "forget_tombstone":
        return persons.on_forget_tombstone(state, str(body["of"]))
    if kind == "merge_into":
        return persons.on_merge_into(state, person, str(body["target"]), here)
    if kind == "absorb":
        return persons.on_absorb(state, person, body, source)
    if kind == "unlink":
        return persons.on_unlink(state, person, str(body["id"]))
    raise ValueError(f"unknown kind {kind!r}")
