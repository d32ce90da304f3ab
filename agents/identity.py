"""Stage 2, per raw id: drop duplicates, flag scripted rates, resolve the id's person, re-key by person.

    <app_id>-events-by-id (key: raw id)
       event ─▶ dedup (seen_messages) ─▶ rate check ─▶ person_of(identities[id]) ─▶ events-by-person (key: person)
       link  ─▶ identities[id] = person ─▶ merge_into / unlink ─────────────────────▶ events-by-person

Links come from the person stage (tastemaker/identity.py tells the whole protocol). Records this stage
forwards keep their input position and gain the raw id (``tm-via``), the unit of exactly-once in the person
stage (tastemaker/delivery.py); this stage itself only keeps idempotent state.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app.main import app, settings
from app.topics import events_by_id, events_by_person
from tables.identities import identities
from tables.seen_messages import seen_messages
from tastemaker import dedup
from tastemaker.delivery import SourcePosition
from tastemaker.identity import RateMeter, on_link, person_of

rates = RateMeter(settings.bot_events_per_minute)


@app.agent(events_by_id)
async def resolve_identities(stream):
    async for record in stream.events():
        message = record.message
        here = SourcePosition(message.topic, message.partition, message.offset)
        try:
            raw_id = record.key.decode() if isinstance(record.key, bytes) else record.key
            body = orjson.loads(record.value)
            if not raw_id or not isinstance(body, dict):
                raise ValueError("not a JSON object with a key")
            kind = body.get("kind", "event")
            if kind == "link":
                await _link(raw_id, str(body["person"]), replace(here, via=raw_id))
                continue
            if kind != "event":
                raise ValueError(f"unknown kind {kind!r}")
            source = replace(SourcePosition.from_headers(record.headers) or here, via=raw_id)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:  # orjson errors are ValueErrors
            await send_to_dead_letter(record.value, None, f"unreadable re-keyed record: {exc}"[:200], None, here)
            continue
        key = dedup.dedup_key({"source": body.get("source"), "messageId": body.get("event_id")})
        if key is not None:
            at = message.timestamp  # the broker's time of the re-keyed record: replays judge alike
            verdict = dedup.classify(seen_messages.get(key), source, at, settings.dedup_window)
            if verdict is dedup.Verdict.DUPLICATE:
                OUTCOMES["duplicate"] += 1
                continue
            if verdict is dedup.Verdict.NEW:
                seen_messages[key] = dedup.mark(source, at)
        if rates.too_fast(raw_id, body.get("received_at") or message.timestamp) and not body.get("is_bot"):
            body["is_bot"], body["bot_reason"] = True, "rate"
        body["person"] = person = person_of(identities.get(raw_id), raw_id)
        await events_by_person.send(key=person, value=orjson.dumps(body), headers=source.headers())


async def _link(raw_id: str, person: str, here: SourcePosition) -> None:
    step = on_link(identities.get(raw_id), raw_id, person)
    if step.state is not None:
        identities[raw_id] = step.state
    for key, command in step.commands:
        await events_by_person.send(key=key, value=orjson.dumps(command), headers=here.headers())
    if step.outcome:
        OUTCOMES[step.outcome] += 1
