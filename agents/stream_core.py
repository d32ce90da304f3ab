"""The agent of stages 2 and 3: one Faust agent reads both internal topics, in batches of the records waiting.

    <app_id>-events-by-id ──────┐                 ┌─ identity stage (agents/identity.py resolve), whose items
                                ├─ stream_core ───┤  for a raw id that is its own person alone go on to the
    <app_id>-events-by-person ──┘  (one actor)    │  person stage in the same pass
                                                  └─ person stage (agents/person.py PersonBatch)

Both topics and the tables of both stages are co-partitioned (Faust assigns partition n of each to the
same worker), so one actor over both keeps every person's records applied one at a time, whichever topic
brought them: the person stage's table writes of a batch can never interleave with another batch's.
Person records wait until every rule in force is known: a restarted worker must decide what an
uninterrupted one would have decided.

A batch is the records already waiting in the agent's queue when one is applied (at most ``MAX_BATCH``):
applied one by one, then finished together (tables written, decisions and history acknowledged by Kafka,
bundles sent on), then acknowledged to Faust, so no offset is committed before its batch is written. Live,
a batch is usually one record and nothing waits for a fuller one; behind, a batch pays one wait for
Kafka's acknowledgements, one RocksDB write batch per partition and one persisted offset for many records
(measured at 1,000 events/s with a decision per event: ~40% of the agent's time went to waiting for the
acknowledgements of each record's decisions, bench/decision_latency.py).
"""

from __future__ import annotations

from agents import identity
from agents.bundle_io import items_of
from agents.person import PersonBatch
from app.main import app
from app.rulebook import follower as rules_follower
from app.topics import events_by_id, events_by_person

BY_ID = events_by_id.get_topic_name()
MAX_BATCH = 100  # records; bundles hold up to bundles.MAX_ITEMS items each
inputs = app.topic(BY_ID, events_by_person.get_topic_name(), key_type=bytes, value_serializer="raw")


@app.agent(inputs)
async def stream_core(stream):
    await rules_follower.ready.wait()
    stream = stream.noack()  # acknowledged once the record's batch is finished
    waiting = stream.channel.queue
    persons, applied = PersonBatch(), []
    async for record in stream.events():
        items = await items_of(record)
        if items is not None:
            persons.begin_record(record.message)
            if record.message.topic == BY_ID:
                await identity.resolve(record.message, items, persons)
            else:
                for index, entry in enumerate(items):
                    await persons.apply_entry(entry, index)
                persons.end_record()
        applied.append(record)
        if len(applied) < MAX_BATCH and waiting.qsize():
            continue
        await identity.write()
        await persons.finish()
        for done in applied:
            await stream.ack(done)
        persons, applied = PersonBatch(), []
