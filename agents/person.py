"""Stage 3, per person: apply records to the person's state, link new ids, merge persons (tastemaker/person.py).

    <app_id>-events-by-person (bundles, items keyed by person) ─▶ PersonBatch ─▶ profiles[person]
    the identity stage's own items, for a raw id that is its   ─┘     ├─▶ links ─▶ events-by-id
    own person alone (agents/identity.py, ``applies_here``)           ├─▶ absorb / forwards ─▶ events-by-person
                                                                      └─▶ interaction records, forget markers
                                                                          ─▶ interactions; decisions

A ``PersonBatch`` is the person stage's work on one batch of bundle records (the records the stream core
finds waiting, agents/stream_core.py): one pass per item over the person's state (``apply``), each record's
sends kept in order (``end_record``), then the batch's outcome (``finish``): decisions and history
acknowledged by Kafka, then one table write per person, the batch's writes written together
(tables/batched.py), then what the items send on, record by record as they were applied. The pure
transition decides; this only reads, writes and sends. Both internal topics are read by one agent, so a
person's records are applied one at a time whichever topic brought them.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from agents.bundle_io import send_bundles
from agents.dead_letter import OUTCOMES, send_to_dead_letter
from agents.timers import timer_index
from agents.trending import partition_trending
from app.main import app, settings
from app.rulebook import rulebook
from app.topics import events_by_id, events_by_person, interactions, personalization_decisions
from tables.batched import BatchedTable
from tables.profiles import profiles
from tastemaker import behaviour, bundles
from tastemaker import person as persons
from tastemaker.delivery import SourcePosition

log = logging.getLogger(__name__)

_TOPICS = {persons.BY_ID: events_by_id, persons.BY_PERSON: events_by_person}
# ~10,000 persons active within the last minutes are read again without decoding (a state is a few KB).
states = BatchedTable(profiles, recent=10_000)
DECISIONS = personalization_decisions.get_topic_name()


@app.on_partitions_assigned.connect
async def _on_assigned(sender, assigned, **kwargs) -> None:
    states.forget()


class PersonBatch:
    """The person stage's work on one batch of bundle records, of either topic (``begin_record`` names each)."""

    def __init__(self) -> None:
        self.message = None  # the Kafka message of the record being applied
        self.out: dict[str, bundles.BundleWriter] = {}
        # The batch's outcome per person, written once at the end: a person with several items in the
        # batch costs one table write (one RocksDB put, one changelog record) instead of one per item.
        self.written: dict[str, tuple[int, dict | None]] = {}  # person -> (partition, state to store or None)
        self.history = bundles.BundleWriter(settings.partitions)  # interaction records and forget markers, in order
        self.acks: list = []
        self.sends: list[tuple] = []  # (topic, writer), in the order the records were applied

    def begin_record(self, message) -> None:
        """The items that follow come from the bundle record ``message`` (its Kafka message)."""
        self.message = message
        self.out = {persons.BY_ID: bundles.BundleWriter(settings.partitions),
                    persons.BY_PERSON: bundles.BundleWriter(settings.partitions)}

    def end_record(self, forwarded: bundles.BundleWriter | None = None) -> None:
        """The record is applied: its sends (then ``forwarded``, the identity stage's) go out after the
        batch's writes, in this order; its partition's trending partial is stored while the record is the
        agent's current event (so the write lands in that partition's changelog)."""
        self.sends += [(_TOPICS[persons.BY_ID], self.out[persons.BY_ID]),
                       (_TOPICS[persons.BY_PERSON], self.out[persons.BY_PERSON])]
        if forwarded is not None:
            self.sends.append((events_by_person, forwarded))
        partition_trending.store(self.message.partition)

    def state_of(self, person: str, partition: int) -> dict | None:
        """The person's state as this batch left it so far (``partition``: where the person lives)."""
        written = self.written.get(person)
        return written[1] if written is not None else states.get(person, partition)

    async def apply_entry(self, entry: dict, index: int) -> None:
        """An item of an ``events_by_person`` bundle: checked, then applied; dead-lettered if it cannot be."""
        message = self.message
        try:
            bundles.check_item(entry, time.time())  # shape, size, depth, field types: or dead-lettered
            person = str(entry["key"])
            body = entry["body"]
            if not person or not isinstance(body, dict):
                raise ValueError("an item needs a key and an object body")
            here = bundles.position_in_bundle(message.topic, message.partition, message.offset, index, person)
            step = _step(self.state_of(person, message.partition), person, body, bundles.source_of(entry) or here,
                         here)
        except Exception as exc:  # noqa: BLE001 — a record must never stop the stream: it is dead-lettered
            await self._refuse(entry, index, exc)
            return
        await self._record(person, body, step)

    async def apply(self, entry: dict, index: int, person: str, body: dict, source: SourcePosition,
                    here: SourcePosition) -> None:
        """An item the identity stage has checked and resolved to ``person``, whose state lives here."""
        try:
            step = _step(self.state_of(person, here.partition), person, body, source, here)
        except Exception as exc:  # noqa: BLE001 — a record must never stop the stream: it is dead-lettered
            await self._refuse(entry, index, exc)
            return
        await self._record(person, body, step)

    async def _refuse(self, entry: dict, index: int, exc: Exception) -> None:
        message = self.message
        if not isinstance(exc, (ValueError, TypeError, KeyError, AttributeError)):
            log.exception("person item at %s:%s:%s, index %s", message.topic, message.partition, message.offset, index)
        here = bundles.position_in_bundle(message.topic, message.partition, message.offset, index)
        await send_to_dead_letter(bundles.item_bytes(entry), None, f"unreadable person item: {exc!r}"[:200], None,
                                  here)

    async def _record(self, person: str, body: dict, step: persons.Step) -> None:
        # Straight to Faust's producer (as the collector sends): one decision, one record, no FutureMessage.
        self.acks += [await app.producer.send(DECISIONS, person.encode(), orjson.dumps(decision), None, None, None)
                      for decision in step.decisions]
        partition = self.message.partition
        if step.delete:
            self.written[person] = (partition, None)
        elif step.state is not None:
            self.written[person] = (partition, step.state)
        if "applied" in step.outcomes and body.get("kind", "event") == "event":
            partition_trending.add(partition, body)
        for key, record in step.history:  # interactions, and forget markers (before the state is deleted)
            self.history.add(bundles.item(key, record))
        for send in step.sends:
            self.out[send.to].add(bundles.item(send.key, send.value, send.source))
        OUTCOMES.update(step.outcomes)

    async def finish(self) -> None:
        # Decisions are acknowledged before the states that record them are written: the local store keeps
        # a write even when the worker is killed before its changelog record and offsets are sent, and a
        # redelivered event is then skipped as applied. A decision lost in that window would never be sent;
        # sent first, a crash can only repeat it, with the same decision id (subscribers drop repeats).
        # The interaction history likewise: a redelivered event skipped as applied would not add it again,
        # and a forget's markers are in Kafka before the person's state is deleted (a crash in between
        # applies the forget again, with the same markers).
        acks = self.acks + await send_bundles(interactions, self.history)
        if acks:
            await asyncio.gather(*acks)
        for person, (partition, state) in self.written.items():
            if state is None:
                states.delete(person, partition)  # a tombstone on the changelog: a restart does not bring it back
                timer_index.set(person, None)
            else:
                states.set(person, state, partition)
                timer_index.set(person, behaviour.next_due(state, rulebook.knowledge))
        await states.write()
        for topic, writer in self.sends:
            await send_bundles(topic, writer)


def _step(state, person: str, body: dict, source: SourcePosition, here: SourcePosition) -> persons.Step:
    return persons.on_record(state, person, body, source, here, settings.max_ids_per_person, rulebook.knowledge,
                             time.time())
