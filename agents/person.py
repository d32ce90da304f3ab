"""Stage 3, per person: apply events to the profile, link new ids, merge persons (tastemaker/person.py).

    <app_id>-events-by-person (key: person) ─▶ profiles[person] ─▶ links ─▶ events-by-id
                                                                 ─▶ absorb / forwards ─▶ events-by-person

One pass per record over the person's state, one table write: the pure transition decides, this agent only
reads, writes and sends.
"""

from __future__ import annotations

import orjson

from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app.main import app, settings
from app.topics import events_by_id, events_by_person
from tables.profiles import profiles
from tastemaker import person as persons
from tastemaker.delivery import SourcePosition

_TOPICS = {persons.BY_ID: events_by_id, persons.BY_PERSON: events_by_person}


@app.agent(events_by_person)
async def update_persons(stream):
    async for record in stream.events():
        message = record.message
        try:
            person = record.key.decode() if isinstance(record.key, bytes) else record.key
            body = orjson.loads(record.value)
            if not person or not isinstance(body, dict):
                raise ValueError("not a JSON object with a key")
            here = SourcePosition(message.topic, message.partition, message.offset, person)
            source = SourcePosition.from_headers(record.headers) or here
            state = profiles.get(person)
            kind = body.get("kind", "event")
            if kind == "event":
                step = persons.on_event(state, person, body, source, here, settings.max_ids_per_person)
            elif kind == "merge_into":
                step = persons.on_merge_into(state, person, str(body["target"]), here)
            elif kind == "absorb":
                step = persons.on_absorb(state, person, body, source)
            elif kind == "unlink":
                step = persons.on_unlink(state, person, str(body["id"]))
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            position = SourcePosition(message.topic, message.partition, message.offset)
            await send_to_dead_letter(record.value, None, f"unreadable person record: {exc}"[:200], None, position)
            continue
        if step.state is not None:
            profiles[person] = step.state
        for send in step.sends:
            await _TOPICS[send.to].send(key=send.key, value=orjson.dumps(send.value), headers=send.source.headers())
        OUTCOMES.update(step.outcomes)
