"""The agent of stages 2 and 3: one Faust agent reads both internal topics, one bundle record at a time.

    <app_id>-events-by-id ──────┐                 ┌─ identity stage (agents/identity.py resolve), whose items
                                ├─ stream_core ───┤  for a raw id that is its own person alone go on to the
    <app_id>-events-by-person ──┘  (one actor)    │  person stage in the same pass
                                                  └─ person stage (agents/person.py PersonBatch)

Both topics and the tables of both stages are co-partitioned (Faust assigns partition n of each to the
same worker), so one actor over both keeps every person's records applied one at a time, whichever topic
brought them: the person stage's table writes of a bundle can never interleave with another bundle's.
Person records wait until every rule in force is known: a restarted worker must decide what an
uninterrupted one would have decided.
"""

from __future__ import annotations

from agents import identity
from agents.bundle_io import items_of
from agents.person import PersonBatch
from app.main import app
from app.rulebook import follower as rules_follower
from app.topics import events_by_id, events_by_person

BY_ID = events_by_id.get_topic_name()
inputs = app.topic(BY_ID, events_by_person.get_topic_name(), key_type=bytes, value_serializer="raw")


@app.agent(inputs)
async def stream_core(stream):
    await rules_follower.ready.wait()
    async for record in stream.events():
        items = await items_of(record)
        if items is None:
            continue
        persons = PersonBatch(record.message)
        if record.message.topic == BY_ID:
            await identity.resolve(record.message, items, persons)
            continue
        for index, entry in enumerate(items):
            await persons.apply_entry(entry, index)
        await persons.finish()
